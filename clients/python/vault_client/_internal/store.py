"""The local store: one SQLite file in the client's home directory.

What it keeps in clear is what the relay already knows about this device's groups (group
ids, the relay address, the membership log's entries, which hold only public keys, roles
and encrypted metadata) plus bookkeeping (cursors, post ids, epochs, expiry times).
Everything secret or written by members is a sealed local record
(:mod:`vault.crypto.localstore`) under a key that only the unlocked keystore yields:
epoch keys, decrypted posts, posts and attachments waiting to be uploaded, pending joins.

The schema, at version :data:`~.migrations.SCHEMA_VERSION` (``PRAGMA user_version``; an
older file is brought up to it by :mod:`.migrations`, a newer one refused)::

    meta(key TEXT PRIMARY KEY, value TEXT)
    groups(group_id BLOB PK, relay_url TEXT, status TEXT, checkpoint BLOB,
           post_cursor TEXT, event_cursor TEXT, next_author_seq INT,
           history_policy TEXT, pending BLOB, created_at_ms INT, number INT UNIQUE)
    log_entries(group_id, seq, raw BLOB, PK(group_id, seq))
    epoch_keys(group_id, epoch, sealed BLOB, PK(group_id, epoch))
    posts(group_id, post_id, cursor TEXT, epoch INT, expires_at_ms INT, stub INT,
          sealed BLOB, known_seq INT, fence_seq INT, PK(group_id, post_id))
    held_posts(group_id, post_id, cursor TEXT, envelope BLOB, known_seq INT, fence_seq INT,
               PK(group_id, post_id))
    rejected_posts(group_id, post_id, code TEXT, PK(group_id, post_id))
    outbox(group_id, post_id, created_at_ms INT, sealed BLOB, draft BLOB,
           PK(group_id, post_id))
    outbox_blobs(group_id, blob_id, post_id, sealed BLOB, PK(group_id, blob_id))
    grants_issued(group_id, epoch, recipient, PK(group_id, epoch, recipient))

``known_seq``/``fence_seq``: what this device knew when the post first arrived (see
:class:`vault.crypto.freshness.Arrival`); -1 where it was not recorded (posts stored by
version 1). ``outbox.draft``: the post as written (a sealed PostBody whose epoch and log
position are filled in when it is sealed for the group; None for posts queued by version
2); ``outbox.sealed``: its envelope, empty until it could be sealed (no key yet, a rotation
pending). ``groups.number``: the number a person uses for the group on this device, never
reused.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Final

from vault_client._internal.migrations import apply_next
from vault_client.errors import LocalStoreError

TOMBSTONE: Final = "relay_deleted"
"""``rejected_posts.code`` of a post the relay says was deleted (its ciphertext erased)."""

_GROUP_TABLES: Final = ("log_entries", "epoch_keys", "posts", "held_posts", "rejected_posts",
                        "outbox", "outbox_blobs", "grants_issued", "groups")


@dataclass(frozen=True)
class GroupRow:
    group_id: bytes
    relay_url: str
    status: str
    checkpoint: bytes | None
    post_cursor: str | None
    event_cursor: str | None
    next_author_seq: int
    history_policy: str
    pending: bytes | None
    created_at_ms: int
    number: int


@dataclass(frozen=True)
class OutboxRow:
    post_id: bytes
    sealed: bytes
    """The envelope's local record; empty until the post could be sealed."""
    draft: bytes | None
    """The post as written (a local record); None for posts queued by version 2 of the store."""
    blobs: list[tuple[bytes, bytes]]


@dataclass(frozen=True)
class PostRow:
    post_id: bytes
    cursor: str | None
    epoch: int
    expires_at_ms: int | None
    stub: bool
    sealed: bytes
    known_seq: int
    fence_seq: int


@dataclass(frozen=True)
class HeldRow:
    post_id: bytes
    cursor: str | None
    envelope: bytes
    known_seq: int
    fence_seq: int


class Store:
    """SQLite access. Every method is one transaction; callers hold the client's lock."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.RLock()
        try:
            # (timeout: several programs of one person may share the file; a writer waits)
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None,
                                       timeout=30.0)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._migrate(path)
        except sqlite3.DatabaseError as error:
            raise LocalStoreError(
                f"the local store at {path} cannot be opened ({type(error).__name__})"
            ) from None
        if hasattr(os, "chmod"):
            with contextlib.suppress(OSError):
                os.chmod(path, 0o600)

    def _migrate(self, path: str) -> None:
        """Bring the file to the schema this code reads, one migration per transaction
        (under the write lock: two programs never migrate at once, and each starts where
        the other stopped)."""
        more = True
        while more:
            with self.tx() as db:
                more = apply_next(db, path)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def data_version(self) -> int:
        """Changes whenever another connection (another program) commits to the file."""
        return int(self._all("PRAGMA data_version")[0][0])

    @contextlib.contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _all(self, sql: str, args: Iterable[Any] = ()) -> list[Any]:
        with self._lock:
            return list(self._db.execute(sql, tuple(args)))

    # --- meta --------------------------------------------------------------------------------

    def meta(self, key: str) -> str | None:
        rows = self._all("SELECT value FROM meta WHERE key=?", (key,))
        return None if not rows else str(rows[0][0])

    def set_meta(self, key: str, value: str) -> None:
        with self.tx() as db:
            db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def change_meta(self, key: str, change: Callable[[str | None], str | None]) -> None:
        """Replace the value of *key* by ``change(value)`` (None: none, or delete it) in one
        write transaction: another program's change in between is not lost."""
        with self.tx() as db:
            row = db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
            new = change(None if row is None else str(row[0]))
            if new is None:
                db.execute("DELETE FROM meta WHERE key=?", (key,))
            else:
                db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, new))

    def delete_meta(self, key: str) -> None:
        with self.tx() as db:
            db.execute("DELETE FROM meta WHERE key=?", (key,))

    def meta_prefix(self, prefix: str) -> list[tuple[str, str]]:
        """Every (key, value) whose key starts with *prefix*, by key."""
        return [(str(k), str(v)) for k, v in self._all(
            "SELECT key, value FROM meta WHERE substr(key, 1, ?) = ? ORDER BY key",
            (len(prefix), prefix))]

    def delete_meta_prefix(self, prefix: str) -> None:
        with self.tx() as db:
            db.execute("DELETE FROM meta WHERE substr(key, 1, ?) = ?", (len(prefix), prefix))

    # --- groups ------------------------------------------------------------------------------

    def groups(self) -> list[GroupRow]:
        return [GroupRow(*row) for row in self._all(
            "SELECT group_id, relay_url, status, checkpoint, post_cursor, event_cursor, "
            "next_author_seq, history_policy, pending, created_at_ms, number FROM groups "
            "ORDER BY number")]

    def group(self, group_id: bytes) -> GroupRow | None:
        rows = self._all(
            "SELECT group_id, relay_url, status, checkpoint, post_cursor, event_cursor, "
            "next_author_seq, history_policy, pending, created_at_ms, number FROM groups "
            "WHERE group_id=?", (group_id,))
        return GroupRow(*rows[0]) if rows else None

    def add_group(self, group_id: bytes, relay_url: str, status: str, policy: str,
                  now_ms: int, pending: bytes | None = None) -> None:
        with self.tx() as db:
            row = db.execute("SELECT value FROM meta WHERE key='next-group-number'").fetchone()
            number = 1 if row is None else int(row[0])
            db.execute(
                "INSERT INTO groups (group_id, relay_url, status, history_policy, pending, "
                "created_at_ms, number) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (group_id, relay_url, status, policy, pending, now_ms, number))
            db.execute("INSERT OR REPLACE INTO meta VALUES ('next-group-number', ?)",
                       (str(number + 1),))

    def update_group(self, group_id: bytes, **fields: Any) -> None:
        allowed = {"status", "post_cursor", "event_cursor", "history_policy", "pending",
                   "relay_url"}
        if not fields or not set(fields) <= allowed:
            raise ValueError("unknown group field")
        assignments = ", ".join(f"{name}=?" for name in fields)
        with self.tx() as db:
            db.execute(f"UPDATE groups SET {assignments} WHERE group_id=?",  # noqa: S608
                       (*fields.values(), group_id))

    def delete_group(self, group_id: bytes) -> None:
        with self.tx() as db:
            for table in _GROUP_TABLES:
                db.execute(f"DELETE FROM {table} WHERE group_id=?", (group_id,))  # noqa: S608

    def take_author_seq(self, db: sqlite3.Connection, group_id: bytes) -> int:
        """Reserve the next author sequence number (inside the caller's transaction)."""
        row = db.execute("SELECT next_author_seq FROM groups WHERE group_id=?",
                         (group_id,)).fetchone()
        seq = int(row[0])
        db.execute("UPDATE groups SET next_author_seq=? WHERE group_id=?", (seq + 1, group_id))
        return seq

    def bump_author_seq(self, group_id: bytes, at_least: int) -> None:
        with self.tx() as db:
            db.execute("UPDATE groups SET next_author_seq=MAX(next_author_seq, ?) "
                       "WHERE group_id=?", (at_least, group_id))

    # --- log ---------------------------------------------------------------------------------

    def log_entries(self, group_id: bytes) -> list[bytes]:
        return [bytes(r[0]) for r in self._all(
            "SELECT raw FROM log_entries WHERE group_id=? ORDER BY seq", (group_id,))]

    def save_log(self, group_id: bytes, first_seq: int, entries: list[bytes],
                 checkpoint: bytes) -> None:
        with self.tx() as db:
            db.executemany("INSERT OR REPLACE INTO log_entries VALUES (?, ?, ?)",
                           [(group_id, first_seq + i, raw) for i, raw in enumerate(entries)])
            db.execute("UPDATE groups SET checkpoint=? WHERE group_id=?", (checkpoint, group_id))

    def replace_log(self, group_id: bytes, entries: list[bytes], checkpoint: bytes) -> None:
        with self.tx() as db:
            db.execute("DELETE FROM log_entries WHERE group_id=?", (group_id,))
            db.executemany("INSERT INTO log_entries VALUES (?, ?, ?)",
                           [(group_id, i, raw) for i, raw in enumerate(entries)])
            db.execute("UPDATE groups SET checkpoint=? WHERE group_id=?", (checkpoint, group_id))

    # --- epoch keys --------------------------------------------------------------------------

    def epoch_keys(self, group_id: bytes) -> list[tuple[int, bytes]]:
        return [(int(e), bytes(s)) for e, s in self._all(
            "SELECT epoch, sealed FROM epoch_keys WHERE group_id=? ORDER BY epoch", (group_id,))]

    def save_epoch_key(self, group_id: bytes, epoch: int, sealed: bytes) -> None:
        with self.tx() as db:
            db.execute("INSERT OR REPLACE INTO epoch_keys VALUES (?, ?, ?)",
                       (group_id, epoch, sealed))

    def delete_epoch_key(self, group_id: bytes, epoch: int) -> None:
        with self.tx() as db:
            db.execute("DELETE FROM epoch_keys WHERE group_id=? AND epoch=?", (group_id, epoch))

    # --- posts -------------------------------------------------------------------------------

    def posts(self, group_id: bytes) -> list[PostRow]:
        return [PostRow(bytes(p), c, int(e), x, bool(s), bytes(d), int(k), int(f))
                for p, c, e, x, s, d, k, f in self._all(
                    "SELECT post_id, cursor, epoch, expires_at_ms, stub, sealed, known_seq, "
                    "fence_seq FROM posts WHERE group_id=? ORDER BY rowid", (group_id,))]

    def save_posts(self, db: sqlite3.Connection, group_id: bytes,
                   rows: list[tuple[bytes, str | None, int, int | None, bytes, int, int]]
                   ) -> None:
        """``(post_id, cursor, epoch, expires_at_ms, sealed, known_seq, fence_seq)`` rows; a
        post already stored only takes the cursor (its first arrival stays)."""
        db.executemany(
            "INSERT INTO posts (group_id, post_id, cursor, epoch, expires_at_ms, stub, sealed, "
            "known_seq, fence_seq) VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?) "
            "ON CONFLICT (group_id, post_id) DO UPDATE SET "
            "cursor=COALESCE(excluded.cursor, posts.cursor)",
            [(group_id, *row) for row in rows])

    def replace_post(self, db: sqlite3.Connection, group_id: bytes, post_id: bytes,
                     epoch: int, sealed: bytes, known_seq: int | None = None) -> None:
        """A post sealed again for a newer epoch: this device's own unsent post (with the
        log position it now knows), or a post its author sealed again (protocol TL-8; its
        first arrival stays, *known_seq* None)."""
        db.execute("UPDATE posts SET epoch=?, sealed=?, known_seq=COALESCE(?, known_seq) "
                   "WHERE group_id=? AND post_id=?",
                   (epoch, sealed, known_seq, group_id, post_id))

    def make_stubs(self, group_id: bytes, stubs: list[tuple[bytes, bytes]]) -> None:
        with self.tx() as db:
            db.executemany("UPDATE posts SET stub=1, sealed=? WHERE group_id=? AND post_id=?",
                           [(sealed, group_id, pid) for pid, sealed in stubs])

    def held(self, group_id: bytes) -> list[HeldRow]:
        return [HeldRow(bytes(p), c, bytes(e), int(k), int(f)) for p, c, e, k, f in self._all(
            "SELECT post_id, cursor, envelope, known_seq, fence_seq FROM held_posts "
            "WHERE group_id=? ORDER BY rowid", (group_id,))]

    def hold(self, db: sqlite3.Connection, group_id: bytes, rows: list[HeldRow]) -> None:
        """Keep posts to retry; a post held already keeps its first arrival."""
        db.executemany(
            "INSERT INTO held_posts (group_id, post_id, cursor, envelope, known_seq, fence_seq) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (group_id, post_id) DO NOTHING",
            [(group_id, r.post_id, r.cursor, r.envelope, r.known_seq, r.fence_seq)
             for r in rows])

    def unhold(self, db: sqlite3.Connection, group_id: bytes, post_ids: Iterable[bytes]) -> None:
        db.executemany("DELETE FROM held_posts WHERE group_id=? AND post_id=?",
                       [(group_id, pid) for pid in post_ids])

    def rejected(self, group_id: bytes) -> set[bytes]:
        return {bytes(r[0]) for r in self._all(
            "SELECT post_id FROM rejected_posts WHERE group_id=?", (group_id,))}

    def tombstones(self, group_id: bytes) -> set[bytes]:
        return {bytes(r[0]) for r in self._all(
            "SELECT post_id FROM rejected_posts WHERE group_id=? AND code=?",
            (group_id, TOMBSTONE))}

    def reject(self, db: sqlite3.Connection, group_id: bytes,
               rows: list[tuple[bytes, str]]) -> None:
        db.executemany("INSERT OR REPLACE INTO rejected_posts VALUES (?, ?, ?)",
                       [(group_id, *row) for row in rows])

    def set_cursor(self, db: sqlite3.Connection, group_id: bytes, cursor: str | None) -> None:
        if cursor is not None:
            db.execute("UPDATE groups SET post_cursor=? WHERE group_id=?", (cursor, group_id))

    # --- outbox ------------------------------------------------------------------------------

    def requeue(self, db: sqlite3.Connection, group_id: bytes, post_id: bytes,
                sealed: bytes) -> None:
        """Replace a waiting post's envelope (sealed again for a newer epoch)."""
        db.execute("UPDATE outbox SET sealed=? WHERE group_id=? AND post_id=?",
                   (sealed, group_id, post_id))

    def queue(self, db: sqlite3.Connection, group_id: bytes, post_id: bytes, now_ms: int,
              draft: bytes, blobs: list[tuple[bytes, bytes]]) -> None:
        """Keep a post as written, with its encrypted attachments, until it is sent."""
        db.execute("INSERT INTO outbox (group_id, post_id, created_at_ms, sealed, draft) "
                   "VALUES (?, ?, ?, ?, ?)", (group_id, post_id, now_ms, b"", draft))
        db.executemany("INSERT INTO outbox_blobs VALUES (?, ?, ?, ?)",
                       [(group_id, blob_id, post_id, b) for blob_id, b in blobs])

    def outbox(self, group_id: bytes) -> list[OutboxRow]:
        items = []
        for post_id, sealed, draft in self._all(
                "SELECT post_id, sealed, draft FROM outbox WHERE group_id=? "
                "ORDER BY created_at_ms, rowid", (group_id,)):
            blobs = [(bytes(b), bytes(s)) for b, s in self._all(
                "SELECT blob_id, sealed FROM outbox_blobs WHERE group_id=? AND post_id=?",
                (group_id, post_id))]
            items.append(OutboxRow(bytes(post_id), bytes(sealed),
                                   None if draft is None else bytes(draft), blobs))
        return items

    def blob_sent(self, group_id: bytes, blob_id: bytes) -> None:
        with self.tx() as db:
            db.execute("DELETE FROM outbox_blobs WHERE group_id=? AND blob_id=?",
                       (group_id, blob_id))

    def sent(self, group_id: bytes, post_id: bytes, cursor: str | None) -> None:
        with self.tx() as db:
            db.execute("DELETE FROM outbox WHERE group_id=? AND post_id=?", (group_id, post_id))
            db.execute("DELETE FROM outbox_blobs WHERE group_id=? AND post_id=?",
                       (group_id, post_id))
            if cursor is not None:
                db.execute("UPDATE posts SET cursor=? WHERE group_id=? AND post_id=?",
                           (cursor, group_id, post_id))

    def unqueue(self, group_id: bytes, post_id: bytes) -> None:
        """A post never sent, taken back: out of the outbox and the group's posts."""
        with self.tx() as db:
            for table in ("outbox", "outbox_blobs", "posts"):
                db.execute(f"DELETE FROM {table} WHERE group_id=? AND post_id=?",  # noqa: S608
                           (group_id, post_id))

    def outbox_count(self, group_id: bytes) -> int:
        return int(self._all("SELECT COUNT(*) FROM outbox WHERE group_id=?", (group_id,))[0][0])

    # --- grants issued ---------------------------------------------------------------------

    def issued(self, group_id: bytes) -> set[tuple[int, bytes]]:
        return {(int(e), bytes(r)) for e, r in self._all(
            "SELECT epoch, recipient FROM grants_issued WHERE group_id=?", (group_id,))}

    def record_issued(self, group_id: bytes, epoch: int, recipients: Iterable[bytes]) -> None:
        with self.tx() as db:
            db.executemany("INSERT OR IGNORE INTO grants_issued VALUES (?, ?, ?)",
                           [(group_id, epoch, r) for r in recipients])
