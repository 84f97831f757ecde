"""Identities: an Ed25519 signing key plus an X25519 box key bound to it by signature.

By default a person uses a fresh identity per group, so the relay cannot link one
person's memberships across groups. The *fingerprint* of an identity commits to both
public keys; people compare *safety numbers* (see :mod:`vault.crypto.safety`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import nacl.bindings

from vault.crypto import labels
from vault.crypto.encoding import Reader, Tag, Writer
from vault.crypto.primitives import (
    PUBLIC_KEY_SIZE,
    SIGNATURE_SIZE,
    RandomSource,
    default_random,
    draw,
    labelled_hash,
    sign,
    verify,
)

SEED_SIZE = 32


def _binding_message(sign_pk: bytes, box_pk: bytes) -> bytes:
    return sign_pk + box_pk


@dataclass(frozen=True)
class PublicIdentity:
    """A member's public keys, as they appear in the log and in grants.

    Wire form (``Tag.PUBLIC_IDENTITY``): ``sign_pk[32] || box_pk[32] || binding_sig[64]``
    where ``binding_sig = Sign(sign_sk, "vault/v1/identity-binding", sign_pk || box_pk)``.
    """

    sign_pk: bytes
    box_pk: bytes
    binding_sig: bytes

    ENCODED_SIZE = 2 + PUBLIC_KEY_SIZE * 2 + SIGNATURE_SIZE

    def encode(self) -> bytes:
        return self._encoded

    @cached_property
    def _encoded(self) -> bytes:
        return (
            Writer(Tag.PUBLIC_IDENTITY)
            .fixed(self.sign_pk, PUBLIC_KEY_SIZE)
            .fixed(self.box_pk, PUBLIC_KEY_SIZE)
            .fixed(self.binding_sig, SIGNATURE_SIZE)
            .finish()
        )

    @classmethod
    def decode(cls, data: bytes) -> PublicIdentity:
        """Decode, then check the binding signature (a swapped box key is rejected here).

        Structure first (``malformed``: tag, version, length, trailing bytes), then the
        binding (``bad_signature``): the decoding order of protocol §1.1.
        """
        reader = Reader(data, "public identity", Tag.PUBLIC_IDENTITY)
        identity = cls.read_unchecked(reader)
        reader.done()
        identity.check_binding()
        return identity

    @classmethod
    def read_unchecked(cls, reader: Reader) -> PublicIdentity:
        """Read the three fields (after the header) *without* checking the binding: the
        caller checks it with :meth:`check_binding` once its own structure is complete."""
        sign_pk = reader.fixed(PUBLIC_KEY_SIZE, "signing key")
        box_pk = reader.fixed(PUBLIC_KEY_SIZE, "box key")
        binding_sig = reader.fixed(SIGNATURE_SIZE, "binding signature")
        return cls(sign_pk, box_pk, binding_sig)

    def check_binding(self) -> None:
        verify(
            self.sign_pk,
            labels.IDENTITY_BINDING,
            _binding_message(self.sign_pk, self.box_pk),
            self.binding_sig,
            "identity binding",
        )

    @cached_property
    def fingerprint(self) -> bytes:
        """32-byte fingerprint committing to both public keys."""
        return labelled_hash(labels.FINGERPRINT, self.sign_pk + self.box_pk)

    def short_fingerprint(self) -> str:
        """First 8 bytes of the fingerprint as hex groups, for display (not for verifying)."""
        hexed = self.fingerprint[:8].hex()
        return " ".join(hexed[i : i + 4] for i in range(0, len(hexed), 4))


@dataclass(frozen=True, repr=False)
class Identity:
    """A member's private keys for one group. ``repr`` never shows key material."""

    sign_seed: bytes = field(repr=False)
    box_sk: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.sign_seed) != SEED_SIZE or len(self.box_sk) != SEED_SIZE:
            raise ValueError("identity seeds are 32 bytes each")

    @classmethod
    def generate(cls, random: RandomSource = default_random) -> Identity:
        return cls(draw(random, SEED_SIZE), draw(random, SEED_SIZE))

    @cached_property
    def sign_sk(self) -> bytes:
        """libsodium's 64-byte Ed25519 secret key."""
        _pk, sk = nacl.bindings.crypto_sign_seed_keypair(self.sign_seed)
        result: bytes = sk
        return result

    @cached_property
    def public(self) -> PublicIdentity:
        sign_pk = self.sign_sk[32:]
        box_pk: bytes = nacl.bindings.crypto_scalarmult_base(self.box_sk)
        sig = sign(self.sign_sk, labels.IDENTITY_BINDING, _binding_message(sign_pk, box_pk))
        return PublicIdentity(sign_pk, box_pk, sig)

    @property
    def sign_pk(self) -> bytes:
        return self.public.sign_pk

    def sign(self, label: bytes, message: bytes) -> bytes:
        return sign(self.sign_sk, label, message)

    def encode_private(self) -> bytes:
        """Wire form ``Tag.PRIVATE_IDENTITY``: ``sign_seed[32] || box_sk[32]``.

        Only ever stored inside an encrypted keystore.
        """
        return (
            Writer(Tag.PRIVATE_IDENTITY)
            .fixed(self.sign_seed, SEED_SIZE)
            .fixed(self.box_sk, SEED_SIZE)
            .finish()
        )

    @classmethod
    def decode_private(cls, data: bytes) -> Identity:
        reader = Reader(data, "private identity", Tag.PRIVATE_IDENTITY)
        seed = reader.fixed(SEED_SIZE, "signing seed")
        box_sk = reader.fixed(SEED_SIZE, "box key")
        reader.done()
        return cls(seed, box_sk)

    def __repr__(self) -> str:
        return f"Identity(fingerprint={self.public.short_fingerprint()!r})"
