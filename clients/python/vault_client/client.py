"""The Vault client: one person's device, in any number of groups.

See ``clients/python/README.md`` for a guide. Every cryptographic step is a call into
:mod:`vault.crypto`; this module orders those calls, the relay requests
(:mod:`vault_client._internal.transport`) and the local store
(:mod:`vault_client._internal.store`).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any, Final, TypeVar

import httpx
import platformdirs

from vault.crypto.attachments import decrypt_attachment, make_attachment
from vault.crypto.encoding import b64encode
from vault.crypto.epochs import (
    EpochGrant,
    build_grants,
    epoch_commitment,
    new_epoch_key,
    open_grant,
)
from vault.crypto.errors import (
    AlreadyMemberError,
    DecryptionError,
    EpochKeyMissingError,
    EpochStaleError,
    ForbiddenError,
    GrantConflictError,
    GrantError,
    InviteExhaustedError,
    InviteExpiredError,
    InviteRevokedError,
    JoinDeniedError,
    JoinPendingError,
    LocalStoreError,
    LogConflictError,
    MalformedError,
    NotAMemberError,
    NotFoundError,
    PostConflictError,
    PostDeletedError,
    PostRejectedError,
    RelayUnreachableError,
    RotationPendingError,
    TooLargeError,
    UnknownGroupError,
    UnknownInviteError,
    VaultError,
)
from vault.crypto.group_state import (
    GroupState,
    LogCheckpoint,
    apply_entry,
    extend_log,
    verify_log,
)
from vault.crypto.identity import Identity, PublicIdentity
from vault.crypto.identity_export import ExportedIdentity
from vault.crypto.identity_export import export_identity as seal_identity_export
from vault.crypto.identity_export import import_identity as open_identity_export
from vault.crypto.invites import (
    InviteLink,
    JoinRequest,
    invite_keypair,
    join_proof,
    make_join_request,
    new_invite,
    normalize_relay_url,
    parse_invite_uri,
)
from vault.crypto.localstore import (
    PendingJoin,
    PostStub,
    decode_pending_join,
    decode_post_stub,
    decode_stored_post,
    encode_pending_join,
    encode_post_stub,
    encode_stored_post,
    open_record,
    record_id,
    seal_record,
)
from vault.crypto.log import (
    EntryBody,
    EntryKind,
    InviteBody,
    InviteRevokeBody,
    JoinBody,
    LeaveBody,
    LogEntry,
    MetadataBody,
    RemoveBody,
    Role,
    RoleBody,
    RotateBody,
    commitment_group_id,
    create_group,
    group_id_of,
    new_entry,
)
from vault.crypto.metadata import GroupMetadata, MemberProfile, seal_metadata
from vault.crypto.posts import PostBody, PostKind, check_can_post, open_post, seal_post
from vault.crypto.primitives import default_clock, default_random
from vault.crypto.safety import safety_number as core_safety_number
from vault.crypto.timeline import Timeline
from vault_client import events as ev
from vault_client._internal import sync as engine
from vault_client._internal import views as V
from vault_client._internal.keys import KeyHolder, Passphrase, PassphraseSource, destroy_file
from vault_client._internal.qr import decode_invite_image
from vault_client._internal.store import TOMBSTONE, Store
from vault_client._internal.sync import GroupView
from vault_client._internal.transport import (
    AmbiguousAppend,
    Auth,
    InviteAuth,
    MemberAuth,
    Transport,
)
from vault_client.types import (
    GroupInfo,
    GroupStatus,
    HistoryPolicy,
    Invite,
    JoinRequestInfo,
    JoinResult,
    MemberInfo,
    Posted,
    PostView,
    SyncReport,
    Thread,
)

__all__ = ["Client", "default_home", "has_keystore", "wipe_home"]

KEYSTORE_FILE: Final = "keystore.vault"
DATABASE_FILE: Final = "client.db"
LOCK_FILE: Final = ".lock"
DAY_MS: Final = 86_400_000
_GRANT_CHUNK: Final = 5000
_POST_PAGE: Final = 100  # posts per request when syncing: the most the relay serves
_COMMIT_POSTS: Final = 1000  # posts read from the relay per local-store commit when syncing
_APPEND_ATTEMPTS: Final = 4
_HOME_FILES: Final = (DATABASE_FILE, DATABASE_FILE + "-wal", DATABASE_FILE + "-shm",
                      KEYSTORE_FILE, LOCK_FILE)
_T = TypeVar("_T")

GroupRef = Any
"""A group: its id (base64url text or 32 bytes) or a :class:`GroupInfo`."""
MemberRef = Any
"""A member: their member id (base64url text or 32 bytes), a :class:`MemberInfo` or a
:class:`JoinRequestInfo`."""
PostRef = Any
"""A post: its id (base64url text or 16 bytes), a :class:`PostView` or :class:`Posted`."""


def default_home() -> str:
    """``$VAULT_HOME``, else the platform's user data directory for Vault."""
    return os.environ.get("VAULT_HOME") or platformdirs.user_data_dir("vault", appauthor=False)


def has_keystore(home: str | os.PathLike[str] | None = None) -> bool:
    """Whether *home* (default :func:`default_home`) already holds a keystore.

    A :class:`Client` opened where there is none creates one under the passphrase it is
    given, so a user interface asks for a new passphrase twice (to confirm it) when this is
    False, and once otherwise."""
    return os.path.isfile(os.path.join(_home_path(home), KEYSTORE_FILE))


def wipe_home(home: str | os.PathLike[str] | None = None) -> bool:
    """Destroy the keystore and the local store in *home* without opening them (for
    instance when the passphrase is lost): every file is overwritten, then removed. Returns
    False when there was nothing to destroy. Raises :class:`LocalStoreError` while a client
    is using *home*. This cannot be undone (:meth:`Client.wipe` does the same for an open
    client)."""
    path = _home_path(home)
    if not any(os.path.exists(os.path.join(path, name)) for name in _HOME_FILES):
        return False
    handle = _lock_home(path)
    try:
        _destroy_home(path)
    finally:
        _unlock_home(handle)
    return True


def _home_path(home: str | os.PathLike[str] | None) -> str:
    return os.path.abspath(os.fspath(home) if home is not None else default_home())


def _destroy_home(home: str) -> None:
    for name in _HOME_FILES:
        destroy_file(os.path.join(home, name))
    with contextlib.suppress(OSError):
        os.rmdir(home)


def _ms(value: timedelta | float | int | None) -> int | None:
    if value is None:
        return None
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if seconds <= 0:
        raise ValueError("a duration must be positive")
    return int(seconds * 1000)


class Client:
    """A member's device: keys in an encrypted keystore, a local store, any number of groups.

    Synchronous and thread-safe (one lock serialises calls; :meth:`wait` releases it while it
    waits on the relay). Open it once and keep it: opening unlocks the keystore, which is
    deliberately slow (Argon2id). Use it as a context manager, or call :meth:`close`.

    :param passphrase: the keystore passphrase, or a callable that returns it (called once,
        when first needed). It is never logged and never put in an exception.
    :param home: where the keystore and the local store live (default ``$VAULT_HOME``, else
        the platform's user data directory). Created with owner-only permissions.
    :param relay_url: the relay new groups are created on (joining uses the invite's relay).
    :param timeout: seconds for one HTTP request.
    :param retry_for: how long requests that are safe to repeat are retried while a relay
        is unreachable, in seconds.
    :param transport: an ``httpx.BaseTransport`` every request to every relay goes through
        (default: httpx's own network transport). For tests and embedding: for instance an
        ``httpx.WSGITransport`` over an in-process relay, or a proxy that rewrites answers
        the way a hostile relay would. The client verifies whatever comes back as usual.
    """

    def __init__(
        self,
        passphrase: PassphraseSource,
        *,
        home: str | os.PathLike[str] | None = None,
        relay_url: str | None = None,
        timeout: float = 30.0,
        retry_for: float = 20.0,
        clock: Callable[[], int] = default_clock,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.home = _home_path(home)
        os.makedirs(self.home, mode=0o700, exist_ok=True)
        self.relay_url = None if relay_url is None else normalize_relay_url(relay_url)
        self._timeout = timeout
        self._retry_for = retry_for
        self._clock = clock
        self._http_transport = transport
        self._lock = threading.RLock()
        self._lock_handle = _lock_home(self.home)
        self._closed = False
        try:
            self._keys = KeyHolder(os.path.join(self.home, KEYSTORE_FILE), Passphrase(passphrase))
            self._keys.unlock()
            self._store_key = self._keys.store_key()
            self._store = Store(os.path.join(self.home, DATABASE_FILE))
            self._check_store_owner()
        except BaseException:
            _unlock_home(self._lock_handle)
            raise
        self._views: dict[bytes, GroupView] = {}
        self._transports: dict[str, Transport] = {}
        self._warnings: list[ev.SyncWarning] = []
        self._fences: dict[bytes, str] = {}

    # --- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close connections and the local store, and forget the unlocked keys."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for transport in self._transports.values():
                transport.close()
            self._store.close()
            self._keys.lock()
            self._views.clear()
            _unlock_home(self._lock_handle)

    def wipe(self) -> None:
        """Destroy everything this device keeps: the keystore (every identity), the local
        store (keys, posts, logs) and their files, overwritten before removal. The client is
        closed afterwards. This cannot be undone: export identities first if needed."""
        with self._lock:
            self.close()
            _destroy_home(self.home)

    def _check_open(self) -> None:
        if self._closed:
            raise LocalStoreError("this client is closed; open a new Client")

    def _check_store_owner(self) -> None:
        marker = self._store.meta("owner")
        rid = record_id(b"owner")
        if marker is None:
            sealed = seal_record(self._store_key, "owner", rid, b"vault-local-store")
            self._store.set_meta("owner", b64encode(sealed))
            return
        from vault.crypto.encoding import b64decode

        try:
            open_record(self._store_key, "owner", rid, b64decode(marker))
        except (DecryptionError, MalformedError):
            raise LocalStoreError(
                f"the local store in {self.home} belongs to another keystore; use the "
                "keystore it was made with, or wipe it"
            ) from None

    def _now(self) -> int:
        return self._clock()

    def _transport(self, relay_url: str) -> Transport:
        transport = self._transports.get(relay_url)
        if transport is None:
            transport = Transport(relay_url, timeout=self._timeout, retry_for=self._retry_for,
                                  transport=self._http_transport)
            self._transports[relay_url] = transport
        return transport

    def _seal(self, kind: str, rid: bytes, plaintext: bytes) -> bytes:
        return seal_record(self._store_key, kind, rid, plaintext)

    def _open(self, kind: str, rid: bytes, sealed: bytes) -> bytes:
        try:
            return open_record(self._store_key, kind, rid, sealed)
        except (DecryptionError, MalformedError):
            raise LocalStoreError(
                "a record in the local store is damaged or was moved; wipe the local store "
                "and sync again"
            ) from None

    # --- loading groups ----------------------------------------------------------------------

    @staticmethod
    def _gid(group: GroupRef) -> bytes:
        return V.to_bytes(group, 32, "group id")

    def _view(self, group: GroupRef) -> GroupView:
        self._check_open()
        gid = self._gid(group)
        view = self._views.get(gid)
        if view is None:
            view = self._load(gid)
            self._views[gid] = view
        return view

    def _load(self, gid: bytes) -> GroupView:
        row = self._store.group(gid)
        if row is None:
            raise UnknownGroupError("this device is not in that group")
        identity = self._keys.identity(gid)
        if identity is None:
            raise LocalStoreError("the keystore holds no identity for this group")
        entries = self._store.log_entries(gid)
        state: GroupState | None = None
        if entries:
            checkpoint = None if row.checkpoint is None else LogCheckpoint.decode(row.checkpoint)
            state = verify_log(gid, entries, checkpoint=checkpoint)
        view = GroupView(gid, row.relay_url, row.status, identity, state, entries,
                         _policy_from_text(row.history_policy),
                         post_cursor=row.post_cursor, event_cursor=row.event_cursor)
        saved = self._store.meta(_fence_key(gid))
        view.fence_seq = _fence_from(saved, row.post_cursor)
        if saved is not None:
            self._fences[gid] = saved
        for epoch, sealed in self._store.epoch_keys(gid):
            key = self._open("epoch-key", record_id(gid, epoch), sealed)
            if engine.key_matches(state, epoch, key) is False:
                self._store.delete_epoch_key(gid, epoch)  # a candidate that never landed
            else:
                view.keys[epoch] = key
        for post in self._store.posts(gid):
            plaintext = self._open("post", record_id(gid, post.post_id), post.sealed)
            if post.stub:
                stub = decode_post_stub(plaintext)
                view.stubs.setdefault(stub.author, set()).add(stub.author_seq)
                view.stub_ids.add(stub.post_id)
            else:
                opened = decode_stored_post(plaintext)
                view.timeline.add(opened)
                if opened.body.expires_at_ms is not None:
                    view.expiring[opened.post_id] = opened.body.expires_at_ms
        for post_id, cursor, envelope in self._store.held(gid):
            view.held[post_id] = (cursor, envelope)
        view.rejected = self._store.rejected(gid)
        view.tombstones = self._store.tombstones(gid)
        view.issued = self._store.issued(gid)
        return view

    def _member_view(self, group: GroupRef) -> GroupView:
        view = self._view(group)
        if view.status == "pending":
            raise JoinPendingError("this device's join request is still waiting for an admin")
        if view.status == "denied":
            raise JoinDeniedError("an admin denied this device's join request")
        if view.status in ("removed", "left") or view.state is None or not view.state.is_member(
                view.me.sign_pk):
            raise NotAMemberError("this device is no longer a member of that group")
        return view

    def _auth(self, view: GroupView) -> MemberAuth:
        return MemberAuth(view.group_id, view.me)

    def _save_key(self, view: GroupView, epoch: int, key: bytes) -> None:
        self._store.save_epoch_key(view.group_id, epoch,
                                   self._seal("epoch-key", record_id(view.group_id, epoch), key))

    # --- groups ------------------------------------------------------------------------------

    def groups(self) -> list[GroupInfo]:
        """Every group this device is in (or asked to join), oldest first."""
        with self._lock:
            self._check_open()
            return [self._info(self._view(row.group_id)) for row in self._store.groups()]

    def group(self, group: GroupRef) -> GroupInfo:
        """One group, as this device last verified it (call :meth:`sync` to refresh)."""
        with self._lock:
            return self._info(self._view(group))

    def _info(self, view: GroupView) -> GroupInfo:
        state = view.state
        meta = V.group_metadata(view)
        me = view.me.sign_pk
        return GroupInfo(
            group_id=view.gid,
            relay_url=view.relay_url,
            status=_status(view.status),
            name=None if meta is None else meta.name,
            description="" if meta is None else meta.description,
            rules="" if meta is None else meta.rules,
            my_member_id=b64encode(me),
            my_role=None if state is None else state.role_of(me),
            epoch=0 if state is None else state.epoch,
            member_count=0 if state is None else len(state.members),
            log_seq=-1 if state is None else state.seq,
            log_head="" if state is None else b64encode(state.head),
            rotation_pending=False if state is None else state.rotation_pending,
            history_policy=view.policy,
            unsent_posts=self._store.outbox_count(view.group_id),
        )

    def create_group(
        self,
        name: str,
        description: str = "",
        rules: str = "",
        *,
        relay_url: str | None = None,
        display_name: str | None = None,
        history_policy: HistoryPolicy = "none",
    ) -> GroupInfo:
        """Create a group on a relay, with this device as its owner.

        A fresh identity is made for the group (so the relay cannot link this person's
        groups). The name, description and rules are encrypted under the group's first
        epoch key: the relay never sees them.
        """
        with self._lock:
            self._check_open()
            relay = normalize_relay_url(relay_url or self.relay_url or _no_relay())
            metadata = GroupMetadata(name, description, rules)
            policy = _check_policy(history_policy)
            profile = None if display_name is None else MemberProfile(display_name)
            identity = Identity.generate()
            key0 = new_epoch_key()
            now = self._now()
            genesis = create_group(identity, key0, now_ms=now)
            gid = group_id_of(genesis)
            # Keys first: a crash after the relay took the group must not lose its owner.
            self._keys.add_identity(gid, identity)
            self._store.add_group(gid, relay, "member", _policy_text(policy), now)
            state = verify_log(gid, [genesis.raw])
            self._store.replace_log(gid, [genesis.raw], state.checkpoint().encode())
            view = self._view(gid)
            self._save_key(view, 0, key0)
            view.keys[0] = key0
            self._transport(relay).create_group(genesis.raw)
            sealed = seal_metadata(key0, gid, 0, None, metadata)
            self._append(view, lambda s: MetadataBody(None, s.epoch, sealed))
            self._issue(view, 0, [identity.public])  # recoverable after an identity import
            if profile is not None:
                self._publish_profile(view, profile)
            return self._info(view)

    def update_group(self, group: GroupRef, *, name: str | None = None,
                     description: str | None = None, rules: str | None = None) -> GroupInfo:
        """Change the group's name, description or rules (admins). Encrypted for members."""
        with self._lock:
            view = self._member_view(group)
            current = V.group_metadata(view) or GroupMetadata("")
            metadata = GroupMetadata(current.name if name is None else name,
                                     current.description if description is None else description,
                                     current.rules if rules is None else rules)
            self._publish_group_metadata(view, metadata)
            return self._info(view)

    def _publish_group_metadata(self, view: GroupView, metadata: GroupMetadata) -> None:
        def build(state: GroupState) -> EntryBody:
            check_can_post(state, state.epoch)
            key = self._key_for(view, state.epoch)
            return MetadataBody(None, state.epoch,
                                seal_metadata(key, view.group_id, state.epoch, None, metadata))
        self._append(view, build)

    def set_history_policy(self, group: GroupRef, policy: HistoryPolicy) -> None:
        """What members this device admits may read from before they joined (see
        :data:`HistoryPolicy`). Kept on this device; each admin's device applies its own."""
        with self._lock:
            view = self._view(group)
            view.policy = _check_policy(policy)
            self._store.update_group(view.group_id, history_policy=_policy_text(view.policy))

    # --- invites and joining -----------------------------------------------------------------

    def create_invite(
        self,
        group: GroupRef,
        *,
        max_uses: int = 1,
        expires_in: timedelta | float = timedelta(days=7),
        require_approval: bool = True,
    ) -> Invite:
        """Make an invite (admins). Its URI goes into a QR code: :meth:`Invite.render_qr`.

        With ``require_approval`` (the default) a person who scans it can only ask to join,
        and an admin approves after comparing safety numbers (:meth:`pending_requests`).
        Without it, the invite itself admits up to ``max_uses`` people until it expires.
        ``expires_in`` is a timedelta or seconds.
        """
        with self._lock:
            view = self._member_view(group)
            expires_ms = _ms(expires_in)
            assert expires_ms is not None
            invite_id, secret = new_invite()
            _sk, invite_pk = invite_keypair(secret)
            holder: dict[str, int] = {}

            def build(state: GroupState) -> EntryBody:
                holder["expires"] = max(self._now(), state.timestamp_ms) + expires_ms
                return InviteBody(invite_id, invite_pk, max_uses, holder["expires"],
                                  require_approval)

            self._append(view, build)
            link = InviteLink(view.relay_url, view.group_id, invite_id, secret)
            return Invite(view.gid, b64encode(invite_id), link.to_uri(), max_uses,
                          holder["expires"], require_approval)

    def revoke_invite(self, group: GroupRef, invite_id: str | bytes | Invite) -> None:
        """Stop an invite from admitting anyone else (admins)."""
        with self._lock:
            view = self._member_view(group)
            iid = V.to_bytes(invite_id.invite_id if isinstance(invite_id, Invite) else invite_id,
                             16, "invite id")
            self._append(view, lambda s: InviteRevokeBody(iid))

    def join_from_image(self, path: str | os.PathLike[str]) -> JoinResult:
        """Join with the invite in a QR code image (a photo or screenshot, PNG/JPEG...).

        Raises :class:`InviteImageError` when the image holds no QR code, or none that is a
        Vault invite. Then as :meth:`join`.
        """
        return self.join(decode_invite_image(path).to_uri())

    def join(self, uri: str) -> JoinResult:
        """Use an invite (the text a QR code carries).

        This device verifies the group's whole membership log against the group id the
        invite pins, makes a fresh identity for the group and either asks to join (the
        result is ``pending`` until an admin approves: see :meth:`join_status`) or, with a
        pre-authorised invite, joins at once. Compare :attr:`JoinResult.safety_number` with
        the admin in person.
        """
        with self._lock:
            self._check_open()
            link = parse_invite_uri(uri)
            gid = link.group_id
            if self._store.group(gid) is not None:
                view = self._view(gid)
                if view.status == "pending":
                    return self._join_result(view, link, "pending")
                raise AlreadyMemberError("this device is already in that group")
            transport = self._transport(link.relay_url)
            invite_sk, invite_pk = invite_keypair(link.secret)
            reader = InviteAuth(gid, link.invite_id, invite_sk)
            state, entries = self._fetch_log(transport, reader, gid)
            now = self._now()
            invite = state.invites.get(link.invite_id)
            if invite is None or invite.invite_pk != invite_pk:
                raise UnknownInviteError("this group has no such invite; ask for a new one")
            if invite.revoked:
                raise InviteRevokedError("this invite was revoked; ask for a new one")
            if invite.expires_at_ms <= now:
                raise InviteExpiredError("this invite has expired; ask for a new one")
            if invite.uses >= invite.max_uses:
                raise InviteExhaustedError("this invite has been used up; ask for a new one")
            identity = Identity.generate()
            self._keys.add_identity(gid, identity)
            status = "pending" if invite.requires_approval else "member"
            request = make_join_request(identity, link, now_ms=now) \
                if invite.requires_approval else None
            pending = self._seal("pending-join", record_id(gid),
                                 encode_pending_join(PendingJoin(link.to_uri(), request)))
            self._store.add_group(gid, link.relay_url, status, "none", now, pending)
            self._store.replace_log(gid, entries, state.checkpoint().encode())
            view = self._view(gid)
            try:
                if request is not None:
                    with contextlib.suppress(RelayUnreachableError):  # join_status resends it
                        transport.submit_join_request(gid, request.encode())
                    return self._join_result(view, link, "pending")
                proof = join_proof(link.secret, gid, link.invite_id, identity.public)
                self._append(view, lambda s: JoinBody(link.invite_id, identity.public, proof),
                             as_member=False, reader=reader)
            except RelayUnreachableError:
                raise  # it may have landed: keep the identity (sync tells)
            except VaultError:
                self._forget(view)  # refused (used up, revoked...): nothing to keep
                raise
            self._store.update_group(gid, pending=None)
            with contextlib.suppress(RelayUnreachableError):
                self._sync(view)
            return self._join_result(view, link, "joined")

    def _join_result(self, view: GroupView, link: InviteLink, status: str) -> JoinResult:
        assert view.state is not None
        invite = view.state.invites[link.invite_id]
        inviter = view.state.member_record(invite.created_by)
        assert inviter is not None
        number = core_safety_number(view.me.public, inviter.identity)
        return JoinResult(view.gid, "pending" if status == "pending" else "joined",
                          b64encode(view.me.sign_pk), b64encode(invite.created_by), number)

    def join_status(self, group: GroupRef) -> GroupStatus:
        """Check a pending join with the relay: ``pending``, ``member`` (approved: this
        device then syncs the group) or ``denied``."""
        with self._lock:
            view = self._view(group)
            if view.status == "pending":
                self._check_pending(view, [])
                if view.status == "member":
                    self._sync(view)
            return _status(view.status)

    def wait_for_approval(self, group: GroupRef, timeout: float = 300.0,
                          interval: float = 1.0) -> GroupInfo:
        """Poll a pending join until an admin approves it (:class:`JoinPendingError` on
        timeout, :class:`JoinDeniedError` if denied)."""
        deadline = time.monotonic() + timeout
        while True:
            status = self.join_status(group)
            if status == "member":
                return self.group(group)
            if status == "denied":
                raise JoinDeniedError("an admin denied this device's join request")
            if time.monotonic() >= deadline:
                raise JoinPendingError("the join request is still waiting for an admin")
            time.sleep(interval)

    def _check_pending(self, view: GroupView, events: list[ev.Event]) -> None:
        transport = self._transport(view.relay_url)
        row = self._store.group(view.group_id)
        assert row is not None and row.pending is not None
        pending = decode_pending_join(self._open("pending-join", record_id(view.group_id),
                                                 row.pending))
        try:
            transport.forget_sessions(view.group_id)
            transport.read_log(self._auth(view), 0, 1)
        except NotAMemberError:
            if pending.request is None:
                return
            try:
                status = transport.submit_join_request(view.group_id, pending.request.encode())
            except AlreadyMemberError:
                status = "approved"
            except (InviteExpiredError, InviteRevokedError, InviteExhaustedError,
                    UnknownInviteError, ForbiddenError):
                return
            if status == "denied":
                view.status = "denied"
                self._store.update_group(view.group_id, status="denied")
            if status != "approved":
                return
        # The relay's word alone never makes this device a member (a relay can claim an
        # approval no admin gave): the verified log must show it.
        warnings: list[ev.SyncWarning] = []
        try:
            self._sync_log(view, events, warnings)
        except NotAMemberError:
            return
        for warning in warnings:
            self._warn(warning)
        assert view.state is not None
        if not view.state.is_member(view.me.sign_pk):
            return
        view.status = "member"
        self._store.update_group(view.group_id, status="member", pending=None)
        events.append(ev.JoinApproved(view.gid))

    def pending_requests(self, group: GroupRef) -> list[JoinRequestInfo]:
        """Join requests waiting for an admin (admins), each checked against its invite and
        with the safety number to compare with the joiner before approving."""
        with self._lock:
            view = self._member_view(group)
            self._sync_log(view, [], [])
            return [self._request_info(view, r) for r in self._requests(view)]

    def _requests(self, view: GroupView) -> list[JoinRequest]:
        assert view.state is not None
        found = []
        for item in self._transport(view.relay_url).join_requests(self._auth(view)):
            try:
                request = JoinRequest.decode(item.request)
                invite = view.state.invites.get(request.invite_id)
                if request.group_id != view.group_id or invite is None:
                    continue
                request.verify(invite.invite_pk)
            except VaultError as error:
                self._warn(ev.InvalidPost(view.gid, f"a join request was refused: "
                                          f"{error.message}", b64encode(item.joiner), error.code))
                continue
            if view.state.can(request.joiner.sign_pk, EntryKind.JOIN):  # never a member
                found.append(request)
        return found

    def _request_info(self, view: GroupView, request: JoinRequest) -> JoinRequestInfo:
        return JoinRequestInfo(
            joiner=b64encode(request.joiner.sign_pk),
            invite_id=b64encode(request.invite_id),
            safety_number=core_safety_number(view.me.public, request.joiner),
            fingerprint=request.joiner.short_fingerprint(),
            requested_at_ms=request.requested_at_ms,
        )

    def approve(self, group: GroupRef, joiner: MemberRef, *, role: Role = Role.MEMBER,
                share_history: HistoryPolicy | None = None) -> MemberInfo:
        """Admit a pending joiner (admins), after comparing safety numbers.

        ``share_history`` overrides this group's history policy for this member (see
        :data:`HistoryPolicy`): ``"none"`` starts a new epoch so they read only what is
        written from now on.
        """
        with self._lock:
            view = self._member_view(group)
            joiner_pk = V.to_bytes(joiner, 32, "member id")
            policy = view.policy if share_history is None else _check_policy(share_history)
            self._sync_log(view, [], [])
            matches = [r for r in self._requests(view) if r.joiner.sign_pk == joiner_pk]
            if not matches:
                raise NotFoundError("no pending join request from this member")
            request = matches[0]
            self._append(view, lambda s: _add_body(request, role))
            assert view.state is not None
            if policy == "none":
                self._rotate(view, [])
            else:
                self._issue(view, view.state.epoch, [request.joiner])
                for past in engine.history_epochs(view, policy):
                    self._issue(view, past, [request.joiner])
            return next(m for m in V.members(view) if m.member_id == b64encode(joiner_pk))

    def deny(self, group: GroupRef, joiner: MemberRef) -> None:
        """Refuse a pending join request (admins)."""
        with self._lock:
            view = self._member_view(group)
            joiner_pk = V.to_bytes(joiner, 32, "member id")
            self._transport(view.relay_url).deny(self._auth(view), joiner_pk)

    # --- membership ----------------------------------------------------------------------------

    def members(self, group: GroupRef) -> list[MemberInfo]:
        """Current members, with roles and display names (None until readable)."""
        with self._lock:
            view = self._view(group)
            if view.state is None:
                return []
            return V.members(view)

    def me(self, group: GroupRef) -> MemberInfo:
        """This device's own membership in the group."""
        with self._lock:
            view = self._member_view(group)
            mine = b64encode(view.me.sign_pk)
            return next(m for m in V.members(view) if m.member_id == mine)

    def set_display_name(self, group: GroupRef, name: str) -> None:
        """Set how this device's person appears in the group (encrypted for members)."""
        with self._lock:
            view = self._member_view(group)
            self._publish_profile(view, MemberProfile(name))

    def _publish_profile(self, view: GroupView, profile: MemberProfile) -> None:
        me = view.me.sign_pk

        def build(state: GroupState) -> EntryBody:
            check_can_post(state, state.epoch, author=me)
            key = self._key_for(view, state.epoch)
            return MetadataBody(me, state.epoch,
                                seal_metadata(key, view.group_id, state.epoch, me, profile))
        self._append(view, build)

    def set_role(self, group: GroupRef, member: MemberRef, role: Role) -> None:
        """Change a member's role (admins; only owners make or change admins and owners)."""
        with self._lock:
            view = self._member_view(group)
            pk = V.to_bytes(member, 32, "member id")
            self._append(view, lambda s: RoleBody(pk, Role(role)))

    def remove(self, group: GroupRef, member: MemberRef) -> None:
        """Remove a member (admins). Starts a new epoch: a fresh key, granted to every
        remaining member in one request, so the removed member reads nothing new."""
        with self._lock:
            view = self._member_view(group)
            pk = V.to_bytes(member, 32, "member id")
            self._rotate(view, [], remove=pk)

    def rotate(self, group: GroupRef) -> int:
        """Start a new epoch now (admins); returns its number. Admins' devices also do this
        by themselves when a member has left (``rotation_pending``)."""
        with self._lock:
            view = self._member_view(group)
            return self._rotate(view, [])

    def leave(self, group: GroupRef) -> None:
        """Leave the group, then forget it on this device (its identity, keys and posts).

        An admin's device then starts a new epoch for those who stay. The last owner must
        make someone else an owner first.
        """
        with self._lock:
            view = self._member_view(group)
            self._flush_outbox(view, [])
            self._append(view, lambda s: LeaveBody())
            self._forget(view)

    def _forget(self, view: GroupView) -> None:
        self._store.delete_group(view.group_id)
        self._keys.remove_identity(view.group_id)
        self._views.pop(view.group_id, None)
        self._transport(view.relay_url).forget_sessions(view.group_id)

    def forget_group(self, group: GroupRef) -> None:
        """Delete a group from this device without telling anyone (after a removal or a
        denied request). A member who wants to go should :meth:`leave`."""
        with self._lock:
            self._forget(self._view(group))

    def safety_number(self, group: GroupRef, member: MemberRef) -> str:
        """The 60-digit number to compare, in person, with *member*'s device."""
        with self._lock:
            view = self._view(group)
            pk = V.to_bytes(member, 32, "member id")
            assert view.state is not None
            record = view.state.member_record(pk)
            if record is None:
                raise NotAMemberError("that key is not a member of this group")
            return core_safety_number(view.me.public, record.identity)

    def export_identity(self, group: GroupRef, passphrase: str) -> bytes:
        """This device's identity in a group, sealed under *passphrase* (a keystore file's
        bytes, Argon2id). With it, :meth:`import_identity` on another device rejoins as the
        same member; epoch keys come again from the relay. Keep it as safe as the keystore."""
        with self._lock:
            view = self._view(group)
            return seal_identity_export(ExportedIdentity(view.me, view.group_id, view.relay_url),
                                        passphrase)

    def import_identity(self, data: bytes, passphrase: str) -> GroupInfo:
        """Take an identity exported by :meth:`export_identity` and sync its group."""
        with self._lock:
            self._check_open()
            exported = open_identity_export(data, passphrase)
            gid = exported.group_id
            if self._store.group(gid) is not None:
                raise AlreadyMemberError("this device is already in that group")
            transport = self._transport(exported.relay_url)
            auth = MemberAuth(gid, exported.identity)
            state, entries = self._fetch_log(transport, auth, gid)
            if not state.is_member(exported.identity.sign_pk):
                raise NotAMemberError("this identity is no longer a member of its group")
            self._keys.add_identity(gid, exported.identity)
            self._store.add_group(gid, exported.relay_url, "member", "none", self._now())
            self._store.replace_log(gid, entries, state.checkpoint().encode())
            view = self._view(gid)
            self._sync(view)
            return self._info(view)

    # --- posting -------------------------------------------------------------------------------

    def post(self, group: GroupRef, text: str, *, content_warning: str | None = None,
             expires_in: timedelta | float | None = None,
             attachments: Sequence[V.AttachmentInput] = ()) -> Posted:
        """Post to the group. ``content_warning`` makes readers' clients hide the post until
        asked; ``expires_in`` (timedelta or seconds) makes every copy disappear then;
        ``attachments`` are ``(bytes, media_type)`` pairs or file paths, encrypted and
        uploaded as blobs.

        The post is kept on this device before it is sent, and sent exactly once: if the
        relay cannot be reached, :attr:`Posted.delivered` is False and the next
        :meth:`sync` sends it.
        """
        return self._publish(group, PostKind.POST, (), text, content_warning, expires_in,
                             attachments)

    def reply(self, group: GroupRef, to: PostRef, text: str, *,
              content_warning: str | None = None, expires_in: timedelta | float | None = None,
              attachments: Sequence[V.AttachmentInput] = ()) -> Posted:
        """Reply to a post or to another reply (as :meth:`post`)."""
        target = V.to_bytes(to, 16, "post id")
        return self._publish(group, PostKind.REPLY, (target,), text, content_warning,
                             expires_in, attachments)

    def react(self, group: GroupRef, to: PostRef, reaction: str) -> Posted:
        """React to a post or reply (1 to 64 bytes of text, e.g. an emoji)."""
        return self._publish(group, PostKind.REACTION, (V.to_bytes(to, 16, "post id"),),
                             reaction, None, None, ())

    def edit(self, group: GroupRef, post: PostRef, text: str, *,
             content_warning: str | None = None,
             attachments: Sequence[V.AttachmentInput] = ()) -> Posted:
        """Replace the text, warning and attachments of one's own post or reply."""
        return self._publish(group, PostKind.EDIT, (V.to_bytes(post, 16, "post id"),), text,
                             content_warning, None, attachments)

    def delete(self, group: GroupRef, post: PostRef) -> Posted:
        """Delete one's own post, reply or reaction (moderators: anyone's). Members' clients
        drop its content; the relay erases its ciphertext."""
        target = V.to_bytes(post, 16, "post id")
        posted = self._publish(group, PostKind.DELETE, (target,), "", None, None, ())
        with self._lock:
            view = self._member_view(group)
            with contextlib.suppress(NotFoundError, ForbiddenError, RelayUnreachableError):
                self._transport(view.relay_url).delete_post(self._auth(view), target)
        return posted

    def _publish(self, group: GroupRef, kind: PostKind, refs: tuple[bytes, ...], text: str,
                 warning: str | None, expires_in: timedelta | float | None,
                 attachments: Sequence[V.AttachmentInput]) -> Posted:
        with self._lock:
            view = self._member_view(group)
            self._freshen(view)
            state = view.state
            assert state is not None
            check_can_post(state, state.epoch, author=view.me.sign_pk)
            key = self._key_for(view, state.epoch)
            now = max(self._now(), state.timestamp_ms)
            expires_ms = _ms(expires_in)
            expires = None if expires_ms is None else now + expires_ms
            made = [make_attachment(*V.read_attachment(a)) for a in attachments]
            gid = view.group_id
            post_id = default_random(16)
            with self._store.tx() as db:
                seq = self._store.take_author_seq(db, gid)
                body = PostBody(
                    author=view.me.sign_pk, group_id=gid, epoch=state.epoch, post_id=post_id,
                    author_seq=seq, log_seq=state.seq, log_head=state.head, timestamp_ms=now,
                    kind=kind, refs=refs, text=text, content_warning=warning,
                    attachments=tuple(a for a, _ in made), expires_at_ms=expires)
                envelope = seal_post(view.me, key, body)
                opened = open_post(envelope, key, state)
                blobs = [(a.blob_id, self._seal("outbox-blob", record_id(gid, a.blob_id), blob))
                         for a, blob in made]
                self._store.queue(db, gid, post_id, now,
                                  self._seal("outbox-post", record_id(gid, post_id),
                                             envelope.encode()), blobs)
                self._store.save_posts(db, gid, [(
                    post_id, None, state.epoch, expires,
                    self._seal("post", record_id(gid, post_id), encode_stored_post(opened)))])
            view.timeline.add(opened)
            if expires is not None:
                view.expiring[opened.post_id] = expires
            try:
                self._flush_outbox(view, [])
            except RelayUnreachableError:
                return Posted(view.gid, b64encode(post_id), False)
            return Posted(view.gid, b64encode(post_id), True)

    def _freshen(self, view: GroupView) -> None:
        """Before writing: the latest log (so nothing goes out under a key a removed member
        holds), a rotation this admin owes, and the current key. Offline, the local state
        is used and the post waits in the outbox."""
        events: list[ev.Event] = []
        warnings: list[ev.SyncWarning] = []
        try:
            changed = self._sync_log(view, events, warnings)
            state = view.state
            assert state is not None
            if state.rotation_pending and state.is_admin(view.me.sign_pk):
                self._rotate(view, events)
            elif changed or state.epoch not in view.keys:
                self._sync_grants(view, events, warnings, force=True)
        except RelayUnreachableError:
            pass
        for warning in warnings:
            self._warn(warning)
        if view.status != "member":
            raise NotAMemberError("this device is no longer a member of that group")

    def _key_for(self, view: GroupView, epoch: int) -> bytes:
        key = view.keys.get(epoch)
        if key is None:
            raise EpochKeyMissingError(
                "this device does not hold the group's current key yet: an admin's device "
                "shares it after admitting or rotating; sync again in a moment"
            )
        return key

    def _flush_outbox(self, view: GroupView, warnings: list[ev.SyncWarning]) -> int:
        """Send posts waiting on this device; returns how many are still waiting."""
        gid = view.group_id
        transport = self._transport(view.relay_url)
        auth = self._auth(view)
        for post_id, sealed, blobs in self._store.outbox(gid):
            for blob_id, sealed_blob in blobs:
                blob = self._open("outbox-blob", record_id(gid, blob_id), sealed_blob)
                transport.put_blob(auth, blob_id, blob)
                self._store.blob_sent(gid, blob_id)
            envelope = self._open("outbox-post", record_id(gid, post_id), sealed)
            try:
                cursor: str | None = transport.put_post(auth, post_id, envelope)
            except (PostConflictError, PostDeletedError, PostRejectedError, MalformedError,
                    TooLargeError) as error:
                warning = ev.UndeliverablePost(view.gid, f"a post could not be delivered and "
                                               f"was dropped: {error.message}",
                                               b64encode(post_id), error.code)
                warnings.append(warning)
                self._warn(warning)
                cursor = None
            self._store.sent(gid, post_id, cursor)
        return self._store.outbox_count(gid)

    def attachment(self, group: GroupRef, attachment: Any) -> bytes:
        """Download and decrypt an attachment (an :class:`AttachmentInfo` from a post)."""
        with self._lock:
            view = self._member_view(group)
            ref = attachment.ref
            blob = self._transport(view.relay_url).get_blob(self._auth(view), ref.blob_id)
            return decrypt_attachment(ref, blob)

    # --- reading -------------------------------------------------------------------------------

    def posts(self, group: GroupRef) -> list[PostView]:
        """Every visible post and reply, in causal order (from this device's store; call
        :meth:`sync` first to fetch new ones). Edits, deletions and reactions are applied;
        posts with a content warning have ``hidden_by_default`` set."""
        with self._lock:
            view = self._view(group)
            if view.state is None:
                return []
            return V.post_views(view, self._now())

    def threads(self, group: GroupRef) -> list[Thread]:
        """Posts grouped into threads: each top-level post with every reply under it."""
        return V.threads(self.posts(group))

    def get_post(self, group: GroupRef, post: PostRef) -> PostView:
        pid = b64encode(V.to_bytes(post, 16, "post id"))
        for item in self.posts(group):
            if item.post_id == pid:
                return item
        raise NotFoundError("no such post on this device")

    def warnings(self) -> list[ev.SyncWarning]:
        """Every warning reported since this client opened, oldest first."""
        with self._lock:
            return list(self._warnings)

    def _warn(self, warning: ev.SyncWarning) -> None:
        self._warnings.append(warning)

    # --- syncing ---------------------------------------------------------------------------------

    def sync(self, group: GroupRef | None = None) -> list[SyncReport]:
        """Fetch and verify what is new: the membership log (a rollback or fork raises
        :class:`RollbackError` / :class:`ForkError`), this device's key grants, and posts.
        Sends posts waiting on this device first. An admin's device also does its duties:
        a new epoch after someone left, keys for members who joined by invite.

        With no *group*, syncs every group this device is a member of (or waits to join).
        """
        with self._lock:
            self._check_open()
            if group is not None:
                return [self._sync(self._view(group))]
            reports = []
            for row in self._store.groups():
                if row.status in ("member", "pending"):
                    reports.append(self._sync(self._view(row.group_id)))
            return reports

    def wait(self, group: GroupRef, timeout: float = 25.0) -> SyncReport:
        """Wait (long-poll, up to *timeout* seconds, at most 30) until something new
        happens in the group, then sync it. Releases the client's lock while waiting."""
        with self._lock:
            view = self._member_view(group)
            transport = self._transport(view.relay_url)
            auth = self._auth(view)
            cursor = view.event_cursor or view.post_cursor or "0"
        page = transport.events(auth, cursor, max(0, min(30, int(timeout))))
        with self._lock:
            if page.cursor != cursor:
                view.event_cursor = page.cursor
                self._store.update_group(view.group_id, event_cursor=page.cursor)
            return self._sync(view)

    def _sync(self, view: GroupView) -> SyncReport:
        events: list[ev.Event] = []
        warnings: list[ev.SyncWarning] = []
        new_posts = 0
        unreadable = 0
        if view.status == "pending":
            self._check_pending(view, events)
        if view.status == "member":
            self._flush_outbox(view, warnings)
            changed = self._sync_log(view, events, warnings)
            if view.status == "member":
                self._sync_grants(view, events, warnings,
                                  force=changed or engine.missing_keys(view))
                new_posts, unreadable = self._sync_posts(view, events, warnings)
                self._expire(view)
                self._duties(view, events, warnings)
        for warning in warnings:
            self._warn(warning)
        state = view.state
        return SyncReport(view.gid, tuple(events), tuple(warnings), new_posts,
                          -1 if state is None else state.seq,
                          self._store.outbox_count(view.group_id), unreadable)

    def _fetch_log(self, transport: Transport, auth: Auth, gid: bytes,
                   known: GroupState | None = None) -> tuple[GroupState, list[bytes]]:
        """The relay's log up to its head, verified page by page as it arrives: from the
        genesis entry, or on top of *known* (whose last entry the relay serves again first).
        Returns the verified state and the entries served. Reading stops at the first page
        that does not verify, so a relay cannot make this device fetch, and hold, an endless
        log."""
        start = 0 if known is None else known.seq
        fetched: list[bytes] = []
        state = known
        while True:
            page = transport.read_log(auth, start + len(fetched), 500)
            if state is None:
                state = verify_log(gid, page.entries, now_ms=self._now())
            elif not fetched:
                state = engine.apply_log(state, page.entries, page.head_seq, self._now())
            else:
                state = extend_log(state, page.entries, now_ms=self._now())
            fetched.extend(page.entries)
            if not page.entries or start + len(fetched) > page.head_seq:
                return state, fetched

    def _sync_log(self, view: GroupView, events: list[ev.Event],
                  warnings: list[ev.SyncWarning], reader: Auth | None = None) -> bool:
        """Bring the verified log to the relay's head; True if it moved."""
        old = view.state
        assert old is not None
        transport = self._transport(view.relay_url)
        new, served = self._fetch_log(transport, reader or self._auth(view), view.group_id, old)
        if new.seq == old.seq:
            return False
        added = served[1:]
        self._store.save_log(view.group_id, old.seq + 1, added, new.checkpoint().encode())
        view.entries.extend(added)
        view.state = new
        self._adopt_saved_keys(view)
        for event in engine.log_events(view, old, new):
            if isinstance(event, ev.SyncWarning):
                warnings.append(event)
            else:
                events.append(event)
            if isinstance(event, ev.RemovedFromGroup):
                view.status = "removed" if event.removed else "left"
                self._store.update_group(view.group_id, status=view.status)
        return True

    def _adopt_saved_keys(self, view: GroupView) -> None:
        """Take up keys this device saved for epochs the log has only now shown to start:
        a rotation of its own whose answer was lost (the relay went away), found landed."""
        for epoch, sealed in self._store.epoch_keys(view.group_id):
            if epoch not in view.keys:
                key = self._open("epoch-key", record_id(view.group_id, epoch), sealed)
                if engine.key_matches(view.state, epoch, key):
                    view.keys[epoch] = key

    def _sync_grants(self, view: GroupView, events: list[ev.Event],
                     warnings: list[ev.SyncWarning], *, force: bool) -> None:
        state = view.state
        assert state is not None
        if not force and state.epoch in view.keys:
            return
        got = False
        for epoch, raw in self._transport(view.relay_url).grants(self._auth(view)):
            if epoch in view.keys or epoch > state.epoch:
                continue
            try:
                grant = EpochGrant.decode(raw)
                if grant.epoch != epoch or grant.group_id != view.group_id:
                    raise GrantError("the relay served a grant under another epoch or group")
                key = open_grant(grant, view.me, state)
            except VaultError as error:
                warnings.append(ev.InvalidGrant(view.gid, f"a key grant was refused: "
                                                f"{error.message}", epoch, error.code))
                continue
            self._save_key(view, epoch, key)
            view.keys[epoch] = key
            # This device's own grant is on the relay: that epoch's grants went out (see
            # engine.owed_grants), also when this identity was imported from another device.
            self._store.record_issued(view.group_id, epoch, [view.me.sign_pk])
            view.issued.add((epoch, view.me.sign_pk))
            events.append(ev.KeyReceived(view.gid, epoch))
            got = True
        if got and view.held:
            self._retry_held(view, events, warnings)

    def _sync_posts(self, view: GroupView, events: list[ev.Event],
                    warnings: list[ev.SyncWarning]) -> tuple[int, int]:
        transport = self._transport(view.relay_url)
        auth = self._auth(view)
        gaps: dict[bytes, list[tuple[int, int]]] = {}
        unknown: list[tuple[bytes, int, str]] = []
        total = unreadable = 0
        # Pages are written to the local store together, up to _COMMIT_POSTS at a time (one
        # durable commit each, not one per page); whatever was read is written on the way
        # out, also when a later page fails.
        unwritten: list[tuple[engine.Ingest, str | None]] = []
        count = 0
        assert view.state is not None
        fence = view.state.seq  # see GroupView.fence_seq: set once this read completes
        try:
            while True:
                page = transport.posts(auth, view.post_cursor, _POST_PAGE)
                items = [(p.post_id, p.cursor, p.envelope) for p in page.posts
                         if not p.deleted and p.envelope is not None]
                result = engine.ingest(view, items)
                for gone in (p.post_id for p in page.posts if p.deleted or p.envelope is None):
                    if gone not in view.tombstones and gone not in view.rejected:
                        view.tombstones.add(gone)
                        result.rejected.append((gone, TOMBSTONE))
                self._apply(view, result)
                unwritten.append((result, page.cursor))
                count += len(page.posts)
                if count >= _COMMIT_POSTS:
                    self._write(view, unwritten)
                    unwritten, count = [], 0
                events.extend(result.events)
                warnings.extend(result.warnings)
                for author, ranges in result.gaps.items():
                    gaps.setdefault(author, []).extend(ranges)
                unknown.extend(result.unknown_heads)
                total += len(result.stored)
                unreadable += result.unreadable_history
                if page.cursor is not None:
                    view.post_cursor = page.cursor
                if not page.more or not page.posts:
                    break
        finally:
            if unwritten:
                self._write(view, unwritten)
        view.fence_seq = fence
        saved = f"{view.post_cursor or ''}/{fence}"
        if self._fences.get(view.group_id) != saved:  # (a write only when it moved)
            self._store.set_meta(_fence_key(view.group_id), saved)
            self._fences[view.group_id] = saved
        if unknown:
            assert view.state is not None
            if any(seq > view.state.seq for _, seq, _ in unknown):
                self._sync_log(view, events, warnings)
            still = self._retry_held(view, events, warnings)
            for post_id, log_seq, reason in unknown:
                if post_id in still:
                    warnings.append(ev.UnknownLogHead(view.gid, reason, b64encode(post_id),
                                                      log_seq))
        warnings.extend(engine.gap_warnings(view, gaps))
        return total, unreadable

    def _retry_held(self, view: GroupView, events: list[ev.Event],
                    warnings: list[ev.SyncWarning]) -> set[bytes]:
        """Try held posts again; returns those that still name a log this device lacks."""
        items = [(pid, cursor, raw) for pid, (cursor, raw) in view.held.items()]
        result = engine.ingest(view, items, retrying=True)
        self._commit(view, result, None)
        events.extend(result.events)
        warnings.extend(result.warnings)
        return {post_id for post_id, _seq, _reason in result.unknown_heads}

    def _commit(self, view: GroupView, result: engine.Ingest, cursor: str | None) -> None:
        self._write(view, [(result, cursor)])
        self._apply(view, result)

    def _write(self, view: GroupView, pages: Sequence[tuple[engine.Ingest, str | None]]
               ) -> None:
        """Write what ingesting *pages* decided to the local store, in one transaction."""
        gid = view.group_id
        with self._store.tx() as db:
            for result, cursor in pages:
                rows = [(opened.post_id, c, opened.body.epoch, opened.body.expires_at_ms,
                         self._seal("post", record_id(gid, opened.post_id),
                                    encode_stored_post(opened)))
                        for opened, c in result.stored]
                self._store.save_posts(db, gid, rows)
                self._store.hold(db, gid, result.held)
                self._store.unhold(db, gid, _done(result))
                self._store.reject(db, gid, result.rejected)
                self._store.set_cursor(db, gid, cursor)
        highest = max(result.highest_own_seq for result, _ in pages)
        if highest:
            self._store.bump_author_seq(gid, highest + 1)

    @staticmethod
    def _apply(view: GroupView, result: engine.Ingest) -> None:
        """What ingesting decided, in memory (the timeline itself is updated by ingest)."""
        for opened, _c in result.stored:
            if opened.body.expires_at_ms is not None:
                view.expiring[opened.post_id] = opened.body.expires_at_ms
        for pid, c, raw in result.held:
            view.held[pid] = (c, raw)
        for pid in _done(result):
            view.held.pop(pid, None)
        view.rejected.update(pid for pid, _ in result.rejected)

    def _expire(self, view: GroupView) -> None:
        now = self._now()
        due = [pid for pid, when in view.expiring.items() if when <= now]
        expired = [p for p in (view.timeline.get(pid) for pid in due) if p is not None]
        for pid in due:
            del view.expiring[pid]
        if not expired:
            return
        gid = view.group_id
        stubs = []
        for post in expired:
            stub = PostStub(post.post_id, post.body.author, post.body.author_seq)
            stubs.append((post.post_id, self._seal("post", record_id(gid, post.post_id),
                                                   encode_post_stub(stub))))
            view.stubs.setdefault(stub.author, set()).add(stub.author_seq)
            view.stub_ids.add(stub.post_id)
        self._store.make_stubs(gid, stubs)
        timeline = Timeline()
        for post in view.timeline.ordered():
            if post.post_id not in view.stub_ids:
                timeline.add(post)
        view.timeline = timeline

    def _duties(self, view: GroupView, events: list[ev.Event],
                warnings: list[ev.SyncWarning]) -> None:
        """What this device does by itself: an admin rotates after a leave and grants keys
        it owes; every member re-encrypts its profile for a new epoch."""
        try:
            if engine.needs_rotation(view):
                self._rotate(view, events)
            for epoch, recipients in engine.owed_grants(view).items():
                self._issue(view, epoch, recipients)
            state = view.state
            assert state is not None
            meta = state.group_metadata
            if meta is not None and meta.epoch < state.epoch and state.epoch in view.keys \
                    and view.entry(state.epoch_start_seq[state.epoch]).author == view.me.sign_pk:
                # This device started the epoch but did not finish (the relay went away):
                # the group's name goes into the new epoch, as a rotation does.
                current = V.group_metadata(view)
                if current is not None:
                    self._publish_group_metadata(view, current)
            mine = state.profiles.get(view.me.sign_pk)
            if mine is not None and mine.epoch < state.epoch and state.epoch in view.keys:
                name = V.display_name(view, view.me.sign_pk)
                if name is not None:
                    self._publish_profile(view, MemberProfile(name))
        except (LogConflictError, RotationPendingError, EpochStaleError):
            pass  # another admin acted first, or an admin must rotate: the next sync looks again

    # --- log writes --------------------------------------------------------------------------

    def _append(self, view: GroupView, build: Callable[[GroupState], EntryBody], *,
                as_member: bool = True, reader: Auth | None = None) -> LogEntry:
        """Append one entry built on the current head: checked locally by the core's rules
        first, compare-and-swap at the relay, and on an unanswered request the log is read
        again to see whether the entry landed (never sent blindly twice on a new head)."""
        transport = self._transport(view.relay_url)
        auth = self._auth(view) if as_member else None
        last: LogEntry | None = None
        ambiguous = False
        for _attempt in range(_APPEND_ATTEMPTS):
            self._sync_log(view, [], [], reader)
            state = view.state
            assert state is not None
            if last is not None and state.hash_at(last.seq) == last.hash:
                return last  # an earlier unanswered attempt did land
            now = self._now()
            if last is None or state.seq != last.seq - 1 or state.head != last.prev_hash:
                last = new_entry(state, view.me, build(state), now_ms=now)
            new_state = apply_entry(state, last, now_ms=max(now, last.timestamp_ms))
            try:
                transport.append(auth, view.group_id, last.raw)
            except LogConflictError:
                continue
            except AmbiguousAppend:
                ambiguous = True  # the next pass reads the log to see whether it landed
                continue
            self._store.save_log(view.group_id, last.seq, [last.raw],
                                 new_state.checkpoint().encode())
            view.entries.append(last.raw)
            old, view.state = state, new_state
            for event in engine.log_events(view, old, new_state):
                if isinstance(event, ev.RemovedFromGroup):
                    view.status = "left"
                    self._store.update_group(view.group_id, status="left")
            return last
        self._sync_log(view, [], [], reader)  # RelayUnreachableError: still cannot tell
        if last is not None and view.state is not None and \
                view.state.hash_at(last.seq) == last.hash:
            return last
        if ambiguous:
            raise RelayUnreachableError(
                "the relay did not confirm the change and it has not appeared in the log; "
                "nothing was changed — try again")
        raise LogConflictError("the group's log kept changing while this device tried to "
                               "change it; try again")

    def _rotate(self, view: GroupView, events: list[ev.Event], *,
                remove: bytes | None = None) -> int:
        holder: dict[str, Any] = {}

        def build(state: GroupState) -> EntryBody:
            epoch = state.epoch + 1
            key = new_epoch_key()
            self._save_key(view, epoch, key)  # before the entry exists: never lose a key
            holder["epoch"], holder["key"] = epoch, key
            commitment = epoch_commitment(commitment_group_id(view.group_id, epoch), epoch, key)
            if remove is not None:
                return RemoveBody(remove, epoch, commitment)
            return RotateBody(epoch, commitment)

        self._append(view, build)
        epoch: int = holder["epoch"]
        view.keys[epoch] = holder["key"]
        events.append(ev.EpochStarted(view.gid, epoch))
        assert view.state is not None
        # Everyone, this device included: its own grant lets an imported identity (a new
        # phone) recover the key from the relay.
        self._issue(view, epoch, [m.identity for m in view.state.members.values()])
        meta = None
        with contextlib.suppress(VaultError):
            old = view.state.group_metadata
            if old is not None and old.epoch < epoch:
                meta = V.group_metadata(view)
        if meta is not None:
            self._publish_group_metadata(view, meta)
        mine = view.state.profiles.get(view.me.sign_pk)
        if mine is not None and mine.epoch < epoch:
            name = V.display_name(view, view.me.sign_pk)
            if name is not None:
                self._publish_profile(view, MemberProfile(name))
        return epoch

    def _issue(self, view: GroupView, epoch: int, recipients: Sequence[PublicIdentity]) -> None:
        """Grant *epoch*'s key to *recipients* (one request per 5,000), recording it."""
        if not recipients:
            return
        key = self._key_for(view, epoch)
        transport = self._transport(view.relay_url)
        auth = self._auth(view)
        for start in range(0, len(recipients), _GRANT_CHUNK):
            chunk = list(recipients[start:start + _GRANT_CHUNK])
            grants = build_grants(view.me, view.group_id, epoch, key, chunk)
            try:
                transport.upload_grants(auth, epoch, [g.encode() for g in grants])
            except GrantConflictError:  # another admin granted some already
                for grant in grants:
                    with contextlib.suppress(GrantConflictError):
                        transport.upload_grants(auth, epoch, [grant.encode()])
            pks = [r.sign_pk for r in chunk]
            self._store.record_issued(view.group_id, epoch, pks)
            view.issued.update((epoch, pk) for pk in pks)


# --- helpers ---------------------------------------------------------------------------------


def _fence_key(group_id: bytes) -> str:
    return "post-fence/" + b64encode(group_id)


def _fence_from(saved: str | None, post_cursor: str | None) -> int:
    """The saved fence (see :attr:`GroupView.fence_seq`), if it belongs to the post cursor
    the group is at (a read cut short, or a group joined again, starts without one)."""
    cursor, _, seq = (saved or "").rpartition("/")
    if saved is None or cursor != (post_cursor or "") or not seq.isdigit():
        return -1
    return int(seq)


def _done(result: engine.Ingest) -> set[bytes]:
    """Posts no longer held: released after a retry, or rejected."""
    return set(result.released) | {pid for pid, _ in result.rejected}


def _add_body(request: JoinRequest, role: Role) -> EntryBody:
    from vault.crypto.log import AddBody

    return AddBody(request.joiner, Role(role), request.invite_id, request.proof)


def _status(text: str) -> GroupStatus:
    if text in ("member", "pending", "denied", "removed", "left"):
        return text  # type: ignore[return-value]
    raise LocalStoreError("the local store holds an unknown group status")


def _check_policy(policy: HistoryPolicy) -> HistoryPolicy:
    if isinstance(policy, bool) or not (policy in ("none", "current", "all") or (
            isinstance(policy, int) and policy >= 0)):
        raise ValueError("history policy is 'none', 'current', 'all' or an epoch number >= 0")
    return policy


def _policy_text(policy: HistoryPolicy) -> str:
    return str(policy)


def _policy_from_text(text: str) -> HistoryPolicy:
    if text in ("none", "current", "all"):
        return text  # type: ignore[return-value]
    return int(text)


def _no_relay() -> str:
    raise ValueError("no relay: pass relay_url to Client(...) or to create_group(...)")


def _lock_home(home: str) -> Any:
    """Hold an exclusive lock on the home directory for the client's lifetime."""
    path = os.path.join(home, LOCK_FILE)
    handle = open(path, "a+b")  # noqa: SIM115 - held open on purpose
    try:
        import fcntl

        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except ImportError:  # pragma: no cover - not POSIX: no lock
        pass
    except OSError:
        handle.close()
        raise LocalStoreError(
            f"another Vault client is using {home}; close it first (one client per home)"
        ) from None
    return handle


def _unlock_home(handle: Any) -> None:
    with contextlib.suppress(OSError):
        handle.close()

