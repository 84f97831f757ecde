"""The local store's schema versions: ``PRAGMA user_version`` and the ordered migrations
that bring an older file up to :data:`SCHEMA_VERSION`.

Migration *i* brings a store from version *i* to *i* + 1 (version 0: a new, empty file). The
store applies them one at a time (:func:`apply_next`), each in its own transaction together
with the version it reaches, so each runs once, and a migration that fails leaves the file
as the one before it left it. A file newer than this code is refused, untouched. Stores
written before the version was kept in ``user_version`` have the tables of version 1 and
``user_version`` 0: they are taken for version 1.

A new migration is a function appended to :data:`MIGRATIONS`; the schema it arrives at is
described in :mod:`.store`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Final, TypeAlias

from vault_client.errors import LocalStoreError

Migration: TypeAlias = Callable[[sqlite3.Connection], None]

_VERSION_1_TABLES: Final = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS groups (
        group_id BLOB PRIMARY KEY,
        relay_url TEXT NOT NULL,
        status TEXT NOT NULL,
        checkpoint BLOB,
        post_cursor TEXT,
        event_cursor TEXT,
        next_author_seq INTEGER NOT NULL DEFAULT 1,
        history_policy TEXT NOT NULL DEFAULT 'none',
        pending BLOB,
        created_at_ms INTEGER NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS log_entries (
        group_id BLOB NOT NULL, seq INTEGER NOT NULL, raw BLOB NOT NULL,
        PRIMARY KEY (group_id, seq))""",
    """CREATE TABLE IF NOT EXISTS epoch_keys (
        group_id BLOB NOT NULL, epoch INTEGER NOT NULL, sealed BLOB NOT NULL,
        PRIMARY KEY (group_id, epoch))""",
    """CREATE TABLE IF NOT EXISTS posts (
        group_id BLOB NOT NULL, post_id BLOB NOT NULL, cursor TEXT, epoch INTEGER NOT NULL,
        expires_at_ms INTEGER, stub INTEGER NOT NULL DEFAULT 0, sealed BLOB NOT NULL,
        PRIMARY KEY (group_id, post_id))""",
    """CREATE TABLE IF NOT EXISTS held_posts (
        group_id BLOB NOT NULL, post_id BLOB NOT NULL, cursor TEXT, envelope BLOB NOT NULL,
        PRIMARY KEY (group_id, post_id))""",
    """CREATE TABLE IF NOT EXISTS rejected_posts (
        group_id BLOB NOT NULL, post_id BLOB NOT NULL, code TEXT NOT NULL,
        PRIMARY KEY (group_id, post_id))""",
    """CREATE TABLE IF NOT EXISTS outbox (
        group_id BLOB NOT NULL, post_id BLOB NOT NULL, created_at_ms INTEGER NOT NULL,
        sealed BLOB NOT NULL, PRIMARY KEY (group_id, post_id))""",
    """CREATE TABLE IF NOT EXISTS outbox_blobs (
        group_id BLOB NOT NULL, blob_id BLOB NOT NULL, post_id BLOB NOT NULL,
        sealed BLOB NOT NULL, PRIMARY KEY (group_id, blob_id))""",
    """CREATE TABLE IF NOT EXISTS grants_issued (
        group_id BLOB NOT NULL, epoch INTEGER NOT NULL, recipient BLOB NOT NULL,
        PRIMARY KEY (group_id, epoch, recipient))""",
)


def _create_tables(db: sqlite3.Connection) -> None:
    """Version 1: the tables of a new store."""
    for statement in _VERSION_1_TABLES:
        db.execute(statement)


def _record_arrivals(db: sqlite3.Connection) -> None:
    """Version 2: what this device knew when each post arrived (-1: not recorded)."""
    for table in ("held_posts", "posts"):
        for column in ("known_seq", "fence_seq"):
            db.execute(f"ALTER TABLE {table} ADD COLUMN {column} "
                       "INTEGER NOT NULL DEFAULT -1")


def _drafts_and_group_numbers(db: sqlite3.Connection) -> None:
    """Version 3: posts kept as written in the outbox (``draft``), and the number a person
    uses for each group, given in the order the groups came, never reused."""
    db.execute("ALTER TABLE outbox ADD COLUMN draft BLOB")
    db.execute("ALTER TABLE groups ADD COLUMN number INTEGER")
    db.execute("""UPDATE groups SET number = (
        SELECT COUNT(*) FROM groups AS g
        WHERE g.created_at_ms < groups.created_at_ms
           OR (g.created_at_ms = groups.created_at_ms AND g.rowid <= groups.rowid))""")
    db.execute("CREATE UNIQUE INDEX IF NOT EXISTS groups_number ON groups (number)")
    db.execute("INSERT OR REPLACE INTO meta VALUES ('next-group-number', "
               "(SELECT COALESCE(MAX(number), 0) + 1 FROM groups))")


def _read_refused_posts_again(db: sqlite3.Connection) -> None:
    """Version 4: polls, votes and pins (post kinds 6-8) arrived before this device could
    read them, refused as malformed (``post_invalid``) and never read again. Those refusals
    are forgotten, and each group that had one reads its posts again from the start on its
    next sync: what this version reads is kept, what is still bad is refused again (and
    said once more). Posts already stored are passed over; posts held waiting for a key
    are looked at as on any sync. The read fence is kept: a post read again is judged as
    on any read, so one by an author who left before that fence is refused (ARRIVAL-1),
    as it would be from any relay; that is the price of not letting a relay slip such
    posts in on the one read after the update."""
    groups = [bytes(row[0]) for row in db.execute(
        "SELECT DISTINCT group_id FROM rejected_posts WHERE code = 'post_invalid'")]
    db.execute("DELETE FROM rejected_posts WHERE code = 'post_invalid'")
    for group_id in groups:
        db.execute("UPDATE groups SET post_cursor = NULL WHERE group_id = ?", (group_id,))


MIGRATIONS: Final[tuple[Migration, ...]] = (
    _create_tables,
    _record_arrivals,
    _drafts_and_group_numbers,
    _read_refused_posts_again,
)
"""In order: migration *i* brings a store from version *i* to *i* + 1."""
SCHEMA_VERSION: Final = len(MIGRATIONS)


def stored_version(db: sqlite3.Connection) -> int:
    """The schema version of the open file (0: new and empty)."""
    version = int(db.execute("PRAGMA user_version").fetchone()[0])
    if version == 0 and db.execute(
            "SELECT 1 FROM sqlite_master WHERE name='meta'").fetchone() is not None:
        return 1  # written before the version was kept: version 1
    return version


def apply_next(db: sqlite3.Connection, path: str) -> bool:
    """Inside the caller's transaction: the next migration the file needs, with the version
    it reaches. False when the file is up to date; refused when it is newer than this code."""
    version = stored_version(db)
    if version > SCHEMA_VERSION:
        raise LocalStoreError(
            f"the local store at {path} was written by a newer version of Vault (its "
            f"schema {version}; this one reads up to {SCHEMA_VERSION}); update Vault to "
            "open it")
    if version == SCHEMA_VERSION:
        return False
    MIGRATIONS[version](db)
    db.execute(f"PRAGMA user_version = {version + 1}")
    return True
