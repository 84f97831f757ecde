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


class KeystoreMissingError(KeystoreCorruptError):
    """There is no keystore file where one was expected (a kind of corrupt: nothing to open)."""

    code = "keystore_missing"


class RecoveryPhraseError(KeystoreError):
    """Words that are not a recovery phrase: not twelve, a word not on the list, or a
    checksum that does not match (a mistyped or swapped word). Checked before any costly
    work; a valid phrase that is not this backup's is :class:`KeystoreLockedError`."""

    code = "recovery_phrase_invalid"

    def __init__(self, message: str, *, unknown_word: int | None = None,
                 words_given: int | None = None) -> None:
        super().__init__(message)
        self.unknown_word = unknown_word
        """The position (from 1) of the first word not on the list, where that is why."""
        self.words_given = words_given
        """How many words were typed, where their number is why."""


class PassphraseRejectedError(KeystoreError):
    """A passphrase this version refuses to seal a keystore under (for example, an empty one)."""

    code = "keystore_passphrase_rejected"


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


class DeletionUnprovenError(LogError):
    """The relay says a group was deleted, but what it shows is not an owner's signed
    DELETE_GROUP entry that fits the log this device verified."""

    code = "deletion_unproven"


# --- epoch keys -------------------------------------------------------------------------


class GrantError(VaultError):
    """An epoch-key grant is not valid for this member, group or epoch."""

    code = "grant_invalid"


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


class EpochStaleError(VaultError):
    """This device is about to write in an epoch that is not the log's current one: sync
    the log (and fetch the current epoch key) before posting."""

    code = "epoch_stale"


class RotationPendingError(VaultError):
    """A member left and no admin has started the next epoch yet: the current epoch key is
    still held by the member who left, so nothing new may be written under it."""

    code = "rotation_pending"


class TooLargeError(VaultError):
    """Content larger than the protocol allows."""

    code = "too_large"


class UnknownLogHeadError(PostError):
    """A post names a log head this device does not have at that sequence number.

    The author saw a membership log this device has not: either this device is behind
    (sync the log and retry) or someone was shown a different log (a possible fork).
    """

    code = "log_head_unknown"


class AttachmentMismatchError(PostError):
    """The blob the relay served is not the one the attachment's digest and size name."""

    code = "attachment_mismatch"


class MetadataError(VaultError):
    """Encrypted group metadata or a member profile breaks a rule after decryption."""

    code = "metadata_invalid"


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


class RulesCardError(InviteError):
    """An invite's rules card that is not the group's: it does not open with the invite's
    secret, is not this invite's, or is not signed by a current admin."""

    code = "rules_card_invalid"


class RulesCardStaleError(RulesCardError):
    """The card describes metadata the group has since changed (or the joiner accepted
    rules that are no longer the group's)."""

    code = "rules_card_stale"


class InboxError(VaultError):
    """An item of the moderators' inbox that does not open or breaks a rule (protocol §8.8):
    not sealed to exactly the moderators of its time, not signed by its sender, not a member's,
    or damaged. One error for every cause after it was found addressed to this device."""

    code = "inbox_invalid"


class InboxNotForYouError(InboxError):
    """An item of the moderators' inbox that is not addressed to this member (a relay served
    it to someone who is not a moderator, or not its sender)."""

    code = "inbox_not_for_you"


def all_error_classes() -> dict[str, type[VaultError]]:
    """Map every stable code to its class, so a transport can rebuild typed errors.

    The protocol's codes: the classes defined in this module, whatever else has been
    imported (a subclass defined elsewhere is not a protocol code). The SDK's own errors
    (raised on a member's device, never sent by the relay) live in ``vault_client.errors``,
    whose ``all_error_classes`` adds them explicitly.
    """
    found: dict[str, type[VaultError]] = {}
    pending: list[type[VaultError]] = [VaultError]
    while pending:
        cls = pending.pop()
        if cls.__module__ == __name__:
            found[cls.code] = cls
        pending.extend(cls.__subclasses__())
    return found


# --- relay ------------------------------------------------------------------------------
# Errors the relay returns as ``{"error": {"code", "message"}}``; the SDK rebuilds them by
# code. The HTTP status of each lives in the relay (vault/api/errors.py), not here.


class RelayError(VaultError):
    """Something the relay refused or could not do."""

    code = "relay_error"


class InvalidRequestError(RelayError):
    """The request is well-formed JSON but its fields break the API's schema or bounds."""

    code = "invalid_request"


class InvalidJsonError(InvalidRequestError):
    """The request body is not valid JSON."""

    code = "invalid_json"


class UnsupportedMediaTypeError(InvalidRequestError):
    """The request body has a content type this endpoint does not accept."""

    code = "unsupported_media_type"


class PayloadTooLargeError(RelayError):
    """The request body is larger than this endpoint accepts."""

    code = "payload_too_large"


class AuthError(RelayError):
    """No valid session for this request."""

    code = "unauthenticated"


class ChallengeExpiredError(AuthError):
    """The auth challenge is unknown, already used, or older than its lifetime."""

    code = "challenge_expired"


class SessionExpiredError(AuthError):
    """The session token has expired: sign a new challenge."""

    code = "session_expired"


class ForbiddenError(RelayError):
    """Authenticated, but this member's role (or session kind) does not allow this."""

    code = "forbidden"


class NotFoundError(RelayError):
    code = "not_found"


class MethodNotAllowedError(RelayError):
    code = "method_not_allowed"


class ConflictError(RelayError):
    code = "conflict"


class LogConflictError(ConflictError):
    """Someone else appended first: the entry was built on a head that is no longer current."""

    code = "log_conflict"


class GroupExistsError(ConflictError):
    code = "group_exists"


class PostConflictError(ConflictError):
    """A different envelope is already stored under this post id."""

    code = "post_conflict"


class BlobConflictError(ConflictError):
    """Different bytes are already stored under this blob id."""

    code = "blob_conflict"


class GrantConflictError(ConflictError):
    """A different grant is already stored for this recipient and epoch."""

    code = "grant_conflict"


class AlreadyMemberError(ConflictError):
    code = "already_member"


class GroupDeletedError(RelayError):
    """An owner deleted this group: the relay purged it and serves only the entry that
    deleted it (``GET /v1/groups/{gid}/deletion``)."""

    code = "group_deleted"


class PostDeletedError(RelayError):
    """The post under this id was deleted; its ciphertext is gone."""

    code = "post_deleted"


class PostRejectedError(RelayError):
    """A post envelope's clear header does not fit the group (wrong group, epoch, id...)."""

    code = "post_rejected"


class PostExpiredError(PostRejectedError):
    code = "post_expired"


class LogEntryStaleError(RelayError):
    """A log entry dated more than 5 minutes before the relay's clock.

    Stale, replayed or backdated (for example, dated before an invite's expiry to use an
    invite that has since expired). Rebuild the entry on the current head and append again.
    """

    code = "log_entry_stale"


class JoinRequestStaleError(RelayError):
    """A join request dated more than 5 minutes before or after the relay's clock.

    Stale, replayed or backdated, or made on a device whose clock is wrong: check the clock and
    make a new request.
    """

    code = "join_request_stale"


class RateLimitedError(RelayError):
    """Too many requests from this client; retry after the time in the message."""

    code = "rate_limited"


class RelayUnavailableError(RelayError):
    """The relay cannot reach its database right now."""

    code = "unavailable"


class InternalError(RelayError):
    """An unexpected failure inside the relay (a bug); nothing was stored."""

    code = "internal"

