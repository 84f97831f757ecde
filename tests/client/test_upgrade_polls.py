"""A device that refused polls before it could read them (an older Vault took kind 6 for
damage and never read such a post again) reads them after the update: the local store's
migration 4 forgets those refusals and reads the group again."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.client.conftest import PASSPHRASE, RelayProcess
from tests.client.test_newcomers import circle, open_client
from vault.crypto.encoding import b64decode


def test_polls_refused_by_an_older_version_are_read_after_the_update(
        tmp_path: Path, relay_up: RelayProcess) -> None:
    with open_client(tmp_path, "ann", relay_up) as ann, \
            open_client(tmp_path, "ben", relay_up) as ben:
        gid = circle(ann, ben)
        asked = ann.create_poll(gid, "Tea or coffee?", ["Tea", "Coffee"]).post_id
        vote = ann.vote(gid, asked, "Tea").post_id
        ann.post(gid, "And a plain post")
        ben.sync(gid)  # read past all three
    # Ben's device as the older version left it: the poll and the vote refused as
    # post_invalid and not stored (the plain post read), its store at schema version 3.
    db = sqlite3.connect(tmp_path / "ben" / "client.db")
    with db:
        for pid in (asked, vote):
            db.execute("DELETE FROM posts WHERE group_id = ? AND post_id = ?",
                       (b64decode(gid), b64decode(pid)))
            db.execute("INSERT INTO rejected_posts VALUES (?, ?, 'post_invalid')",
                       (b64decode(gid), b64decode(pid)))
        db.execute("PRAGMA user_version = 3")
    db.close()
    with open_client(tmp_path, "ben", relay_up) as ben:  # the update opens the store
        ben.sync(gid)
        poll = ben.get_post(gid, asked).poll
        assert poll is not None and poll.counts == (1, 0)
        assert [p.text for p in ben.posts(gid)] == ["Tea or coffee?", "And a plain post"]
        assert ben.warnings() == []
    assert PASSPHRASE  # (the same home and passphrase: an update, not a new device)
