"""vault_client: the Vault SDK. Build a member's client on the Vault protocol.

    from vault_client import Client

    with Client(passphrase, relay_url="https://relay.example") as client:
        group = client.create_group("Tuesday circle", rules="Be kind.")
        invite = client.create_invite(group, max_uses=5)
        invite.save_qr("invite.png")

See ``clients/python/README.md`` for the guide. Everything cryptographic happens in
:mod:`vault.crypto`; the SDK drives it over HTTP and a local store.
"""

from vault.crypto.invites import normalize_relay_url
from vault_client import errors, events
from vault_client._internal.home import default_home, has_keystore, wipe_home
from vault_client._internal.strength import passphrase_strength
from vault_client.aio import AsyncClient
from vault_client.client import Client
from vault_client.errors import (
    ForkError,
    NameTakenError,
    NotAMemberError,
    NotPermittedError,
    RelayUnreachableError,
    RollbackError,
    VaultError,
)
from vault_client.events import (
    DeletionNotCompleted,
    EpochStarted,
    Equivocation,
    Event,
    GroupDeleted,
    GroupUpdated,
    InvalidGrant,
    InvalidPost,
    JoinApproved,
    KeyReceived,
    MemberJoined,
    MemberLeft,
    NameNotSet,
    NewPost,
    NotPermittedInChannel,
    PostsFromDepartedMember,
    PostsWithheld,
    ProfileUpdated,
    RemovedFromGroup,
    RoleChanged,
    RotationPending,
    SequenceJumped,
    StaleViewPosts,
    SyncWarning,
    UndeliverablePost,
    UnknownLogHead,
    UnreadableMetadata,
)
from vault_client.handlers import Handlers
from vault_client.types import (
    MAIN_CHANNEL,
    AttachmentInfo,
    ChannelInfo,
    DeletedGroupInfo,
    GroupInfo,
    GroupStatus,
    HistoryPolicy,
    Invite,
    InviteInfo,
    InvitePreview,
    JoinRequestInfo,
    JoinResult,
    MemberInfo,
    PassphraseStrength,
    PollInfo,
    Posted,
    PostView,
    QrFormat,
    RetryNotice,
    Role,
    SavedPosts,
    SyncReport,
    Thread,
)

__version__ = "0.1.0"

__all__ = [
    "MAIN_CHANNEL",
    "AsyncClient",
    "AttachmentInfo",
    "ChannelInfo",
    "Client",
    "DeletedGroupInfo",
    "DeletionNotCompleted",
    "EpochStarted",
    "Equivocation",
    "Event",
    "ForkError",
    "GroupDeleted",
    "GroupInfo",
    "GroupStatus",
    "GroupUpdated",
    "Handlers",
    "HistoryPolicy",
    "InvalidGrant",
    "InvalidPost",
    "Invite",
    "InviteInfo",
    "InvitePreview",
    "JoinApproved",
    "JoinRequestInfo",
    "JoinResult",
    "KeyReceived",
    "MemberInfo",
    "MemberJoined",
    "MemberLeft",
    "NameNotSet",
    "NameTakenError",
    "NewPost",
    "NotAMemberError",
    "NotPermittedError",
    "NotPermittedInChannel",
    "PassphraseStrength",
    "PollInfo",
    "PostView",
    "Posted",
    "PostsFromDepartedMember",
    "PostsWithheld",
    "ProfileUpdated",
    "QrFormat",
    "RelayUnreachableError",
    "RemovedFromGroup",
    "RetryNotice",
    "Role",
    "RoleChanged",
    "RollbackError",
    "RotationPending",
    "SavedPosts",
    "SequenceJumped",
    "StaleViewPosts",
    "SyncReport",
    "SyncWarning",
    "Thread",
    "UndeliverablePost",
    "UnknownLogHead",
    "UnreadableMetadata",
    "VaultError",
    "default_home",
    "errors",
    "events",
    "has_keystore",
    "normalize_relay_url",
    "passphrase_strength",
    "wipe_home",
]
