"""Muting a member on one's own device (``Client.mute``): their posts are drawn collapsed
there and nowhere else, the choice survives a restart, is kept sealed, and is forgotten with
the group."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from vault_client import Client
from vault_client.errors import InvalidArgumentError, LocalStoreError, UnknownReferenceError

from tests.client.test_newcomers import circle, in_a_circle, open_client
from tests.relayproc import RelayProcess
from vault.crypto.encoding import b64decode, b64encode
from vault.crypto.localstore import decode_muted_members, encode_muted_members, record_id


def muted_row(client: Client, gid: str) -> str | None:
    with sqlite3.connect(Path(client.home) / "client.db") as db:
        row = db.execute("SELECT value FROM meta WHERE key=?", (f"muted/{gid}",)).fetchone()
    return None if row is None else str(row[0])


def shown(client: Client, gid: str) -> dict[str, bool]:
    return {p.text: p.muted for p in client.posts(gid)}


def test_a_muted_members_posts_are_collapsed_on_this_device_only(
        tmp_path: Path, relay_up: RelayProcess) -> None:
    with in_a_circle(tmp_path, relay_up, "ann", "ben", "mal") as (gid, (ann, ben, mal)):
        first = ann.post(gid, "Welcome, everyone").post_id
        mal.sync(gid)
        mal.post(gid, "Unkind words")
        mal.reply(gid, first, "More unkind words")
        ben.sync(gid)
        assert shown(ben, gid) == {"Welcome, everyone": False, "Unkind words": False,
                                   "More unkind words": False}

        ben.mute(gid, "Mal")  # by name, as people say it
        # The kept drawing is not reused: the posts are collapsed at once, no sync needed.
        assert shown(ben, gid) == {"Welcome, everyone": False, "Unkind words": True,
                                   "More unkind words": True}
        mal_id = mal.me(gid).member_id
        assert ben.muted(gid) == [mal_id]
        assert {m.member_id: m.muted for m in ben.members(gid)}[mal_id] is True
        ben.mute(gid, mal_id)  # again: nothing changes
        assert ben.muted(gid) == [mal_id]
        # Search still finds them, marked.
        assert [p.muted for p in ben.search("unkind", gid)] == [True, True]

        # Nobody else is told, and nothing changes for them.
        ann.sync(gid)
        mal.sync(gid)
        assert not any(shown(ann, gid).values()) and not any(shown(mal, gid).values())
        assert muted_row(ann, gid) is None and muted_row(mal, gid) is None

        # Kept sealed: the row is not the plain record, and Mal's key is not in it.
        row = muted_row(ben, gid)
        assert row is not None
        sealed = b64decode(row)
        assert b64decode(mal_id) not in sealed
        assert sealed != encode_muted_members([b64decode(mal_id)])

        with pytest.raises(InvalidArgumentError, match="cannot mute yourself"):
            ben.mute(gid, ben.me(gid).member_id)
        with pytest.raises(UnknownReferenceError):
            ben.mute(gid, "Nobody by that name")

    # After a restart, still muted; then unmuted, and no row is left to say anyone was.
    with open_client(tmp_path, "ben", relay_up) as ben:
        assert shown(ben, gid)["Unkind words"] is True
        ben.unmute(gid, mal_id)
        assert not any(shown(ben, gid).values())
        assert ben.muted(gid) == []
        assert muted_row(ben, gid) is None


def test_a_former_member_can_be_muted_and_forgetting_the_group_forgets_it(
        tmp_path: Path, relay_up: RelayProcess) -> None:
    with in_a_circle(tmp_path, relay_up, "ann", "ben", "mal") as (gid, (ann, ben, mal)):
        mal.post(gid, "before leaving")
        mal_id = mal.me(gid).member_id
        ann.remove(gid, mal_id)
        ben.sync(gid)
        ben.mute(gid, mal_id)
        assert shown(ben, gid) == {"before leaving": True}
        ben.leave(gid)  # then forgotten on Ben's device
        assert muted_row(ben, gid) is None


def test_a_damaged_mute_record_is_said(tmp_path: Path, relay_up: RelayProcess) -> None:
    with open_client(tmp_path, "ann", relay_up) as ann, \
            open_client(tmp_path, "ben", relay_up) as ben:
        gid = circle(ann, ben)
        ben.mute(gid, ann.me(gid).member_id)
        row = muted_row(ben, gid)
        assert row is not None
    damaged = bytearray(b64decode(row))
    damaged[-1] ^= 1
    with sqlite3.connect(tmp_path / "ben" / "client.db") as db:
        db.execute("UPDATE meta SET value=? WHERE key=?", (b64encode(bytes(damaged)),
                                                           f"muted/{gid}"))
    with open_client(tmp_path, "ben", relay_up) as ben, \
            pytest.raises(LocalStoreError, match="damaged"):
        ben.posts(gid)


def test_a_sealed_record_that_is_not_a_mute_list_is_said(tmp_path: Path,
                                                         relay_up: RelayProcess) -> None:
    with open_client(tmp_path, "ann", relay_up) as ann:
        gid = ann.create_group("Circle", display_name="Ann").group_id
        device = ann._device
        group = b64decode(gid)
        sealed = device.seal("muted", record_id(group), b"\x15\x01" + b"\x00" * 3)
        device.store.set_meta(f"muted/{gid}", b64encode(sealed))
    with open_client(tmp_path, "ann", relay_up) as ann, \
            pytest.raises(LocalStoreError, match="list of members muted on this device"):
        ann.posts(gid)


def test_a_change_another_program_made_to_the_list_is_kept(tmp_path: Path,
                                                           relay_up: RelayProcess) -> None:
    with open_client(tmp_path, "ann", relay_up) as ann, \
            open_client(tmp_path, "ben", relay_up) as ben, \
            open_client(tmp_path, "cleo", relay_up) as cleo:
        gid = circle(ann, ben, cleo)
        ben_id, cleo_id = ben.me(gid).member_id, cleo.me(gid).member_id
    with open_client(tmp_path, "ann", relay_up) as ann:
        ann.posts(gid)  # (the group's view loaded: nobody muted)
        # Meanwhile another program on this home muted Ben (written to the store only).
        group = b64decode(gid)
        sealed = ann._device.seal("muted", record_id(group),
                                  encode_muted_members([b64decode(ben_id)]))
        ann._device.store.set_meta(f"muted/{gid}", b64encode(sealed))
        ann.mute(gid, cleo_id)
        assert sorted(ann.muted(gid)) == sorted([ben_id, cleo_id])  # Ben's mute kept


def test_the_record_is_one_encoding_per_set() -> None:
    a, b = b"\x01" * 32, b"\x02" * 32
    assert encode_muted_members([b, a, b]) == encode_muted_members([a, b])
    assert decode_muted_members(encode_muted_members([b, a])) == {a, b}


def test_a_muted_members_reactions_are_left_out_on_this_device(
        tmp_path: Path, relay_up: RelayProcess) -> None:
    with in_a_circle(tmp_path, relay_up, "ann", "ben", "mal") as (gid, (ann, ben, mal)):
        first = ann.post(gid, "Welcome, everyone").post_id
        for person in (ben, mal):
            person.sync(gid)
        mal.react(gid, first, "\U0001f44e")
        mal.react(gid, first, "\U0001f49c", content_warning="mean")
        ben.react(gid, first, "\U0001f49c")
        for person in (ann, ben):
            person.sync(gid)
        assert ben.get_post(gid, first).reaction_counts() == {"\U0001f44e": 1, "\U0001f49c": 1}
        ben.mute(gid, "Mal")
        post = ben.get_post(gid, first)
        assert post.reactions == (("\U0001f49c", (ben.me(gid).member_id,)),)
        assert post.reactions_behind_warning == ()
        assert ann.get_post(gid, first).reaction_counts() == {"\U0001f44e": 1,
                                                              "\U0001f49c": 1}
        ben.unmute(gid, "Mal")
        assert len(ben.get_post(gid, first).reactions_behind_warning) == 1
