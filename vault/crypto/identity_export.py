"""A portable identity: one group's private keys, sealed under a passphrase to move devices.

It is a keystore file (:mod:`vault.crypto.keystore`: Argon2id + XChaCha20-Poly1305, the
same format and the same minimum cost) whose contents hold exactly these entries::

    "vault/identity"   the private identity (Tag.PRIVATE_IDENTITY encoding)
    "vault/group"      the 32-byte group id
    "vault/relay"      the relay URL, UTF-8 (normalised as in invites)

Epoch keys are not exported: the new device fetches its own grants from the relay.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from vault.crypto.errors import InviteUriError, KeystoreCorruptError, MalformedError
from vault.crypto.identity import Identity
from vault.crypto.invites import normalize_relay_url
from vault.crypto.keystore import KdfParams, KeystoreContents, open_keystore, seal_keystore
from vault.crypto.primitives import HASH_SIZE, RandomSource, default_random

IDENTITY_ENTRY: Final = "vault/identity"
GROUP_ENTRY: Final = "vault/group"
RELAY_ENTRY: Final = "vault/relay"
_DEFAULT_PARAMS: Final = KdfParams()


@dataclass(frozen=True, repr=False)
class ExportedIdentity:
    identity: Identity
    group_id: bytes
    relay_url: str

    def __repr__(self) -> str:
        return f"ExportedIdentity(relay_url={self.relay_url!r}, identity={self.identity!r})"


def export_identity(
    exported: ExportedIdentity,
    passphrase: str,
    *,
    params: KdfParams = _DEFAULT_PARAMS,
    random: RandomSource = default_random,
) -> bytes:
    """Seal one group's identity under *passphrase* (a keystore file's bytes)."""
    contents = KeystoreContents((
        (IDENTITY_ENTRY, exported.identity.encode_private()),
        (GROUP_ENTRY, exported.group_id),
        (RELAY_ENTRY, normalize_relay_url(exported.relay_url).encode("utf-8")),
    ))
    return seal_keystore(contents, passphrase, params=params, random=random)


def import_identity(data: bytes, passphrase: str) -> ExportedIdentity:
    """Open an exported identity (keystore errors as :func:`open_keystore` raises them)."""
    contents = open_keystore(data, passphrase)
    raw_identity = contents.get(IDENTITY_ENTRY)
    group_id = contents.get(GROUP_ENTRY)
    relay = contents.get(RELAY_ENTRY)
    if raw_identity is None or group_id is None or relay is None or len(group_id) != HASH_SIZE:
        raise KeystoreCorruptError("this keystore file is not an exported Vault identity")
    try:
        identity = Identity.decode_private(raw_identity)
        relay_url = normalize_relay_url(relay.decode("utf-8"))
    except (MalformedError, InviteUriError, UnicodeDecodeError):
        raise KeystoreCorruptError("the exported identity is damaged") from None
    return ExportedIdentity(identity, group_id, relay_url)
