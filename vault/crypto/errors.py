"""One error hierarchy for the whole protocol.

Every error has a stable machine-readable ``code`` (the relay serialises it as JSON
and the SDK rebuilds the same class from it) and a message a person can act on.
Messages never contain key material, plaintext or passphrases.
"""

from __future__ import annotations

from typing import ClassVar


class VaultError(Exception):
    """Root of every error Vault raises on purpose."""

    code: ClassVar[str] = "vault_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# --- bytes on the wire -------------------------------------------------------------------


class MalformedError(VaultError):
    """Bytes or text that do not decode as the object they claim to be."""

    code = "malformed"


# --- signatures and decryption (deliberately opaque) --------------------------------------


class SignatureError(VaultError):
    """A signature does not verify under the key it claims."""

    code = "bad_signature"


class DecryptionError(VaultError):
    """Ciphertext could not be opened. One error for every cause: no oracle."""

    code = "decryption_failed"

    def __init__(self, message: str = "could not decrypt: the data was altered, "
                 "or it was not encrypted for this key") -> None:
        super().__init__(message)


# --- keystore ---------------------------------------------------------------------------


class KeystoreError(VaultError):
    code = "keystore_error"


class KeystoreCorruptError(KeystoreError):
    """The keystore file is truncated or is not a Vault keystore at all."""

    code = "keystore_corrupt"


class KeystoreLockedError(KeystoreError):
    """Wrong passphrase, or the encrypted part of the file was altered."""

    code = "keystore_wrong_passphrase"


class WeakKdfParametersError(KeystoreError):
    """Argon2id parameters below the minimum this version accepts."""

    code = "keystore_weak_parameters"


# --- membership log ---------------------------------------------------------------------


class LogError(VaultError):
    """A membership-log entry or chain is not valid."""

    code = "log_invalid"


class ChainBrokenError(LogError):
    """An entry's predecessor hash, sequence number or group id does not match the chain."""

    code = "log_chain_broken"


class GroupIdMismatchError(LogError):
    """The genesis entry does not hash to the group id the client expected."""

    code = "log_group_id_mismatch"


class UnauthorizedEntryError(LogError):
    """The author of an entry did not have the right to make it at that point."""

    code = "log_unauthorized"


class InvalidEntryError(LogError):
    """An entry is well-formed bytes but breaks a rule (unknown member, bad epoch, ...)."""

    code = "log_entry_invalid"


class RollbackError(LogError):
    """The relay served a log shorter than one this client already verified."""

    code = "log_rollback"


class ForkError(LogError):
    """Two different entries exist at one sequence number: someone was shown another log."""

    code = "log_fork"


# --- epoch keys -------------------------------------------------------------------------


class GrantError(VaultError):
    """An epoch-key grant is not valid for this member, group or epoch."""

    code = "grant_invalid"


class EpochKeyMissingError(VaultError):
    """This member holds no key for the epoch a ciphertext was made in."""

    code = "epoch_key_missing"


# --- posts ------------------------------------------------------------------------------


class PostError(VaultError):
    """A post envelope or body breaks a rule after decryption."""

    code = "post_invalid"


class NotAMemberError(VaultError):
    """The key that signed or asked for something is not a member of the group."""

    code = "not_a_member"


class EquivocationError(PostError):
    """One author published two different posts under one post id or sequence number."""

    code = "post_equivocation"


class TooLargeError(VaultError):
    """Content larger than the protocol allows."""

    code = "too_large"


# --- invites ----------------------------------------------------------------------------


class InviteError(VaultError):
    code = "invite_invalid"


class InviteUriError(InviteError):
    """The text scanned from a QR code or pasted is not a valid Vault invite."""

    code = "invite_uri_invalid"


class InviteExpiredError(InviteError):
    code = "invite_expired"


class InviteExhaustedError(InviteError):
    code = "invite_exhausted"


class InviteRevokedError(InviteError):
    code = "invite_revoked"


class UnknownInviteError(InviteError):
    code = "invite_unknown"


def all_error_classes() -> dict[str, type[VaultError]]:
    """Map every stable code to its class, so a transport can rebuild typed errors."""
    found: dict[str, type[VaultError]] = {}
    pending: list[type[VaultError]] = [VaultError]
    while pending:
        cls = pending.pop()
        found[cls.code] = cls
        pending.extend(cls.__subclasses__())
    return found
