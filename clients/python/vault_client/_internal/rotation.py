"""Epochs: starting a new one (a rotation, or a removal), granting an epoch's key to
members, and sealing the group's metadata and this member's profile under the current key
(again after every rotation)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Final

from vault.crypto.commitments import commitment_group_id, epoch_commitment
from vault.crypto.epochs import EpochGrant, build_grants, new_epoch_key
from vault.crypto.errors import GrantConflictError, VaultError
from vault.crypto.group_state import GroupState
from vault.crypto.identity import PublicIdentity
from vault.crypto.log import LogEntry
from vault.crypto.log_entries import (
    AddBody,
    AddRotateBody,
    EntryBody,
    MetadataBody,
    RemoveBody,
    RotateBody,
)
from vault.crypto.metadata import GroupMetadata, MemberProfile, seal_metadata
from vault.crypto.posts import check_can_post
from vault_client import events as ev
from vault_client._internal import views as V
from vault_client._internal.cores import map_on_cores
from vault_client._internal.device import Device
from vault_client._internal.group_view import GroupView
from vault_client._internal.log_io import append, sync_log
from vault_client.errors import EpochKeyMissingError

GRANT_CHUNK: Final = 5000
"""The most grants one upload request carries."""
PIPELINE_FROM: Final = 512
"""From this many recipients (up to :data:`GRANT_CHUNK`), grants go in two requests, the
first sent while the second is sealed."""


def rotate(device: Device, view: GroupView, events: list[ev.Event], *,
           remove: bytes | None = None, admit: AddBody | None = None) -> int:
    """Start a new epoch (removing *remove*, or admitting *admit*, in the same entry), grant
    its key to every member, and carry the group's name and this member's profile into it.
    Returns the new epoch. Admitting in the entry that starts the epoch (ADD_ROTATE) makes
    admission and the new key one step: a member admitted so never holds an older key,
    whatever happens to this device or the relay afterwards."""
    holder: dict[str, Any] = {}

    def build(state: GroupState) -> EntryBody:
        epoch = state.epoch + 1
        key = new_epoch_key()
        holder["epoch"], holder["key"] = epoch, key
        commitment = epoch_commitment(commitment_group_id(view.group_id, epoch), epoch, key)
        if remove is not None:
            return RemoveBody(remove, epoch, commitment)
        if admit is not None:
            return AddRotateBody(admit.member, admit.role, admit.invite_id, admit.proof,
                                 epoch, commitment)
        return RotateBody(epoch, commitment)

    def keep_key(_entry: LogEntry) -> None:
        # Saved once the entry passed this device's check and before it may reach the
        # relay: never lose the key of an epoch that starts, never keep one that did not.
        device.save_key(view, holder["epoch"], holder["key"])

    # On the head this device holds (no read of the log first, one request fewer): should
    # it have moved, the relay's compare-and-swap refuses the entry and the log is read and
    # the entry built again, with a new key (the refused one's key is never used).
    # Except when this device kept a key for an epoch its log does not show yet: an earlier
    # rotation of its own may have landed with its answer lost. The log is read first, so
    # that key is taken up if it did; building on the old head would save a new key for
    # that epoch number over the only copy of the real one.
    assert view.state is not None
    if any(epoch > view.state.epoch for epoch, _ in device.store.epoch_keys(view.group_id)):
        sync_log(device, view, events, [])
    append(device, view, build, before_send=keep_key, on_known_head=True)
    epoch: int = holder["epoch"]
    view.keys[epoch] = holder["key"]
    events.append(ev.EpochStarted(view.gid, epoch))
    assert view.state is not None
    # Everyone, this device included: its own grant lets an imported identity (a new
    # phone) recover the key from the relay. The group's name and this member's profile
    # go into the new epoch while the last grants travel: they need not wait for them.
    issue(device, view, epoch, [m.identity for m in view.state.members.values()],
          meanwhile=lambda: _carry_metadata(device, view, epoch))
    return epoch


def _carry_metadata(device: Device, view: GroupView, epoch: int) -> None:
    """The group's name and this member's profile, sealed again under *epoch*'s key, on the
    head the rotation has just appended (a head that moved since is refused by the relay's
    compare-and-swap, then read)."""
    assert view.state is not None
    meta = None
    with contextlib.suppress(VaultError):
        old = view.state.group_metadata
        if old is not None and old.epoch < epoch:
            meta = V.group_metadata(view)
    if meta is not None:
        publish_group_metadata(device, view, meta, on_known_head=True)
    mine = view.state.profiles.get(view.me.sign_pk)
    if mine is not None and mine.epoch < epoch:
        from vault_client._internal.rules import resealed  # (rules writes through here)

        profile = V.member_profile(view, view.me.sign_pk)  # (name and accepted rules)
        if profile is not None:
            publish_profile(device, view, resealed(view, profile), on_known_head=True)


def _chunks(recipients: Sequence[PublicIdentity]) -> list[list[PublicIdentity]]:
    """The requests a grant upload takes: one per 5,000; a group of at least
    :data:`PIPELINE_FROM` under that is sent in two halves, so that the first half travels
    (and the relay stores it) while the second is sealed."""
    if PIPELINE_FROM <= len(recipients) <= GRANT_CHUNK:
        half = (len(recipients) + 1) // 2
        return [list(recipients[:half]), list(recipients[half:])]
    return [list(recipients[start:start + GRANT_CHUNK])
            for start in range(0, len(recipients), GRANT_CHUNK)]


def issue(device: Device, view: GroupView, epoch: int,
          recipients: Sequence[PublicIdentity], *,
          meanwhile: Callable[[], None] | None = None) -> None:
    """Grant *epoch*'s key to *recipients*, recording it: sealed on every core, in one or
    two requests up to 10,000 (one per 5,000 beyond), each request sent while the next
    part is sealed. *meanwhile* runs here while the last part travels (and runs even when
    a part fails; that part's error is raised after it). A request that fails raises here
    (its part and those after it are not recorded, and are owed again: see
    ``engine.owed_grants``)."""
    if not recipients:
        if meanwhile is not None:
            meanwhile()
        return
    key = device.key_for(view, epoch)
    transport = device.transport(view.relay_url)
    auth = device.auth(view)

    def upload(grants: tuple[EpochGrant, ...]) -> None:
        # On its own thread, which touches nothing but the transport: the store and
        # view.issued stay with the caller's thread.
        try:
            transport.upload_grants(auth, epoch, [g.encode() for g in grants])
        except GrantConflictError:  # another admin granted some already
            for grant in grants:
                with contextlib.suppress(GrantConflictError):
                    transport.upload_grants(auth, epoch, [grant.encode()])

    def record(chunk: list[PublicIdentity]) -> None:
        pks = [r.sign_pk for r in chunk]
        device.store.record_issued(view.group_id, epoch, pks)
        view.issued.update((epoch, pk) for pk in pks)

    with ThreadPoolExecutor(1, thread_name_prefix="vault-grants") as uploader:
        sending: tuple[list[PublicIdentity], Future[None]] | None = None
        try:
            for chunk in _chunks(recipients):
                grants = build_grants(view.me, view.group_id, epoch, key, chunk,
                                      map_batches=map_on_cores)
                sent = sending
                if sent is not None:
                    sent[1].result()  # in order: a part that failed stops the parts after it
                sending = (chunk, uploader.submit(upload, grants))
                if sent is not None:
                    record(sent[0])  # while the next part travels
            if meanwhile is not None:
                meanwhile()
        finally:
            # Whatever ends this (the last part's turn, an error, Ctrl-C), the part still
            # travelling is waited for, and recorded if the relay took it.
            if sending is not None and sending[1].exception() is None:
                record(sending[0])
        assert sending is not None
        sending[1].result()  # the last part's failure, raised after the rest was done


def publish_group_metadata(device: Device, view: GroupView, metadata: GroupMetadata, *,
                           on_known_head: bool = False) -> None:
    """The group's name, description and rules, sealed under the current epoch's key."""
    def build(state: GroupState) -> EntryBody:
        check_can_post(state, state.epoch)
        key = device.key_for(view, state.epoch)
        return MetadataBody(None, state.epoch,
                            seal_metadata(key, view.group_id, state.epoch, None, metadata))
    append(device, view, build, on_known_head=on_known_head)


def edit_group_metadata(device: Device, view: GroupView,
                        edit: Callable[[GroupMetadata], GroupMetadata]
                        ) -> tuple[GroupMetadata, GroupMetadata] | None:
    """Read the log, then write the group metadata *edit* makes of the metadata in force,
    made again from the log's newest metadata if another admin's change lands first (so it
    is never lost). Returns (before, after), or None when *edit* changes nothing (nothing is
    written). Refused while this device cannot read the group's metadata: written blind, it
    would wipe what it cannot see."""
    sync_log(device, view, [], [])
    made: list[tuple[GroupMetadata, GroupMetadata]] = []

    def current() -> GroupMetadata:
        found = V.group_metadata(view)
        if found is None:
            raise EpochKeyMissingError("this device cannot read the group's details yet: "
                                       "sync, then try again")
        return found

    first = current()
    if edit(first) == first:
        return None

    def build(state: GroupState) -> EntryBody:
        before = current()
        after = edit(before)
        made.append((before, after))
        check_can_post(state, state.epoch)
        key = device.key_for(view, state.epoch)
        return MetadataBody(None, state.epoch,
                            seal_metadata(key, view.group_id, state.epoch, None, after))

    append(device, view, build, on_known_head=True)
    return made[-1]


def publish_profile(device: Device, view: GroupView, profile: MemberProfile, *,
                    on_known_head: bool = False) -> None:
    """This member's profile (display name), sealed under the current epoch's key."""
    me = view.me.sign_pk

    def build(state: GroupState) -> EntryBody:
        check_can_post(state, state.epoch, author=me)
        key = device.key_for(view, state.epoch)
        return MetadataBody(me, state.epoch,
                            seal_metadata(key, view.group_id, state.epoch, me, profile))
    append(device, view, build, on_known_head=on_known_head)
