"""Every error the SDK raises: the protocol's one hierarchy, rooted at :class:`VaultError`.

The relay's JSON errors come back as these same classes (matched by their stable
``code``); checks this device makes raise them too. Catch :class:`VaultError` for
everything, or a subclass for one case. ``error.code`` is stable; ``error.message`` is
for a person and never holds a key, a passphrase or content.

The protocol's errors are defined in :mod:`vault.crypto.errors` and re-exported here; those
only the SDK raises (on this device, never sent by the relay) are defined here.
"""

from __future__ import annotations

from typing import Final

from vault.crypto.errors import (
    AlreadyMemberError,
    AttachmentMismatchError,
    AuthError,
    ChainBrokenError,
    ConflictError,
    DecryptionError,
    DeletionUnprovenError,
    EquivocationError,
    ForbiddenError,
    ForkError,
    GrantError,
    GroupDeletedError,
    GroupIdMismatchError,
    InvalidEntryError,
    InvalidRequestError,
    InviteError,
    InviteExhaustedError,
    InviteExpiredError,
    InviteRevokedError,
    InviteUriError,
    KeystoreCorruptError,
    KeystoreError,
    KeystoreLockedError,
    LogConflictError,
    LogError,
    MalformedError,
    MetadataError,
    NotAMemberError,
    NotFoundError,
    PassphraseRejectedError,
    PostError,
    RateLimitedError,
    RecoveryPhraseError,
    RelayError,
    RelayUnavailableError,
    RollbackError,
    RulesCardError,
    RulesCardStaleError,
    SignatureError,
    TooLargeError,
    UnauthorizedEntryError,
    UnknownInviteError,
    UnknownLogHeadError,
    VaultError,
    WeakKdfParametersError,
)
from vault.crypto.errors import (
    all_error_classes as _protocol_error_classes,
)

__all__ = [
    "AlreadyMemberError",
    "AttachmentMismatchError",
    "AuthError",
    "ChainBrokenError",
    "ClientError",
    "ConflictError",
    "DecryptionError",
    "DeletionUnprovenError",
    "EpochKeyMissingError",
    "EquivocationError",
    "ForbiddenError",
    "ForkError",
    "GrantError",
    "GroupDeletedError",
    "GroupIdMismatchError",
    "InvalidArgumentError",
    "InvalidEntryError",
    "InvalidRequestError",
    "InviteError",
    "InviteExhaustedError",
    "InviteExpiredError",
    "InviteImageError",
    "InviteRevokedError",
    "InviteUriError",
    "JoinDeniedError",
    "JoinPendingError",
    "KeystoreCorruptError",
    "KeystoreError",
    "KeystoreLockedError",
    "LocalStoreError",
    "LogConflictError",
    "LogError",
    "MalformedError",
    "MetadataError",
    "NameTakenError",
    "NotAMemberError",
    "NotFoundError",
    "NotPermittedError",
    "PassphraseRejectedError",
    "PostError",
    "RateLimitedError",
    "RecoveryPhraseError",
    "RelayError",
    "RelayUnavailableError",
    "RelayUnreachableError",
    "RollbackError",
    "RulesCardError",
    "RulesCardStaleError",
    "SignatureError",
    "TooLargeError",
    "UnauthorizedEntryError",
    "UnknownGroupError",
    "UnknownInviteError",
    "UnknownLogHeadError",
    "UnknownReferenceError",
    "VaultError",
    "WeakKdfParametersError",
    "all_error_classes",
]


# --- raised by the SDK on a member's device, never by the relay ---------------------------


class EpochKeyMissingError(VaultError):
    """This member holds no key for the epoch a ciphertext was made in."""

    code = "epoch_key_missing"


class RelayUnreachableError(RelayUnavailableError):
    """The relay could not be reached (no connection, timeout, or it answered garbage).

    For a request that is not safe to repeat blindly, the SDK first checks with the relay
    whether it took effect; this error means it still could not tell, or the relay stayed
    away for the whole retry budget. Nothing acknowledged is lost: retry later.
    """

    code = "relay_unreachable"


class ClientError(VaultError):
    """Something this device refused to do (not a protocol violation by anyone else)."""

    code = "client_error"


class UnknownGroupError(ClientError):
    """This device is not in that group (or has forgotten it after leaving or a wipe)."""

    code = "group_unknown"


class JoinPendingError(ClientError):
    """The join request is still waiting for an admin's approval."""

    code = "join_pending"


class JoinDeniedError(ClientError):
    """An admin denied the join request."""

    code = "join_denied"


class InviteImageError(InviteUriError):
    """An image could not be read, or holds no QR code with a Vault invite."""

    code = "invite_image_unreadable"


class LocalStoreError(ClientError):
    """The local store on this device is damaged, or belongs to another keystore."""

    code = "local_store_invalid"


class NameTakenError(ClientError):
    """Another current member of the group already has this display name, or one that
    looks the same (another case, or letters from another script that look alike)."""

    code = "display_name_taken"


class NotPermittedError(ClientError):
    """This member's role (or authorship) does not allow what was asked: editing someone
    else's post, deleting it without being a moderator, an admin's action as a member.
    Refused on this device, before anything is written or sent."""

    code = "not_permitted"


class UnknownReferenceError(ClientError):
    """What was given to name a group, a member, a post or an invite names none (or several)
    of those this device knows: give its id as Vault shows it, or its name."""

    code = "reference_unknown"


class InvalidArgumentError(ClientError):
    """A value given to the SDK is not one it can use (a duration that is not positive, an
    unknown history policy or QR format, a file that cannot be read, no relay to use)."""

    code = "invalid_argument"


_OWN: Final[tuple[type[VaultError], ...]] = (
    EpochKeyMissingError,
    RelayUnreachableError,
    ClientError,
    UnknownGroupError,
    JoinPendingError,
    JoinDeniedError,
    InviteImageError,
    LocalStoreError,
    NameTakenError,
    NotPermittedError,
    UnknownReferenceError,
    InvalidArgumentError,
)


def all_error_classes() -> dict[str, type[VaultError]]:
    """Map every stable code the SDK knows to its class: the protocol's
    (:func:`vault.crypto.errors.all_error_classes`) and the SDK's own, defined here."""
    return {**_protocol_error_classes(), **{cls.code: cls for cls in _OWN}}
