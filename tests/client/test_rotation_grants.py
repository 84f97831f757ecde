"""A rotation seals its grants on every core (issue 14): the grants come back in the
members' order whatever order the threads finish in, every member's grant opens to the new
epoch's key for that member alone, and one request carries them (against a real relay)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from vault_client import Client
from vault_client._internal import cores, rotation
from vault_client._internal import sync as sync_engine
from vault_client._internal.transport import MemberAuth, Transport
from vault_client.errors import RelayUnreachableError

from tests.client.conftest import PASSPHRASE, RelayProcess
from vault.crypto import epochs
from vault.crypto.epochs import EpochGrant, build_grants, new_epoch_key, open_grant
from vault.crypto.identity import Identity, PublicIdentity
from vault.crypto.log import LogEntry, sign_entry
from vault.crypto.log_entries import AddBody, Role
from vault.crypto.primitives import default_clock


def _recipients(count: int) -> list[Identity]:
    return [Identity.generate() for _ in range(count)]


def _out_of_order_map(fn: Callable[[Any], Any], items: Sequence[Any]) -> Iterable[Any]:
    """Runs the batches last first, on a pool (as a busy machine might finish them), and
    yields the results in the batches' order, as Executor.map does."""
    with ThreadPoolExecutor(4) as pool:
        futures = [None] * len(items)
        for index in reversed(range(len(items))):
            futures[index] = pool.submit(fn, items[index])  # type: ignore[call-overload]
        return [f.result() for f in futures]  # type: ignore[union-attr]


def test_parallel_grants_keep_the_recipients_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(epochs, "GRANT_BATCH", 3)
    granter = Identity.generate()
    people = _recipients(17)  # six batches, the last one short
    key = new_epoch_key()
    gid = bytes(range(32))
    for mapper in (_out_of_order_map, cores.map_on_cores, None):
        grants = build_grants(granter, gid, 4, key, [p.public for p in people],
                              map_batches=mapper)
        assert [g.recipient for g in grants] == [p.sign_pk for p in people]
        for grant in grants:
            again = EpochGrant.decode(grant.encode())
            assert (again.group_id, again.epoch, again.recipient, again.sealed) == \
                (grant.group_id, grant.epoch, grant.recipient, grant.sealed)
    assert build_grants(granter, gid, 4, key, [], map_batches=_out_of_order_map) == ()


def test_a_map_that_loses_or_reorders_a_batch_is_refused(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(epochs, "GRANT_BATCH", 2)
    granter = Identity.generate()
    people = [p.public for p in _recipients(6)]

    def reversed_map(fn: Callable[[Any], Any], items: Sequence[Any]) -> Iterable[Any]:
        return [fn(item) for item in reversed(items)]

    def lossy_map(fn: Callable[[Any], Any], items: Sequence[Any]) -> Iterable[Any]:
        return [fn(item) for item in items[:-1]]

    for bad in (reversed_map, lossy_map):
        with pytest.raises(RuntimeError):
            build_grants(granter, bytes(32), 1, new_epoch_key(), people, map_batches=bad)
    with pytest.raises(ValueError):  # refused before anything is sealed
        build_grants(granter, bytes(32), 1, new_epoch_key(), [*people, people[0]],
                     map_batches=_out_of_order_map)


def _add_members(owner: Client, gid: str, relay: RelayProcess,
                 people: list[Identity]) -> None:
    view = owner._device.view(gid)
    last = LogEntry.decode(view.entries[-1])
    transport = Transport(relay.url)
    auth = MemberAuth(view.group_id, view.me)
    for person in people:
        entry = sign_entry(view.me, AddBody(person.public, Role.MEMBER),
                           group_id=view.group_id, seq=last.seq + 1, prev_hash=last.hash,
                           timestamp_ms=max(default_clock(), last.timestamp_ms))
        transport.append(auth, view.group_id, entry.raw)
        last = entry
    transport.close()
    owner.sync(gid)


def test_rotation_grants_every_member_in_one_request(
        tmp_path: Path, relay: RelayProcess, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(epochs, "GRANT_BATCH", 4)  # several batches on the pool
    owner = Client(PASSPHRASE, home=tmp_path / "owner", relay_url=relay.url)
    gid = owner.create_group("Rotation", display_name="Owner").group_id
    people = _recipients(21)
    _add_members(owner, gid, relay, people)
    uploads: list[list[bytes]] = []
    real = Transport.upload_grants

    def recording(self: Transport, auth: Any, epoch: int, grants: list[bytes]) -> None:
        uploads.append(list(grants))
        real(self, auth, epoch, grants)

    monkeypatch.setattr(Transport, "upload_grants", recording)
    epoch = owner.rotate(gid)
    view = owner._device.view(gid)
    key = view.keys[epoch]
    state = view.state
    members: list[PublicIdentity] = [m.identity for m in state.members.values()]
    assert len(members) == len(people) + 1
    assert len(uploads) == 1  # one request for the whole group
    assert [EpochGrant.decode(g).recipient for g in uploads[0]] == \
        [m.sign_pk for m in members]
    # Each member fetches its own grant from the relay and opens it: the new key.
    transport = Transport(relay.url)
    try:
        for person in people:
            served = transport.grants(MemberAuth(view.group_id, person), epoch)
            assert [e for e, _ in served] == [epoch]
            grant = EpochGrant.decode(served[0][1])
            assert open_grant(grant, person, state) == key
    finally:
        transport.close()

    # A bigger group (here: from 10 members) goes in two requests, the first sent while the
    # second is sealed: together, every member once, in order.
    monkeypatch.setattr(rotation, "PIPELINE_FROM", 10)
    uploads.clear()
    epoch = owner.rotate(gid)
    view = owner._device.view(gid)
    assert len(uploads) == 2
    assert [EpochGrant.decode(g).recipient for g in uploads[0] + uploads[1]] == \
        [m.sign_pk for m in view.state.members.values()]
    assert {pk for e, pk in view.issued if e == epoch} == set(view.state.members)
    owner.close()


def test_the_name_and_profile_go_into_the_new_epoch_while_the_last_grants_travel(
        tmp_path: Path, relay: RelayProcess, monkeypatch: pytest.MonkeyPatch) -> None:
    """Over a network each request costs a round trip: the rotation's two metadata entries
    do not wait for the last grant request. Should that request fail, the entries stay
    published, the failure is raised, and the grants are owed (the next sync sends them)."""
    owner = Client(PASSPHRASE, home=tmp_path / "owner", relay_url=relay.url)
    gid = owner.create_group("Travel", display_name="Owner").group_id
    _add_members(owner, gid, relay, _recipients(3))
    uploading, appended, overlapped = threading.Event(), threading.Event(), []
    real_append = Transport.append

    def appending(self: Transport, auth: Any, group_id: bytes, raw: bytes) -> None:
        real_append(self, auth, group_id, raw)
        if uploading.is_set():
            appended.set()

    def failing_upload(self: Transport, auth: Any, epoch: int, grants: list[bytes]) -> None:
        uploading.set()
        overlapped.append(appended.wait(30))  # (a bound: without overlap it never comes)
        raise RelayUnreachableError("the relay went away")

    monkeypatch.setattr(Transport, "append", appending)
    monkeypatch.setattr(Transport, "upload_grants", failing_upload)
    with pytest.raises(RelayUnreachableError):
        owner.rotate(gid)
    assert overlapped == [True]
    view = owner._device.view(gid)
    epoch = view.state.epoch
    assert view.state.group_metadata.epoch == epoch  # type: ignore[union-attr]
    assert view.state.profiles[view.me.sign_pk].epoch == epoch
    assert not any(e == epoch for e, _ in view.issued)
    monkeypatch.undo()
    owner.sync(gid)  # the grants it owes go out
    assert {pk for e, pk in view.issued if e == epoch} == set(view.state.members)
    assert owner.group(gid).name == "Travel"
    owner.close()


def test_a_rotation_stopped_while_its_second_part_is_sealed_records_the_first(
        tmp_path: Path, relay: RelayProcess, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C (or any error) while the second half of the grants is sealed: the first half,
    already on its way, is waited for and recorded, so only the second half is owed."""
    owner = Client(PASSPHRASE, home=tmp_path / "owner", relay_url=relay.url)
    gid = owner.create_group("Halves", display_name="Owner").group_id
    _add_members(owner, gid, relay, _recipients(5))
    monkeypatch.setattr(rotation, "PIPELINE_FROM", 2)  # six members: two parts of three
    real_build, built = rotation.build_grants, []

    def building(*args: Any, **kwargs: Any) -> Any:
        built.append(1)
        if len(built) == 2:
            raise KeyboardInterrupt
        return real_build(*args, **kwargs)

    monkeypatch.setattr(rotation, "build_grants", building)
    with pytest.raises(KeyboardInterrupt):
        owner.rotate(gid)
    view = owner._device.view(gid)
    epoch, members = view.state.epoch, list(view.state.members)
    assert {pk for e, pk in view.issued if e == epoch} == set(members[:3])
    monkeypatch.undo()
    owner.sync(gid)  # the second half, owed, goes out
    assert {pk for e, pk in view.issued if e == epoch} == set(members)
    owner.close()


def test_map_on_cores_keeps_order_and_raises_what_a_task_raised() -> None:
    def slow_first(item: int) -> int:
        if item == 0:
            time.sleep(0.05)
        if item == 5:
            raise KeyError(item)
        return item * 2

    assert list(cores.map_on_cores(slow_first, [0, 1, 2, 3, 4])) == [0, 2, 4, 6, 8]
    with pytest.raises(KeyError):
        list(cores.map_on_cores(slow_first, [0, 5, 1]))
    assert cores.workers() >= 1


def test_a_rotation_reads_the_log_only_when_the_head_moved(
        tmp_path: Path, relay: RelayProcess, monkeypatch: pytest.MonkeyPatch) -> None:
    # The ROTATE goes on the head the device holds, and the group's name and the owner's
    # profile on the head the rotation has just appended, without reading the log; when
    # the head has
    # moved in between (here: another of the owner's entries lands first), the relay
    # refuses the entry and the device reads the log and builds it again.
    owner = Client(PASSPHRASE, home=tmp_path / "owner", relay_url=relay.url)
    gid = owner.create_group("Moving head", display_name="Owner").group_id
    _add_members(owner, gid, relay, _recipients(2))
    reads: list[int] = []
    appends: list[bytes] = []
    real_read, real_append = Transport.read_log, Transport.append
    newcomer = Identity.generate()

    def reading(self: Transport, *args: Any, **kwargs: Any) -> Any:
        reads.append(1)
        return real_read(self, *args, **kwargs)

    def appending(self: Transport, auth: Any, group_id: bytes, raw: bytes) -> Any:
        appends.append(raw)
        if len(appends) == 2:  # the first entry after the ROTATE: the head moves first
            view = owner._device.view(gid)
            last = LogEntry.decode(view.entries[-1])
            other = sign_entry(view.me, AddBody(newcomer.public, Role.MEMBER),
                               group_id=view.group_id, seq=last.seq + 1, prev_hash=last.hash,
                               timestamp_ms=max(default_clock(), last.timestamp_ms))
            real_append(self, auth, group_id, other.raw)
        return real_append(self, auth, group_id, raw)

    monkeypatch.setattr(Transport, "read_log", reading)
    monkeypatch.setattr(Transport, "append", appending)
    epoch = owner.rotate(gid)
    monkeypatch.setattr(Transport, "read_log", real_read)
    monkeypatch.setattr(Transport, "append", real_append)
    # ROTATE, the name (refused once: the head moved), the name again, the profile.
    assert len(appends) == 4
    # Only after the refusal: none before the ROTATE, none before the profile.
    assert len(reads) == 1
    owner.sync(gid)
    view = owner._device.view(gid)
    assert view.state.group_metadata is not None and view.state.group_metadata.epoch == epoch
    assert view.state.profiles[view.me.sign_pk].epoch == epoch
    assert newcomer.sign_pk in view.state.members
    assert owner.group(gid).name == "Moving head"
    owner.close()


def _keys_saved(client: Client, monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, bytes]]:
    """Every (epoch, key) *client*'s device saves from now on, in order."""
    saved: list[tuple[int, bytes]] = []
    real_save = client._device.save_key

    def saving(v: Any, epoch: int, key: bytes) -> None:
        saved.append((epoch, key))
        real_save(v, epoch, key)

    monkeypatch.setattr(client._device, "save_key", saving)
    return saved


def test_a_rotation_on_a_head_that_moved_is_built_again_with_a_new_key(
        tmp_path: Path, relay: RelayProcess, monkeypatch: pytest.MonkeyPatch) -> None:
    # The device's view is behind (another entry landed since it last read the log): the
    # relay refuses the ROTATE, the device reads the log and starts the epoch on the new
    # head with a fresh key. Every member's grant holds the key the log commits to, and the
    # refused attempt's key is not kept for that epoch.
    owner = Client(PASSPHRASE, home=tmp_path / "owner", relay_url=relay.url)
    gid = owner.create_group("Behind", display_name="Owner").group_id
    people = _recipients(2)
    _add_members(owner, gid, relay, people)
    newcomer = Identity.generate()
    view = owner._device.view(gid)
    last = LogEntry.decode(view.entries[-1])
    moved = sign_entry(view.me, AddBody(newcomer.public, Role.MEMBER), group_id=view.group_id,
                       seq=last.seq + 1, prev_hash=last.hash,
                       timestamp_ms=max(default_clock(), last.timestamp_ms))
    transport = Transport(relay.url)
    transport.append(MemberAuth(view.group_id, view.me), view.group_id, moved.raw)
    saved = _keys_saved(owner, monkeypatch)
    epoch = owner.rotate(gid)
    assert [e for e, _ in saved] == [epoch, epoch] and saved[0][1] != saved[1][1]
    view = owner._device.view(gid)
    assert newcomer.sign_pk in view.state.members  # the entry was built on the moved head
    key = view.keys[epoch]
    assert key == saved[1][1] and sync_engine.key_matches(view.state, epoch, key)
    assert not sync_engine.key_matches(view.state, epoch, saved[0][1])
    try:
        for person in people:
            served = transport.grants(MemberAuth(view.group_id, person), epoch)
            assert open_grant(EpochGrant.decode(served[0][1]), person, view.state) == key
    finally:
        transport.close()
    owner.close()
    reopened = Client(PASSPHRASE, home=tmp_path / "owner", relay_url=relay.url)
    try:  # what the device kept for the epoch is the key that started it
        assert reopened._device.view(gid).keys[epoch] == key
    finally:
        reopened.close()


def test_a_rotation_that_lost_its_epoch_to_another_admin_keeps_only_the_real_keys(
        tmp_path: Path, relay: RelayProcess, monkeypatch: pytest.MonkeyPatch) -> None:
    # Another admin starts epoch E first; the owner's view is behind, so its own attempt at
    # E is refused and it starts E+1 instead. The key it saved for E before sending (the
    # refused attempt's) is never taken for E: the owner holds the other admin's key for E
    # and its own for E+1, also after reopening its device.
    owner = Client(PASSPHRASE, home=tmp_path / "owner", relay_url=relay.url)
    admin = Client(PASSPHRASE, home=tmp_path / "admin", relay_url=relay.url)
    gid = owner.create_group("Two admins", display_name="Owner").group_id
    joined = admin.join(owner.create_invite(gid).uri)
    owner.approve(gid, joined.member_id, role=Role.ADMIN)
    admin.sync(gid)
    owner.sync(gid)
    taken = admin.rotate(gid)  # the owner has not seen it
    saved = _keys_saved(owner, monkeypatch)
    mine = owner.rotate(gid)
    assert mine == taken + 1 and [e for e, _ in saved[:2]] == [taken, mine]
    refused_key = saved[0][1]
    owner.sync(gid)
    view = owner._device.view(gid)
    assert view.keys[taken] != refused_key
    assert sync_engine.key_matches(view.state, taken, view.keys[taken])
    assert sync_engine.key_matches(view.state, mine, view.keys[mine])
    admin.close()
    owner.close()
    reopened = Client(PASSPHRASE, home=tmp_path / "owner", relay_url=relay.url)
    try:
        keys = reopened._device.view(gid).keys
        assert keys[taken] != refused_key
        assert sync_engine.key_matches(reopened._device.view(gid).state, taken, keys[taken])
    finally:
        reopened.close()
