"""What one open client holds, and the steps every part of it shares.

A :class:`Device` is the unlocked keystore, the local store, the connections to relays and
the groups loaded in memory (:class:`GroupView`). The modules next to this one do the work
of the client's methods as functions of a device and a group's view; the
:class:`~vault_client.Client` holds the lock around every call, so nothing here is
thread-safe by itself.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from typing import Final

import httpx

from vault.crypto.encoding import b64decode, b64encode
from vault.crypto.errors import DecryptionError, MalformedError, NotAMemberError
from vault.crypto.freshness import Arrival
from vault.crypto.group_state import GroupState, LogCheckpoint
from vault.crypto.identity_export import MARKS_PER_CHUNK, decode_post_marks, encode_post_marks
from vault.crypto.localstore import (
    decode_muted_members,
    decode_post_stub,
    decode_stored_post,
    encode_muted_members,
    open_record,
    record_id,
)
from vault.crypto.localstore import seal_record as seal_local_record
from vault.crypto.log_verify import verify_log
from vault.crypto.post_body import PostBody
from vault_client import events as ev
from vault_client._internal import refs
from vault_client._internal import sync as engine
from vault_client._internal import views as V
from vault_client._internal.group_view import GroupView, Held
from vault_client._internal.home import DATABASE_FILE, KEYSTORE_FILE, KEYSTORE_LOCK, SEND_LOCK
from vault_client._internal.keys import KeyHolder, Passphrase, exclusive_lock
from vault_client._internal.refs import GroupRef
from vault_client._internal.store import Store
from vault_client._internal.transport import MemberAuth, Transport
from vault_client.errors import (
    EpochKeyMissingError,
    InvalidArgumentError,
    JoinDeniedError,
    JoinPendingError,
    LocalStoreError,
    NotPermittedError,
    RelayUnreachableError,
    UnknownGroupError,
)
from vault_client.types import GroupStatus, HistoryPolicy, RetryNotice


class Device:
    """A member's device, opened: keys, local store, relays, and groups in memory."""

    def __init__(self, home: str, passphrase: Passphrase, *, timeout: float, retry_for: float,
                 clock: Callable[[], int], transport: httpx.BaseTransport | None,
                 on_retry: Callable[[RetryNotice], None] | None = None) -> None:
        self.home = home
        self.closed = False
        self.views: dict[bytes, GroupView] = {}
        self.transports: dict[str, Transport] = {}
        self.warnings: list[ev.SyncWarning] = []
        self._warned: set[int] = set()  # ids of the warnings kept (each kept once)
        self.fences: dict[bytes, str] = {}
        """The post fence saved for each group (see :func:`fence_key`), to write it only
        when it moves."""
        self._timeout = timeout
        self._retry_for = retry_for
        self._clock = clock
        self._http_transport = transport
        self._on_retry = on_retry
        self.keys = KeyHolder(os.path.join(home, KEYSTORE_FILE), passphrase,
                              os.path.join(home, KEYSTORE_LOCK))
        self.keys.unlock()
        self.store_key = self.keys.store_key()
        self.store = Store(os.path.join(home, DATABASE_FILE))
        self._store_version = self.store.data_version()
        self._check_store_owner()

    def close(self) -> None:
        """Close connections and the local store, and forget the unlocked keys."""
        self.closed = True
        for transport in self.transports.values():
            transport.close()
        self.store.close()
        self.keys.lock()
        self.views.clear()

    def check_open(self) -> None:
        if self.closed:
            raise LocalStoreError("this client is closed; open a new Client")

    def _check_store_owner(self) -> None:
        marker = self.store.meta("owner")
        rid = record_id(b"owner")
        if marker is None:
            sealed = self.seal("owner", rid, b"vault-local-store")
            self.store.set_meta("owner", b64encode(sealed))
            return
        try:
            open_record(self.store_key, "owner", rid, b64decode(marker))
        except (DecryptionError, MalformedError):
            raise LocalStoreError(
                f"the local store in {self.home} belongs to another keystore; use the "
                "keystore it was made with, or wipe it"
            ) from None

    def now(self) -> int:
        return self._clock()

    def transport(self, relay_url: str) -> Transport:
        transport = self.transports.get(relay_url)
        if transport is None:
            transport = Transport(relay_url, timeout=self._timeout, retry_for=self._retry_for,
                                  transport=self._http_transport, on_retry=self._on_retry)
            self.transports[relay_url] = transport
        return transport

    def warn(self, warning: ev.SyncWarning) -> None:
        """Keep *warning* (once: a warning told as it happens is also in its sync's list,
        which the sync tells when it ends)."""
        if id(warning) not in self._warned:
            self._warned.add(id(warning))
            self.warnings.append(warning)

    # --- local records -------------------------------------------------------------------------

    def seal(self, kind: str, rid: bytes, plaintext: bytes) -> bytes:
        return seal_local_record(self.store_key, kind, rid, plaintext)

    def unseal(self, kind: str, rid: bytes, sealed: bytes) -> bytes:
        try:
            return open_record(self.store_key, kind, rid, sealed)
        except (DecryptionError, MalformedError):
            raise LocalStoreError(
                "a record in the local store is damaged or was moved; wipe the local store "
                "and sync again"
            ) from None

    # --- groups in memory ----------------------------------------------------------------------

    def view(self, group: GroupRef) -> GroupView:
        """A group's view (*group*: its id, as text or bytes, or a result carrying it),
        loaded from the local store the first time."""
        self.check_open()
        self._catch_up()
        gid = refs.group_id(group, self._group_names)
        view = self.views.get(gid)
        if view is None:
            view = self._load(gid)
            self.views[gid] = view
        return view

    def _catch_up(self) -> None:
        """Another program sharing this home wrote to the local store: the groups in memory
        are loaded again from it (lazily), so nothing it did is overlooked or undone."""
        version = self.store.data_version()
        if version != self._store_version:
            self._store_version = version
            self.views.clear()

    def sending(self) -> contextlib.AbstractContextManager[None]:
        """One program at a time sends what waits in the outboxes (and seals it)."""
        return exclusive_lock(os.path.join(self.home, SEND_LOCK))

    def _group_names(self) -> list[tuple[bytes, str | None]]:
        found: list[tuple[bytes, str | None]] = []
        for row in self.store.groups():
            meta = V.group_metadata(self.view(row.group_id))
            found.append((row.group_id, None if meta is None else meta.name))
        return found

    def member_view(self, group: GroupRef) -> GroupView:
        """As :meth:`view`, for a group this device is a member of (else the typed error)."""
        view = self.view(group)
        if view.status == "pending":
            raise JoinPendingError("this device's join request is still waiting for an admin")
        if view.status == "denied":
            raise JoinDeniedError("an admin denied this device's join request")
        if view.status == "creating":
            raise RelayUnreachableError(
                "this group is not created on the relay yet (it could not be reached); it is "
                "kept on this device and created when you sync")
        if view.status == "removed":
            raise NotAMemberError(
                "an admin removed you from this group, so this device can no longer read "
                "what is new or write there; what it kept stays readable here until you "
                "forget the group")
        if view.status == "left" or view.state is None or not view.state.is_member(
                view.me.sign_pk):
            raise NotAMemberError("this device is no longer a member of that group")
        return view

    def _load(self, gid: bytes) -> GroupView:
        row = self.store.group(gid)
        if row is None:
            raise UnknownGroupError("this device is not in that group")
        identity = self.keys.identity(gid)
        if identity is None:
            raise LocalStoreError("the keystore holds no identity for this group")
        entries = self.store.log_entries(gid)
        state: GroupState | None = None
        if entries:
            checkpoint = None if row.checkpoint is None else LogCheckpoint.decode(row.checkpoint)
            state = verify_log(gid, entries, checkpoint=checkpoint)
        view = GroupView(gid, row.relay_url, row.status, identity, state, entries,
                         policy_from_text(row.history_policy),
                         post_cursor=row.post_cursor, event_cursor=row.event_cursor,
                         number=row.number)
        saved = self.store.meta(fence_key(gid))
        view.fence_seq = fence_from(saved)
        if saved is not None:
            self.fences[gid] = saved
        for epoch, sealed in self.store.epoch_keys(gid):
            key = self.unseal("epoch-key", record_id(gid, epoch), sealed)
            matches = engine.key_matches(state, epoch, key)
            if matches is False:
                self.store.delete_epoch_key(gid, epoch)  # a candidate that never landed
            elif matches:
                view.keys[epoch] = key
            # None: a candidate for an epoch the log does not show yet (this device's own
            # rotation whose answer was lost): taken up only if the log shows it start.
        for post in self.store.posts(gid):
            plaintext = self.unseal("post", record_id(gid, post.post_id), post.sealed)
            view.arrivals[post.post_id] = Arrival(post.known_seq, post.fence_seq)
            if post.stub:
                stub = decode_post_stub(plaintext)
                view.stubs.setdefault(stub.author, set()).add(stub.author_seq)
                view.stub_ids.add(stub.post_id)
            else:
                opened = decode_stored_post(plaintext)
                view.timeline.add(opened)
                if opened.body.expires_at_ms is not None:
                    view.expiring[opened.post_id] = opened.body.expires_at_ms
        view.marks = self.load_marks(gid)
        for author, seq in view.marks.items():
            gap = view.timeline.expect(author, seq)
            if gap is not None:
                view.mark_gaps.setdefault(author, []).append((gap.first, gap.last))
        for held in self.store.held(gid):
            view.held[held.post_id] = Held(held.cursor, held.envelope,
                                           Arrival(held.known_seq, held.fence_seq))
        for waiting in self.store.outbox(gid):
            view.unsent.add(waiting.post_id)
            if not waiting.sealed and waiting.draft is not None:
                view.drafts[waiting.post_id] = PostBody.decode(
                    self.unseal("outbox-draft", record_id(gid, waiting.post_id), waiting.draft))
        view.rejected = self.store.rejected(gid)
        view.tombstones = self.store.tombstones(gid)
        view.issued = self.store.issued(gid)
        view.muted = self._muted(gid)
        return view

    def _muted(self, gid: bytes) -> frozenset[bytes]:
        """The members this device mutes in the group (see :mod:`.muting`)."""
        return self.muted_from(gid, self.store.meta(muted_key(gid)))

    def muted_from(self, gid: bytes, saved: str | None) -> frozenset[bytes]:
        """The muted members a saved ``muted/`` value holds (None: nobody)."""
        if saved is None:
            return frozenset()
        plain = self.unseal(MUTED_KIND, record_id(gid), b64decode(saved))
        try:
            return decode_muted_members(plain)
        except MalformedError:
            raise LocalStoreError("the list of members muted on this device is damaged; "
                                  "wipe the local store and sync again") from None

    def muted_to_save(self, gid: bytes, members: frozenset[bytes]) -> str:
        """The ``muted/`` value that holds *members* (read back by :meth:`muted_from`)."""
        return b64encode(self.seal(MUTED_KIND, record_id(gid), encode_muted_members(members)))

    def save_marks(self, gid: bytes, marks: dict[bytes, int]) -> None:
        """Keep the post high-water marks an imported identity brought (sealed: how much
        each member wrote is not for anyone who copies the store)."""
        items = sorted(marks.items())
        for index, start in enumerate(range(0, len(items), MARKS_PER_CHUNK)):
            chunk = encode_post_marks(items[start:start + MARKS_PER_CHUNK])
            sealed = self.seal("post-marks", record_id(gid, index), chunk)
            self.store.set_meta(f"post-marks/{b64encode(gid)}/{index}", b64encode(sealed))

    def load_marks(self, gid: bytes) -> dict[bytes, int]:
        marks: dict[bytes, int] = {}
        index = 0
        while (saved := self.store.meta(f"post-marks/{b64encode(gid)}/{index}")) is not None:
            plain = self.unseal("post-marks", record_id(gid, index), b64decode(saved))
            try:
                marks.update(decode_post_marks(plain))
            except MalformedError:
                raise LocalStoreError("the saved post marks are damaged") from None
            index += 1
        return marks

    def forget(self, view: GroupView) -> None:
        """Delete a group from this device: its rows, what is kept about it in ``meta``,
        its identity, its sessions."""
        self.forget_group(view.group_id, view.relay_url)

    def forget_group(self, group_id: bytes, relay_url: str) -> None:
        """:meth:`forget` for a group that may not load (a restore cut short)."""
        gid = b64encode(group_id)
        self.store.delete_group(group_id)
        self.store.delete_meta(fence_key(group_id))
        self.store.delete_meta(f"wanted-name/{gid}")
        self.store.delete_meta(f"accepted-rules/{gid}")
        self.store.delete_meta(muted_key(group_id))
        self.store.delete_meta(deleting_key(group_id))
        for prefix in (f"post-marks/{gid}/", f"create/{gid}/", f"invite-card/{gid}/"):
            self.store.delete_meta_prefix(prefix)
        self.fences.pop(group_id, None)
        self.keys.remove_identity(group_id)
        self.views.pop(group_id, None)
        self.transport(relay_url).forget_sessions(group_id)

    def auth(self, view: GroupView) -> MemberAuth:
        return MemberAuth(view.group_id, view.me)

    # --- epoch keys ----------------------------------------------------------------------------

    def save_key(self, view: GroupView, epoch: int, key: bytes) -> None:
        self.store.save_epoch_key(view.group_id, epoch,
                                  self.seal("epoch-key", record_id(view.group_id, epoch), key))

    @staticmethod
    def key_for(view: GroupView, epoch: int) -> bytes:
        key = view.keys.get(epoch)
        if key is None:
            raise EpochKeyMissingError(
                "this device does not hold the group's current key yet: an admin's device "
                "shares it after admitting or rotating; sync again in a moment"
            )
        return key


# --- values kept in the local store ------------------------------------------------------------


MUTED_KIND: Final = "muted"
"""The local record kind of a group's muted members (sealed, bound to the group)."""


def muted_key(group_id: bytes) -> str:
    """Where a group's muted members are kept (``meta``, sealed: see :mod:`.muting`)."""
    return f"muted/{b64encode(group_id)}"


def deleting_key(group_id: bytes) -> str:
    """Set while this device is deleting the group (see :mod:`.deletion`)."""
    return "deleting/" + b64encode(group_id)


def refuse_while_deleting(device: Device, group_id: bytes) -> None:
    """Any write but the deletion itself is refused while this device deletes the group."""
    if device.store.meta(deleting_key(group_id)) is not None:
        raise NotPermittedError("you are deleting this group: nothing more can be written to "
                                "it (the deletion is sent again at every sync until it lands)")


def fence_key(group_id: bytes) -> str:
    return "post-fence/" + b64encode(group_id)


def fence_from(saved: str | None) -> int:
    """The saved fence (see :attr:`GroupView.fence_seq`), or -1. A complete read stays
    complete whatever later reads do (one cut short included), so the fence only ever rises;
    forgetting the group deletes it. (Stores before version 3 saved ``cursor/seq``.)"""
    seq = (saved or "").rpartition("/")[2]
    return int(seq) if seq.isdigit() else -1


def status(text: str) -> GroupStatus:
    if text in ("member", "pending", "denied", "removed", "left", "creating"):
        return text  # type: ignore[return-value]
    raise LocalStoreError("the local store holds an unknown group status")


def check_policy(policy: HistoryPolicy) -> HistoryPolicy:
    if isinstance(policy, bool) or not (policy in ("none", "current", "all") or (
            isinstance(policy, int) and policy >= 0)):
        raise InvalidArgumentError("the history policy is 'none', 'current', 'all' or an "
                                   "epoch number (0 or more)")
    return policy


def policy_text(policy: HistoryPolicy) -> str:
    return str(policy)


def policy_from_text(text: str) -> HistoryPolicy:
    if text in ("none", "current", "all"):
        return text  # type: ignore[return-value]
    return int(text)
