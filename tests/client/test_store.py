"""The local store's schema versions: a store from the oldest version this code still reads
opens with its data, each migration commits on its own, and a store written by a newer
version of Vault is refused untouched."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from vault_client._internal import migrations
from vault_client._internal.migrations import SCHEMA_VERSION
from vault_client._internal.store import Store
from vault_client.errors import LocalStoreError

# The oldest store this code reads, as the SDK wrote it before ``PRAGMA user_version`` was
# kept (user_version 0): written out here, not taken from the code under test.
_OLDEST = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE groups (
    group_id BLOB PRIMARY KEY, relay_url TEXT NOT NULL, status TEXT NOT NULL,
    checkpoint BLOB, post_cursor TEXT, event_cursor TEXT,
    next_author_seq INTEGER NOT NULL DEFAULT 1, history_policy TEXT NOT NULL DEFAULT 'none',
    pending BLOB, created_at_ms INTEGER NOT NULL
);
CREATE TABLE log_entries (
    group_id BLOB NOT NULL, seq INTEGER NOT NULL, raw BLOB NOT NULL,
    PRIMARY KEY (group_id, seq)
);
CREATE TABLE epoch_keys (
    group_id BLOB NOT NULL, epoch INTEGER NOT NULL, sealed BLOB NOT NULL,
    PRIMARY KEY (group_id, epoch)
);
CREATE TABLE posts (
    group_id BLOB NOT NULL, post_id BLOB NOT NULL, cursor TEXT, epoch INTEGER NOT NULL,
    expires_at_ms INTEGER, stub INTEGER NOT NULL DEFAULT 0, sealed BLOB NOT NULL,
    PRIMARY KEY (group_id, post_id)
);
CREATE TABLE held_posts (
    group_id BLOB NOT NULL, post_id BLOB NOT NULL, cursor TEXT, envelope BLOB NOT NULL,
    PRIMARY KEY (group_id, post_id)
);
CREATE TABLE rejected_posts (
    group_id BLOB NOT NULL, post_id BLOB NOT NULL, code TEXT NOT NULL,
    PRIMARY KEY (group_id, post_id)
);
CREATE TABLE outbox (
    group_id BLOB NOT NULL, post_id BLOB NOT NULL, created_at_ms INTEGER NOT NULL,
    sealed BLOB NOT NULL, PRIMARY KEY (group_id, post_id)
);
CREATE TABLE outbox_blobs (
    group_id BLOB NOT NULL, blob_id BLOB NOT NULL, post_id BLOB NOT NULL,
    sealed BLOB NOT NULL, PRIMARY KEY (group_id, blob_id)
);
CREATE TABLE grants_issued (
    group_id BLOB NOT NULL, epoch INTEGER NOT NULL, recipient BLOB NOT NULL,
    PRIMARY KEY (group_id, epoch, recipient)
);
"""

FIRST, SECOND = b"\x01" * 32, b"\x02" * 32
POST, HELD, QUEUED, BLOB = b"\x10" * 16, b"\x11" * 16, b"\x12" * 16, b"\x13" * 16


def _oldest_store(path: Path) -> None:
    """A store at the oldest version, holding a little of everything."""
    db = sqlite3.connect(path)
    db.executescript(_OLDEST)
    with db:
        db.execute("INSERT INTO meta VALUES ('owner', 'sealed-marker')")
        db.execute("INSERT INTO meta VALUES ('post-fence/AQ', '17/4')")
        # (the second group came first: numbers follow the order groups came in)
        db.execute("INSERT INTO groups (group_id, relay_url, status, post_cursor, "
                   "next_author_seq, history_policy, created_at_ms) "
                   "VALUES (?, 'https://relay.example', 'member', '17', 5, 'all', 2000)",
                   (FIRST,))
        db.execute("INSERT INTO groups (group_id, relay_url, status, created_at_ms) "
                   "VALUES (?, 'https://relay.example', 'pending', 1000)", (SECOND,))
        db.execute("INSERT INTO log_entries VALUES (?, 0, x'c0ffee')", (FIRST,))
        db.execute("INSERT INTO epoch_keys VALUES (?, 0, x'5e')", (FIRST,))
        db.execute("INSERT INTO posts (group_id, post_id, cursor, epoch, sealed) "
                   "VALUES (?, ?, '17', 0, x'aa')", (FIRST, POST))
        db.execute("INSERT INTO held_posts VALUES (?, ?, '18', x'bb')", (FIRST, HELD))
        db.execute("INSERT INTO rejected_posts VALUES (?, ?, 'relay_deleted')", (FIRST, BLOB))
        db.execute("INSERT INTO outbox VALUES (?, ?, 3000, x'cc')", (FIRST, QUEUED))
        db.execute("INSERT INTO outbox_blobs VALUES (?, ?, ?, x'dd')", (FIRST, BLOB, QUEUED))
        db.execute("INSERT INTO grants_issued VALUES (?, 0, ?)", (FIRST, SECOND))
    db.close()


def _user_version(path: Path) -> int:
    db = sqlite3.connect(path)
    try:
        return int(db.execute("PRAGMA user_version").fetchone()[0])
    finally:
        db.close()


def test_the_oldest_store_opens_with_its_data(tmp_path: Path) -> None:
    path = tmp_path / "client.db"
    _oldest_store(path)
    assert _user_version(path) == 0

    store = Store(str(path))
    try:
        first, second = store.group(FIRST), store.group(SECOND)
        assert first is not None and second is not None
        assert (first.relay_url, first.status, first.post_cursor, first.next_author_seq,
                first.history_policy, first.created_at_ms) == (
            "https://relay.example", "member", "17", 5, "all", 2000)
        assert (second.number, first.number) == (1, 2)
        assert [g.group_id for g in store.groups()] == [SECOND, FIRST]
        assert store.log_entries(FIRST) == [b"\xc0\xff\xee"]
        assert store.epoch_keys(FIRST) == [(0, b"\x5e")]
        [post] = store.posts(FIRST)
        assert (post.post_id, post.cursor, post.epoch, post.sealed, post.stub) == (
            POST, "17", 0, b"\xaa", False)
        assert (post.known_seq, post.fence_seq) == (-1, -1)  # not recorded then
        [held] = store.held(FIRST)
        assert (held.post_id, held.envelope, held.known_seq, held.fence_seq) == (
            HELD, b"\xbb", -1, -1)
        assert store.tombstones(FIRST) == {BLOB}
        [queued] = store.outbox(FIRST)
        assert (queued.post_id, queued.sealed, queued.draft, queued.blobs) == (
            QUEUED, b"\xcc", None, [(BLOB, b"\xdd")])
        assert store.issued(FIRST) == {(0, SECOND)}
        assert store.meta("owner") == "sealed-marker"
        assert store.meta("post-fence/AQ") == "17/4"

        # A group added now takes the next number; none is reused.
        store.add_group(b"\x03" * 32, "https://relay.example", "member", "none", 4000)
        added = store.group(b"\x03" * 32)
        assert added is not None and added.number == 3
    finally:
        store.close()
    assert _user_version(path) == SCHEMA_VERSION

    # Opened again, nothing is migrated twice.
    Store(str(path)).close()
    assert _user_version(path) == SCHEMA_VERSION


def test_a_new_store_is_at_the_current_version(tmp_path: Path) -> None:
    path = tmp_path / "client.db"
    Store(str(path)).close()
    assert _user_version(path) == SCHEMA_VERSION


def test_each_migration_commits_on_its_own(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A migration that fails leaves the store as the migration before it left it (its
    version and data), and the next open carries on from there."""
    path = tmp_path / "client.db"
    _oldest_store(path)

    def broken(db: sqlite3.Connection) -> None:
        db.execute("ALTER TABLE outbox ADD COLUMN draft BLOB")  # undone with the rest
        raise sqlite3.OperationalError("disk I/O error")

    last = len(migrations.MIGRATIONS) - 1
    monkeypatch.setattr(migrations, "MIGRATIONS",
                        (*migrations.MIGRATIONS[:last], broken))
    with pytest.raises(LocalStoreError, match="cannot be opened"):
        Store(str(path))
    assert _user_version(path) == last
    monkeypatch.undo()

    store = Store(str(path))
    try:
        [queued] = store.outbox(FIRST)
        assert queued.draft is None
        assert [g.number for g in store.groups()] == [1, 2]
    finally:
        store.close()
    assert _user_version(path) == SCHEMA_VERSION


def test_a_store_from_a_newer_vault_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "client.db"
    Store(str(path)).close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.execute("CREATE TABLE from_the_future (x INTEGER)")
    db.commit()
    db.close()
    before = path.read_bytes()

    with pytest.raises(LocalStoreError, match=r"newer version of Vault.*update Vault"):
        Store(str(path))
    assert _user_version(path) == SCHEMA_VERSION + 1
    assert path.read_bytes() == before
