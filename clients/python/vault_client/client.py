"""The Vault client: one person's device, in any number of groups.

See ``clients/python/README.md`` for a guide. Every cryptographic step is a call into
:mod:`vault.crypto`. :class:`Client` is the public API: it holds the lock and finds each
call's group; the work is done by :mod:`vault_client._internal`, a module per concern, on
what the device holds (:class:`~vault_client._internal.device.Device`).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from vault.crypto.attachments import Attachment
from vault.crypto.encoding import b64encode
from vault.crypto.inbox import InboxKind, OpenedItem, Outcome
from vault.crypto.log_entries import Role
from vault.crypto.post_body import PostKind
from vault.crypto.primitives import default_clock
from vault_client import events as ev
from vault_client._internal import (
    backups,
    channels,
    deletion,
    exporting,
    gone,
    groups,
    inbox,
    joining,
    membership,
    muting,
    naming,
    outbox,
    permissions,
    posting,
    refs,
    rotation,
    rules,
    saving,
    search,
    sync_io,
    waiting,
)
from vault_client._internal import views as V
from vault_client._internal.channels import ChannelRef
from vault_client._internal.device import Device
from vault_client._internal.exporting import ExportFormat
from vault_client._internal.group_view import GroupView
from vault_client._internal.home import (
    destroy_home,
    home_path,
    lock_home,
    unlock_home,
    upgrade_lock,
)
from vault_client._internal.keys import Passphrase, PassphraseSource
from vault_client._internal.qr import decode_invite_image
from vault_client._internal.refs import GroupRef, InviteRef, MemberRef, PostRef
from vault_client._internal.strength import require_strong
from vault_client.errors import (
    InvalidArgumentError,
    JoinDeniedError,
    JoinPendingError,
    NotPermittedError,
    RelayUnreachableError,
    UnknownReferenceError,
)
from vault_client.types import (
    MAIN_CHANNEL,
    AttachmentInfo,
    BackupMade,
    ChannelInfo,
    DeletedGroupInfo,
    GroupInfo,
    GroupStatus,
    HistoryPolicy,
    InboxThread,
    Invite,
    InviteInfo,
    InvitePreview,
    JoinRequestInfo,
    JoinResult,
    MemberInfo,
    OutcomeName,
    Posted,
    PostView,
    RestoredGroup,
    RetryNotice,
    SavedPosts,
    SyncReport,
    Thread,
)

__all__ = ["Client"]



class Client:
    """A member's device: keys in an encrypted keystore, a local store, any number of groups.

    Synchronous and thread-safe: one lock serialises calls, and each call is done whole
    under it (a :meth:`delete` is checked, sent and erased from the relay with no other
    call in between); only :meth:`wait` lets go of it, while the relay holds its long-poll
    open. Open it once and keep it: opening unlocks the keystore, which is deliberately
    slow (Argon2id). Use it as a context manager, or call :meth:`close`.

    :param passphrase: the keystore passphrase, or a callable that returns it (called once,
        when first needed). It is never logged and never put in an exception. Creating a
        new keystore refuses one that is too easy to guess (:class:`PassphraseRejectedError`;
        :func:`passphrase_strength` tells a user interface in advance).
    :param home: where the keystore and the local store live (default ``$VAULT_HOME``, else
        the platform's user data directory). Created with owner-only permissions.
    :param relay_url: the relay new groups are created on (joining uses the invite's relay).
    :param timeout: seconds for one HTTP request.
    :param clock: the time now, in milliseconds since the Unix epoch (default: the system
        clock): how this device dates what it writes and checks expiries and the log's
        timestamps (for tests).
    :param retry_for: how long requests that are safe to repeat are retried while a relay
        is unreachable, in seconds.
    :param on_retry: called (with a :class:`RetryNotice`: the relay, the seconds left) each
        time a request to a relay failed and is tried again, so a user interface can say at
        once that the relay cannot be reached rather than wait in silence.
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
        on_retry: Callable[[RetryNotice], None] | None = None,
    ) -> None:
        """Open the device in *home*: unlock its keystore with *passphrase* (or create one
        under it when there is none) and open its local store, bringing a store an older
        version of Vault wrote up to date. See the class documentation for each parameter.

        Raises :class:`KeystoreLockedError` for a wrong passphrase,
        :class:`PassphraseRejectedError` for a new keystore's passphrase that is too easy to
        guess, and :class:`LocalStoreError` when the local store is damaged, belongs to
        another keystore or was written by a newer version of Vault (update Vault), or
        while the home is being wiped."""
        self.home = home_path(home)
        os.makedirs(self.home, mode=0o700, exist_ok=True)
        self.relay_url = None if relay_url is None else V.relay_address(relay_url)
        self._lock = threading.RLock()
        self._lock_handle = lock_home(self.home)
        try:
            self._device = Device(self.home, Passphrase(passphrase), timeout=timeout,
                                  retry_for=retry_for, clock=clock, transport=transport,
                                  on_retry=on_retry)
        except BaseException:
            unlock_home(self._lock_handle)
            raise

    @staticmethod
    def _member(view: GroupView, member: MemberRef) -> bytes:
        return refs.member_key(member, lambda: V.member_names(view))

    # --- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close connections and the local store, and forget the unlocked keys."""
        with self._lock:
            if self._device.closed:
                return
            self._device.close()
            unlock_home(self._lock_handle)

    def wipe(self) -> None:
        """Destroy everything this device keeps: the keystore (every identity), the local
        store (keys, posts, logs) and their files, overwritten before removal. The client is
        closed afterwards. This cannot be undone: export identities first if needed."""
        with self._lock:
            upgrade_lock(self._lock_handle, self.home)  # nobody else may have it open
            self._device.close()
            destroy_home(self.home)
            unlock_home(self._lock_handle)

    # --- groups ------------------------------------------------------------------------------

    def groups(self) -> list[GroupInfo]:
        """Every group this device is in (or asked to join), oldest first."""
        with self._lock:
            device = self._device
            device.check_open()
            return [groups.info(device, device.view(row.group_id))
                    for row in device.store.groups()]

    def group(self, group: GroupRef) -> GroupInfo:
        """One group, as this device last verified it (call :meth:`sync` to refresh)."""
        with self._lock:
            return groups.info(self._device, self._device.view(group))

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
            self._device.check_open()
            view = groups.create(self._device, name, description, rules,
                                 relay_url=relay_url or self.relay_url,
                                 display_name=display_name, history_policy=history_policy)
            return groups.info(self._device, view)

    def update_group(self, group: GroupRef, *, name: str | None = None,
                     description: str | None = None, rules: str | None = None) -> GroupInfo:
        """Change the group's name, description or rules (admins). Encrypted for members."""
        with self._lock:
            view = self._device.member_view(group)
            permissions.require_admin(view, "update")
            groups.update(self._device, view, name=name, description=description, rules=rules)
            return groups.info(self._device, view)

    # --- channels --------------------------------------------------------------------------

    def channels(self, group: GroupRef) -> list[ChannelInfo]:
        """The group's channels, in the order members see them: the main channel first
        (:data:`MAIN_CHANNEL`), then those admins added."""
        with self._lock:
            view = self._device.view(group)
            if view.state is None:
                return []
            return channels.info(view)

    def add_channel(self, group: GroupRef, name: str, *,
                    announcements: bool = False) -> ChannelInfo:
        """Add a channel (admins), last in the list. In an announcements channel only
        moderators and admins post, reply and ask polls; every member reacts and votes
        (every member's device holds to it). Its kind cannot change later. Names are
        encrypted for the group, like its name; other members get
        :class:`NotPermittedError`, with nothing written."""
        with self._lock:
            view = self._device.member_view(group)
            made = channels.add(self._device, view, name, announcements)
            return self._channel(view, made)

    def rename_channel(self, group: GroupRef, channel: ChannelRef, name: str) -> ChannelInfo:
        """Give a channel another name (admins)."""
        with self._lock:
            view = self._device.member_view(group)
            target = self._listed_channel(view, channel, "renamed")
            channels.rename(self._device, view, target, name)
            return self._channel(view, target)

    def move_channel(self, group: GroupRef, channel: ChannelRef, position: int) -> None:
        """Put a channel at *position* among those admins added (0: first after the main
        channel) (admins)."""
        with self._lock:
            view = self._device.member_view(group)
            target = self._listed_channel(view, channel, "moved")
            channels.move(self._device, view, target, position)

    def remove_channel(self, group: GroupRef, channel: ChannelRef) -> None:
        """Take a channel off the list (admins). Nothing is deleted: its posts are shown in
        the main channel from then on."""
        with self._lock:
            view = self._device.member_view(group)
            target = self._listed_channel(view, channel, "removed")
            channels.remove(self._device, view, target)

    @staticmethod
    def _listed_channel(view: GroupView, channel: ChannelRef, done: str) -> bytes:
        target = channels.resolve(view, channel)
        if target is None:
            raise InvalidArgumentError(f"the main channel cannot be {done}")
        return target

    @staticmethod
    def _channel(view: GroupView, channel: bytes) -> ChannelInfo:
        wanted = b64encode(channel)
        return next(c for c in channels.info(view) if c.channel_id == wanted)

    def set_history_policy(self, group: GroupRef, policy: HistoryPolicy) -> None:
        """What newly admitted members may read from before they joined (see
        :data:`HistoryPolicy`), for the whole group (admins): a HISTORY entry in the
        membership log, which every admin's device admits by (:attr:`GroupInfo.history_policy`
        shows it). Other members get :class:`NotPermittedError`, with nothing written."""
        with self._lock:
            groups.set_history_policy(self._device, self._device.member_view(group), policy)

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
            view = self._device.member_view(group)
            permissions.require_admin(view, "invite")
            return joining.create_invite(self._device, view, max_uses=max_uses,
                                         expires_in=expires_in,
                                         require_approval=require_approval)

    def invites(self, group: GroupRef) -> list[InviteInfo]:
        """Every invite of the group (from the verified log): uses so far, expiry, whether it
        still admits anyone. Revoke one with :meth:`revoke_invite`."""
        with self._lock:
            return joining.invites(self._device, self._device.member_view(group))

    def revoke_invite(self, group: GroupRef, invite_id: InviteRef) -> None:
        """Stop an invite from admitting anyone else (admins)."""
        with self._lock:
            view = self._device.member_view(group)
            permissions.require_admin(view, "revoke")
            joining.revoke_invite(self._device, view, invite_id)

    def join_from_image(self, path: str | os.PathLike[str], *,
                        display_name: str | None = None,
                        accept_rules: str | None = None) -> JoinResult:
        """Join with the invite in a QR code image (a photo or screenshot, PNG/JPEG...).

        Raises :class:`InviteImageError` when the image holds no QR code, or none that is a
        Vault invite. Then as :meth:`join`.
        """
        return self.join(self.invite_from_image(path), display_name=display_name,
                         accept_rules=accept_rules)

    def invite_from_image(self, path: str | os.PathLike[str]) -> str:
        """The invite link a QR code image holds (to :meth:`preview_invite` it first);
        :class:`InviteImageError` when it holds none."""
        return decode_invite_image(path).to_uri()

    def preview_invite(self, uri: str) -> InvitePreview:
        """What an invite shows before asking to join: the group's name, description and
        rules as one of its admins signed them for this invite, and what newcomers may read.

        This device verifies the group's membership log (as :meth:`join` does) and checks
        the description against it: :class:`RulesCardError` when it is not the group's (the
        relay swapped or altered it), :class:`RulesCardStaleError` when the group changed
        its description since. Nothing is kept on this device.
        """
        with self._lock:
            return rules.preview(self._device, uri)

    def join(self, uri: str, *, display_name: str | None = None,
             accept_rules: str | None = None) -> JoinResult:
        """Use an invite (the text a QR code carries).

        This device verifies the group's whole membership log against the group id the
        invite pins, makes a fresh identity for the group and either asks to join (the
        result is ``pending`` until an admin approves: see :meth:`join_status`) or, with a
        pre-authorised invite, joins at once. Compare :attr:`JoinResult.safety_number` with
        the admin in person. ``display_name`` is how this person appears to members: set as
        soon as it can be (once admitted and given the group's key), by a later sync.

        ``accept_rules`` is :attr:`InvitePreview.rules_id` of the rules the person read and
        accepted: their signed acceptance goes with the request (admins see it beside the
        safety number) and into their profile once admitted. :class:`RulesCardStaleError`,
        with nothing kept, when the group's description changed since the preview.
        """
        with self._lock:
            return joining.join(self._device, uri, display_name=display_name,
                                accept_rules=accept_rules)

    def accept_rules(self, group: GroupRef, rules_id: str | None = None) -> None:
        """Accept the group's rules in force (:attr:`GroupInfo.rules_to_accept`): this
        member's profile names them, which members' devices show admins
        (:attr:`MemberInfo.accepted_rules`). Pass the :attr:`GroupInfo.rules_id` that came
        with the text the person read: if the rules changed since,
        :class:`RulesCardStaleError` and nothing is written."""
        with self._lock:
            rules.accept(self._device, self._device.member_view(group), rules_id)

    def join_status(self, group: GroupRef) -> GroupStatus:
        """Check a pending join with the relay: ``pending``, ``member`` (approved: this
        device then syncs the group) or ``denied``."""
        with self._lock:
            return joining.join_status(self._device, self._device.view(group))

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

    def pending_requests(self, group: GroupRef) -> list[JoinRequestInfo]:
        """Join requests waiting for an admin (admins), each checked against its invite and
        with the safety number to compare with the joiner before approving."""
        with self._lock:
            view = self._device.member_view(group)
            permissions.require_admin(view, "requests")
            return joining.pending_requests(self._device, view)

    def approve(self, group: GroupRef, joiner: MemberRef, *, role: Role = Role.MEMBER,
                share_history: HistoryPolicy | None = None) -> MemberInfo:
        """Admit a pending joiner (admins), after comparing safety numbers.

        ``share_history`` chooses what this member may read (see :data:`HistoryPolicy`;
        ``"none"`` starts a new epoch so they read only what is written from now on) while the
        group has no setting of its own. Once an admin set one (:meth:`set_history_policy`),
        every admin's device admits by it: another choice is :class:`NotPermittedError`, with
        nothing written (change the group's setting first).
        """
        with self._lock:
            view = self._device.member_view(group)
            permissions.check_admit(view, Role(role))
            return joining.approve(self._device, view, joiner, role=role,
                                   share_history=share_history)

    def deny(self, group: GroupRef, joiner: MemberRef) -> None:
        """Refuse a pending join request (admins)."""
        with self._lock:
            view = self._device.member_view(group)
            permissions.require_admin(view, "requests")
            joining.deny(self._device, view, joiner)

    # --- membership ----------------------------------------------------------------------------

    def members(self, group: GroupRef) -> list[MemberInfo]:
        """Current members, with roles and display names (None until readable)."""
        with self._lock:
            view = self._device.view(group)
            if view.state is None:
                return []
            return V.members(view)

    def me(self, group: GroupRef) -> MemberInfo:
        """This device's own membership in the group."""
        with self._lock:
            return membership.me(self._device.member_view(group))

    def set_display_name(self, group: GroupRef, name: str) -> None:
        """Set how this device's person appears in the group (encrypted for members).

        Refused (:class:`NameTakenError`) when another current member's name looks the same
        (the same letters in another case, or lookalike letters of another script)."""
        with self._lock:
            naming.set_display_name(self._device, self._device.member_view(group), name)

    def set_role(self, group: GroupRef, member: MemberRef, role: Role) -> None:
        """Change a member's role (admins; only owners make or change admins and owners).
        Taking rights away from a moderator or admin also starts a new epoch, so they
        cannot date a delete or pin before their demotion (see protocol §6.7)."""
        with self._lock:
            view = self._device.member_view(group)
            permissions.check_role(view, self._member(view, member), Role(role))
            membership.set_role(self._device, view, member, role)

    def remove(self, group: GroupRef, member: MemberRef, *, revoke_invites: bool = False) -> int:
        """Remove a member (admins). Starts a new epoch: a fresh key, granted to every
        remaining member in one request, so the removed member reads nothing new. Their
        key can never rejoin (every device and the relay refuse it).

        With ``revoke_invites``, every invite that could still admit someone (not revoked,
        uses left) is then revoked, so an invite the removed person kept lets nobody in —
        nor anyone whose join request through it still waits; returns how many were (0
        without it). If the relay stops answering in between, the member is removed and the
        error is raised: call :meth:`revoke_invite` for those left (:meth:`invites`).
        Someone removed can still come back with a fresh identity through an invite made
        later: identities are per group and cannot be linked, so whom to admit stays the
        admins' call."""
        with self._lock:
            view = self._device.member_view(group)
            permissions.check_remove(view, self._member(view, member))
            return membership.remove(self._device, view, member,
                                     revoke_invites=revoke_invites)

    def rotate(self, group: GroupRef) -> int:
        """Start a new epoch now (admins); returns its number. Admins' devices also do this
        by themselves when a member has left (``rotation_pending``)."""
        with self._lock:
            view = self._device.member_view(group)
            permissions.require_admin(view, "rotate")
            return rotation.rotate(self._device, view, [])

    def leave(self, group: GroupRef, *, hand_over_to: MemberRef | None = None,
              discard_unsent: bool = False) -> None:
        """Leave the group, then forget it on this device (its identity, keys and posts).

        An admin's device then starts a new epoch for those who stay. The group's last owner
        names the member who becomes owner in their place (``hand_over_to``); without one,
        leaving is refused (:class:`NotPermittedError`) and nothing changes. So is leaving
        while this device's posts still wait to be sent, unless ``discard_unsent``.
        """
        with self._lock:
            view = self._device.member_view(group)
            if hand_over_to is not None:
                heir = self._member(view, hand_over_to)
                permissions.check_role(view, heir, Role.OWNER)
                membership.set_role(self._device, view, heir, Role.OWNER)
            permissions.check_leave(view)
            membership.leave(self._device, view, discard_unsent=discard_unsent)

    def delete_group(self, group: GroupRef, *, discard_unsent: bool = False
                     ) -> DeletedGroupInfo:
        """Delete the group for everyone (owners only; :class:`NotPermittedError` for others,
        nothing changes): the relay purges everything it holds for it, and every member's
        device drops its copy when it next syncs, once it has checked that an owner deleted
        it. This device's copy goes at once; a notice stays (:meth:`deleted_groups`).
        Refused while this device's posts still wait to be sent, unless ``discard_unsent``.
        There is no undo."""
        with self._lock:
            view = self._device.member_view(group)
            return deletion.delete_group(self._device, view, discard_unsent=discard_unsent)

    def deleted_groups(self) -> list[DeletedGroupInfo]:
        """Groups an owner deleted that this device was in, oldest first: their copies are
        gone; each notice stays until :meth:`dismiss_deleted_group`."""
        with self._lock:
            self._device.check_open()
            return gone.notices(self._device)

    def dismiss_deleted_group(self, group_id: str) -> None:
        """Forget the notice of a deleted group (:meth:`deleted_groups`)."""
        with self._lock:
            self._device.check_open()
            gone.dismiss(self._device, group_id)

    def forget_group(self, group: GroupRef) -> None:
        """Delete a group from this device without telling anyone (after a removal or a
        denied request). A member who wants to go should :meth:`leave`."""
        with self._lock:
            self._device.forget(self._device.view(group))

    def mute(self, group: GroupRef, member: MemberRef) -> None:
        """Mute a member on this device: their posts and replies are drawn collapsed
        (:attr:`PostView.muted`) until :meth:`unmute`. Nothing is sent: nobody else learns
        it, and it changes nothing for anyone else. Kept sealed in the local store. A
        former member can be muted too; oneself cannot (:class:`InvalidArgumentError`)."""
        with self._lock:
            view = self._device.view(group)
            muting.set_muted(self._device, view, self._member(view, member), True)

    def unmute(self, group: GroupRef, member: MemberRef) -> None:
        """Show a muted member's posts as everyone else's again (on this device)."""
        with self._lock:
            view = self._device.view(group)
            muting.set_muted(self._device, view, self._member(view, member), False)

    def muted(self, group: GroupRef) -> list[str]:
        """The members (ids) muted on this device in *group*."""
        with self._lock:
            return sorted(b64encode(pk) for pk in self._device.view(group).muted)

    def group_code(self, group: GroupRef, at_seq: int | None = None) -> str:
        """20 digits that commit to the group's membership log as this device verified it,
        up to entry *at_seq* (default: its last). Two members who read out their codes for
        the same entry and get different ones are being shown different logs (a fork); a
        safety number would not tell. :attr:`GroupInfo.log_seq` says which entry a code is
        for; a member further along can give the code at the other's entry."""
        with self._lock:
            return groups.group_code(self._device.view(group), at_seq)

    def safety_number(self, group: GroupRef, member: MemberRef) -> str:
        """The 60-digit number to compare, in person, with *member*'s device."""
        with self._lock:
            return membership.safety_number(self._device.view(group), member)

    def export_identity(self, group: GroupRef, passphrase: str) -> bytes:
        """This device's identity in a group, sealed under *passphrase* (a keystore file's
        bytes, Argon2id). With it, :meth:`import_identity` on another device rejoins as the
        same member; epoch keys come again from the relay. It carries what this device
        verified (the log's last entry, the highest post number seen from each author), so
        the other device detects a relay that rolls the group back to before the export.
        Keep it as safe as the keystore."""
        with self._lock:
            require_strong(passphrase, "an exported identity")
            view = self._device.view(group)
            row = self._device.store.group(view.group_id)
            assert row is not None
            return membership.export_identity(view, passphrase, row.next_author_seq)

    def import_identity(self, data: bytes, passphrase: str) -> GroupInfo:
        """Take an identity exported by :meth:`export_identity` and sync its group."""
        with self._lock:
            view = membership.import_identity(self._device, data, passphrase)
            return groups.info(self._device, view)

    def backup(self) -> BackupMade:
        """A backup of every group this device is a member of: each identity, what this
        device verified (log checkpoints, the highest post numbers seen) and the epoch keys
        it holds, sealed under a new recovery phrase of twelve words (Argon2id, as the
        keystore). Show :attr:`BackupMade.recovery_phrase` once, to be written down: it is
        kept nowhere. Restore with :meth:`restore` on a new device. Groups joined after the
        backup are not in it: make a new one then. Groups this device only waits to join,
        or is still creating, are not in it either; in no group at all,
        :class:`~vault_client.errors.InvalidArgumentError`. Once the file is stored, call
        :meth:`backup_saved`."""
        with self._lock:
            return backups.make(self._device)

    def backup_saved(self, made: BackupMade) -> None:
        """Say that *made*'s file is stored where the person keeps it (written to a file,
        downloaded): its groups then count as backed up (:meth:`not_backed_up`) and it is
        the :meth:`last_backup`. Nothing counts before this: a backup whose file was never
        saved protects nothing."""
        with self._lock:
            backups.saved(self._device, made)

    def last_backup(self) -> datetime | None:
        """When the last backup whose file was saved was made (None: never)."""
        with self._lock:
            made = backups.made_at_ms(self._device)
            return None if made is None else datetime.fromtimestamp(made / 1000, UTC)

    def not_backed_up(self) -> list[GroupInfo]:
        """The groups this device is a member of that are in no backup it made (all of
        them, before its first): what losing this device would lose. A reminder to make a
        backup (:meth:`backup`) can be shown while this is not empty."""
        with self._lock:
            return [groups.info(self._device, self._device.view(gid))
                    for gid in backups.not_backed_up(self._device)]

    def restore(self, data: bytes, recovery_phrase: str) -> tuple[RestoredGroup, ...]:
        """Restore a backup made by :meth:`backup` onto this device, group by group (see
        :class:`RestoredGroup`). Words that are not a recovery phrase raise
        :class:`~vault_client.errors.RecoveryPhraseError` and a phrase that is not this
        backup's :class:`~vault_client.errors.KeystoreLockedError`, before anything is
        written. Each group's log is verified against the checkpoint in the backup, so a
        relay that serves an older log is caught (``log_rollback``) as it would have been
        on the device that made the backup. This device goes on as the same member: the
        device the backup came from should not be used in these groups any more."""
        with self._lock:
            return backups.restore(self._device, data, recovery_phrase)

    # --- posting -------------------------------------------------------------------------------

    def post(self, group: GroupRef, text: str, *, content_warning: str | None = None,
             expires_in: timedelta | float | None = None,
             attachments: Sequence[V.AttachmentInput] = (),
             channel: ChannelRef = MAIN_CHANNEL) -> Posted:
        """Post to the group. ``content_warning`` makes readers' clients hide the post until
        asked; ``expires_in`` (timedelta or seconds) makes every copy disappear then;
        ``attachments`` are ``(bytes, media_type)`` pairs or file paths, encrypted and
        uploaded as blobs.

        The post is kept on this device before it is sent, and sent exactly once: if the
        relay cannot be reached, :attr:`Posted.delivered` is False and the next :meth:`sync`
        sends it. If the relay refuses it, it is False too, and not sent again: an
        :class:`UndeliverablePost` warning says why.

        ``channel`` (see :meth:`channels`): where it is posted; in an announcements channel
        only moderators and admins may post (others get :class:`NotPermittedError`, with
        nothing written). Replies are in their thread's channel.
        """
        with self._lock:
            view = self._device.member_view(group)
            target = channels.for_new_post(self._device, view, channel)
            return posting.publish(self._device, view, PostKind.POST, (), text,
                                   content_warning, expires_in, attachments, channel=target)

    def reply(self, group: GroupRef, to: PostRef, text: str, *,
              content_warning: str | None = None, expires_in: timedelta | float | None = None,
              attachments: Sequence[V.AttachmentInput] = ()) -> Posted:
        """Reply to a post or to another reply (as :meth:`post`), in its thread's channel:
        in an announcements channel only moderators and admins reply."""
        target = refs.post_id(to)
        with self._lock:
            view = self._device.member_view(group)
            # A reply names its target's channel (offline, or not there at all: the reply
            # goes to the main channel, as before channels).
            with contextlib.suppress(RelayUnreachableError):
                self._fetch_if_missing(view, target)
            channels.check_reply(self._device, view, target)
        return self._publish(group, PostKind.REPLY, (target,), text, content_warning,
                             expires_in, attachments)

    def react(self, group: GroupRef, to: PostRef, reaction: str, *,
              content_warning: str | None = None) -> Posted:
        """React to a post or reply (1 to 64 bytes of text, e.g. an emoji). With a
        ``content_warning``, readers' clients hide the reaction behind it, as a post."""
        return self._publish(group, PostKind.REACTION, (refs.post_id(to),),
                             reaction, content_warning, None, ())

    def create_poll(self, group: GroupRef, question: str, options: Sequence[str], *,
                    closes_in: timedelta | float | None = None,
                    content_warning: str | None = None,
                    expires_in: timedelta | float | None = None,
                    channel: ChannelRef = MAIN_CHANNEL) -> Posted:
        """Ask the group a question with 2 to 10 options (each up to 100 bytes). Members
        vote with :meth:`vote`; each member's latest vote counts, until ``closes_in``
        (timedelta or seconds; None: it stays open). Every member sees who voted for what:
        votes are signed posts, not secret ballots. The poll reads as
        :attr:`PostView.poll`. Delivered, and put in a ``channel``, as :meth:`post` is."""
        chosen = posting.poll_fields(question, options)
        V.duration_ms(closes_in)  # refused here, before anything is written, if not > 0
        with self._lock:
            view = self._device.member_view(group)
            target = channels.for_new_post(self._device, view, channel)
            return posting.publish(self._device, view, PostKind.POLL, (), question,
                                   content_warning, expires_in, (), options=chosen,
                                   closes_in=closes_in, channel=target)

    def vote(self, group: GroupRef, poll: PostRef, option: int | str) -> Posted:
        """Vote in a poll: *option* is its number (from 0) or its exact text. Voting again
        changes the vote (the latest counts); a vote cannot be withdrawn. Refused, with
        nothing written, when the poll has closed or has no such option."""
        target = refs.post_id(poll)
        with self._lock:
            view = self._device.member_view(group)
            dated = outbox.write_time(self._device, view)
            choice = posting.ballot(view, target, option, dated)
            return posting.publish(self._device, view, PostKind.VOTE, (target,), "", None,
                                   None, (), choice=choice, at_ms=dated)

    def pin(self, group: GroupRef, post: PostRef) -> Posted:
        """Pin a post, reply or poll (moderators and admins): members' apps list it first
        (:attr:`PostView.pinned_by`). Refused, with nothing written, for other members, a
        deleted post and one already pinned."""
        target = refs.post_id(post)
        with self._lock:
            view = self._device.member_view(group)
            posting.freshen_for_check(self._device, view)
            posting.check_pin(view, target, self._device.now())
            return posting.publish(self._device, view, PostKind.PIN, (target,), "", None,
                                   None, ())

    def unpin(self, group: GroupRef, post: PostRef) -> Posted:
        """Unpin a post: deletes each pin that keeps it pinned (a moderator or admin may
        delete anyone's pin; a pin's author, their own). Returns the first deletion that
        was not delivered (queued or refused), else the last one; refused, with nothing
        written, when it is not pinned."""
        target = refs.post_id(post)
        with self._lock:
            view = self._device.member_view(group)
            posting.freshen_for_check(self._device, view)
            pins = posting.pins_to_undo(view, target)
            outcomes = [posting.publish(self._device, view, PostKind.DELETE, (pin,), "",
                                        None, None, ()) for pin in pins]
            return next((o for o in outcomes if not o.delivered), outcomes[-1])

    def pinned(self, group: GroupRef) -> list[PostView]:
        """The group's pinned posts, in causal order."""
        return [post for post in self.posts(group) if post.pinned_by is not None]

    def edit(self, group: GroupRef, post: PostRef, text: str, *,
             content_warning: str | None = None, keep_warning: bool = True,
             attachments: Sequence[V.AttachmentInput] = (),
             keep_attachments: bool = True) -> Posted:
        """Replace the text of one's own post or reply. Its content warning and attachments
        stay as they are unless given (``content_warning=``, ``attachments=``) or removed
        (``keep_warning=False``, ``keep_attachments=False``): an edit never drops a warning
        by omission."""
        target = refs.post_id(post)
        with self._lock:
            view = self._device.member_view(group)
            current = posting.editable(view, target)
            channels.check_reply(self._device, view, target)  # (TV-7 judges edits too)
        warning = content_warning if content_warning is not None or not keep_warning \
            else current.content_warning
        kept = current.attachments if keep_attachments and not attachments else ()
        return self._publish(group, PostKind.EDIT, (target,), text, warning, None,
                             attachments, kept)

    def delete(self, group: GroupRef, post: PostRef) -> Posted:
        """Delete one's own post, reply or reaction (moderators: anyone's). Members' clients
        drop its content; the relay erases its ciphertext, its edits' and its attachments."""
        target = refs.post_id(post)
        with self._lock:
            view = self._device.member_view(group)
            posting.freshen_for_check(self._device, view)
            return posting.delete(self._device, view, target)

    def _publish(self, group: GroupRef, kind: PostKind, refs: tuple[bytes, ...], text: str,
                 warning: str | None, expires_in: timedelta | float | None,
                 attachments: Sequence[V.AttachmentInput],
                 kept: Sequence[Attachment] = ()) -> Posted:
        with self._lock:
            return posting.publish(self._device, self._device.member_view(group), kind, refs,
                                   text, warning, expires_in, attachments, kept)

    def attachment(self, group: GroupRef, attachment: AttachmentInfo) -> bytes:
        """Download and decrypt an attachment (an :class:`AttachmentInfo` from a post)."""
        with self._lock:
            return posting.attachment(self._device, self._device.member_view(group),
                                      attachment)

    def save_attachment(self, group: GroupRef, attachment: AttachmentInfo,
                        directory: str | os.PathLike[str] = ".") -> Path:
        """Download and decrypt an attachment and save it in *directory*, owner-only, under
        the name its author's file had (``attachment-<id>.<ext>`` when it had none) — never
        over an existing file: ``notes (2).txt`` then. Returns the path written."""
        data = self.attachment(group, attachment)
        return saving.save_new_file(directory, attachment.file_name, attachment.media_type,
                                    "attachment-" + attachment.attachment_id[:8], data)

    # --- the moderators' inbox -------------------------------------------------------------

    def report(self, group: GroupRef, post: PostRef, reason: str) -> str:
        """Report a post (or reply, or poll) to the moderators, saying why. Only the group's
        moderators and admins of now read it, never the group, and never the member who wrote
        the post. Sent at once: if the relay cannot be reached, :class:`RelayUnreachableError`
        and nothing was sent or kept. Returns the report's thread id (see :meth:`inbox`)."""
        target = refs.post_id(post)
        if not reason.strip():
            raise InvalidArgumentError("say why you report it: the moderators read your reason")
        with self._lock:
            view = self._device.member_view(group)
            self._fetch_if_missing(view, target)
            found = view.timeline.get(target)
            if found is None:
                raise UnknownReferenceError("there is no such post in this group")
            author = found.body.author
            if author == view.me.sign_pk:
                raise InvalidArgumentError("you cannot report your own post; delete or edit it")
            return inbox.send(self._device, view, InboxKind.REPORT, reason, post=target,
                              subject=author)

    def ask_moderators(self, group: GroupRef, text: str, *,
                       thread: str | InboxThread | None = None) -> str:
        """Ask the group's moderators and admins for support, privately: only they read it
        (and you). With ``thread`` (one you began), write again in it. Sent at once, as
        :meth:`report` is. Returns the thread id."""
        if not text.strip():
            raise InvalidArgumentError("there is nothing to send")
        with self._lock:
            view = self._device.member_view(group)
            if thread is None:
                return inbox.send(self._device, view, InboxKind.SUPPORT, text)
            root = self._thread(view, thread)
            if root.message.sender != view.me.sign_pk:
                raise NotPermittedError("you can write again only in a thread you began")
            inbox.send(self._device, view, InboxKind.SUPPORT, text,
                       thread=root.message.item_id, subject=root.message.subject)
            return b64encode(root.message.item_id)

    def inbox(self, group: GroupRef) -> list[InboxThread]:
        """The moderators' inbox as this member may read it, oldest thread first: for
        moderators and admins, every report and request sealed to them with the replies and
        resolutions that followed; for a member, the threads they began and the replies to
        them. Read from the relay (each item checked here; one that fails is left out with an
        :class:`InvalidInboxItem` warning)."""
        with self._lock:
            view = self._device.member_view(group)
            # The posts first: a report is checked against its post when this device has it.
            with contextlib.suppress(RelayUnreachableError):
                sync_io.sync_group(self._device, view)
            inbox.fetch(self._device, view)
            return inbox.threads(self._device, view)

    def reply_in_inbox(self, group: GroupRef, thread: str | InboxThread, text: str) -> str:
        """Answer the member who began a thread, privately (moderators and admins): they and
        the moderators read it. Returns the reply's id."""
        if not text.strip():
            raise InvalidArgumentError("there is nothing to send")
        with self._lock:
            view = self._device.member_view(group)
            inbox.require_moderator(self._device, view)
            root = self._thread(view, thread)
            message = root.message
            return inbox.send(self._device, view, InboxKind.REPLY, text,
                              thread=message.item_id, to=message.sender,
                              subject=message.subject)

    def resolve(self, group: GroupRef, thread: str | InboxThread,
                outcome: OutcomeName, *, note: str = "") -> str:
        """Resolve a thread (moderators and admins), for the other moderators to see:
        ``"dismissed"``, ``"answered"``, ``"post_deleted"`` (deletes the reported post first)
        or ``"member_removed"`` (removes the member it is about first). What is refused
        changes nothing; the deletion or removal is done before the resolution says so."""
        chosen = inbox.outcome_of(outcome)
        with self._lock:
            view = self._device.member_view(group)
            inbox.require_moderator(self._device, view)
            root = self._thread(view, thread)
            message = root.message
            if chosen is Outcome.POST_DELETED:
                if message.post is None:
                    raise InvalidArgumentError("only a report names a post to delete")
                self._fetch_if_missing(view, message.post)
                if message.post not in view.timeline:
                    raise UnknownReferenceError("the reported post is not on this device (it "
                                                "may have disappeared); nothing was recorded")
                if not self._gone(view, message.post):
                    done = self.delete(group, message.post)
                    if done.status == "refused":
                        raise NotPermittedError(f"the post was not deleted: {done.reason}")
                    if done.status != "delivered":
                        raise RelayUnreachableError(
                            f"the post's deletion is kept on this device, not sent yet "
                            f"({done.reason}); nothing was recorded in the inbox: resolve "
                            "again once it has gone")
            elif chosen is Outcome.MEMBER_REMOVED:
                state = view.state
                assert state is not None
                if message.post is not None:
                    self._fetch_if_missing(view, message.post)
                author = inbox.verified_subject(view, root)  # never the report's word alone
                if author is None:
                    raise UnknownReferenceError("the reported post is not on this device, so "
                                                "who wrote it cannot be checked; nothing was "
                                                "done")
                if state.is_member(author):
                    self.remove(group, author)
            return inbox.send(self._device, view, InboxKind.RESOLUTION, note,
                              thread=message.item_id, subject=message.subject,
                              outcome=chosen)

    def _thread(self, view: GroupView, thread: str | InboxThread) -> OpenedItem:
        wanted = thread.thread_id if isinstance(thread, InboxThread) else thread
        try:
            return inbox.find_thread(view, wanted)
        except UnknownReferenceError:
            inbox.fetch(self._device, view)
            return inbox.find_thread(view, wanted)

    def _fetch_if_missing(self, view: GroupView, post_id: bytes) -> None:
        """Sync the group when *post_id* is neither on this device nor in its outbox."""
        if channels.body_here(view, post_id) is None:
            sync_io.sync_group(self._device, view)

    def _gone(self, view: GroupView, post_id: bytes) -> bool:
        shown = V.post_views(view, self._device.now(), {post_id})
        return not shown or shown[0].deleted

    # --- reading -------------------------------------------------------------------------------

    def posts(self, group: GroupRef, *, channel: ChannelRef | None = None) -> list[PostView]:
        """Every visible post and reply, in causal order (from this device's store; call
        :meth:`sync` first to fetch new ones). Edits, deletions and reactions are applied;
        posts with a content warning have ``hidden_by_default`` set. With ``channel``, only
        that channel's (:attr:`PostView.channel_id`)."""
        with self._lock:
            view = self._device.view(group)
            if view.state is None:
                return []
            shown = V.post_views(view, self._device.now())
            if channel is None:
                return shown
            target = channels.resolve(view, channel)
            wanted = MAIN_CHANNEL if target is None else b64encode(target)
            return [post for post in shown if post.channel_id == wanted]

    def threads(self, group: GroupRef, *, channel: ChannelRef | None = None) -> list[Thread]:
        """Posts grouped into threads: each top-level post with every reply under it (in
        one ``channel``, or all)."""
        return V.threads(self.posts(group, channel=channel))

    def get_post(self, group: GroupRef, post: PostRef) -> PostView:
        """One visible post or reply as members see it (from this device's store), or
        :class:`UnknownReferenceError` when this device shows no such post (not synced yet,
        deleted, expired, or not a post or reply)."""
        pid = b64encode(refs.post_id(post))
        for item in self.posts(group):
            if item.post_id == pid:
                return item
        raise UnknownReferenceError("there is no such post on this device (sync first, or it "
                                    "was deleted or has expired)")

    def search(self, query: str, group: GroupRef | None = None, *,
               limit: int | None = None) -> list[PostView]:
        """The posts and replies on this device that hold every word of *query*, newest
        first (at most *limit*): in one group, or in every group this device can read.

        Words match in any order, each at the start of a word ("walk" finds "walking"); a
        "quoted phrase" matches as written; case, accents and punctuation do not matter. A
        post matches on its text, its content warning and its attachments' file names (a
        match behind a content warning still has ``hidden_by_default`` set). Within a group
        the order is the group's (causal) order, read backwards; across groups, the posts'
        times. The search runs on this device only, over what it has synced: nothing is
        sent, and nothing is written to disk. An empty query, or one over 200 characters:
        :class:`InvalidArgumentError`."""
        wanted = search.terms(query)
        if limit is not None and limit < 1:
            raise InvalidArgumentError("a search's limit is at least 1")
        with self._lock:
            now = self._device.now()
            found = []
            for view in self._readable(group):
                shown = V.post_views(view, now)  # (this drawing is then view.drawn)
                found.append(search.matching(view.search_index, shown, wanted, view.drawn))
        return search.newest_first(found, limit)

    def export_own_posts(self, group: GroupRef | None = None, *,
                         file_format: ExportFormat = "text") -> bytes:
        """Your own posts and replies, as a document to keep: in one group, or in every
        group this device can read. ``"text"`` is for people, ``"json"`` for programs (its
        shape: ``clients/python/README.md``). Posts as they stand now (edits applied;
        deleted and expired ones left out; posts not sent yet included and marked), oldest
        first; a reply names whose post it answered, never that post's words; attachments
        are listed, not included. The document is **not encrypted**."""
        parts, now = self._own_posts(group)
        return exporting.render(parts, file_format, now)

    def save_own_posts(self, path: str | os.PathLike[str], group: GroupRef | None = None, *,
                       file_format: ExportFormat = "text") -> SavedPosts:
        """:meth:`export_own_posts` written to a new file at *path* (owner-only; never over
        an existing file: :class:`InvalidArgumentError`)."""
        parts, now = self._own_posts(group)
        written = exporting.write_new(path, exporting.render(parts, file_format, now))
        return SavedPosts(written, exporting.count(parts), len(parts))

    def _own_posts(self, group: GroupRef | None) -> tuple[list[exporting.GroupPosts], int]:
        with self._lock:
            now = self._device.now()
            parts = []
            for view in self._readable(group):
                posts, answered = exporting.own_posts(V.post_views(view, now))
                name = groups.info(self._device, view).name
                parts.append(exporting.GroupPosts(view.gid, name, posts, answered))
            return parts, now

    def _readable(self, group: GroupRef | None) -> list[GroupView]:
        """*group*'s view, or every group's this device holds, less those whose log it does
        not hold yet (a join waiting for approval). The caller holds the lock."""
        self._device.check_open()
        if group is not None:
            views = [self._device.view(group)]
        else:
            views = [self._device.view(row.group_id) for row in self._device.store.groups()]
        return [view for view in views if view.state is not None]

    def warnings(self) -> list[ev.SyncWarning]:
        """Every warning reported since this client opened, oldest first."""
        with self._lock:
            return list(self._device.warnings)

    # --- syncing ---------------------------------------------------------------------------------

    def sync(self, group: GroupRef | None = None) -> list[SyncReport]:
        """Fetch and verify what is new: the membership log (a rollback or fork raises
        :class:`RollbackError` / :class:`ForkError`), this device's key grants, and posts.
        Sends posts waiting on this device first. An admin's device also does its duties:
        a new epoch after someone left, keys for members who joined by invite.

        With no *group*, syncs every group this device is a member of (or waits to join, or
        is creating), each on its own: a group that cannot be synced (its relay is down, it
        forked...) has :attr:`SyncReport.error` set instead of stopping the others.
        """
        with self._lock:
            self._device.check_open()
            if group is None:
                return sync_io.sync_all(self._device)
            return [sync_io.sync_group(self._device, self._device.view(group))]

    def wait(self, group: GroupRef, timeout: float = 25.0) -> SyncReport:
        """Wait (long-poll, up to *timeout* seconds, at most 30) until something this
        device has not seen happens in the group, then sync it. Releases the client's lock
        while waiting. Returns the sync's report (no events when nothing came in time)."""
        # (the lock is taken inside: a wait must not hold it while the relay keeps the poll)
        return waiting.wait(self._device, self._lock, group, timeout)
