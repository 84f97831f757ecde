"""A hostile relay: the real relay app, in process, behind a proxy that lies per client.

How it is built
---------------

* The relay is the real one: :func:`vault.api.create_app` on a temporary SQLite file,
  reached in process through :class:`httpx.WSGITransport` (no sockets, no threads), so
  every request an SDK :class:`~vault_client.Client` makes runs the real blueprints, auth,
  log compare-and-swap and database.
* Each client gets its own :class:`RelayView` (an :class:`httpx.BaseTransport`, handed to
  ``Client(transport=...)``). A view forwards to the real app and then rewrites the answer:
  that is how one member is shown a forked log while another sees the true one. Answers
  are rewritten at the HTTP layer, as the relay operator (or whoever broke into it) would
  do it: the SDK parses and verifies them exactly as it does a network answer.
* The attacker also owns the database (:class:`HostileRelay` reads and writes the SQLite
  file directly): admitting someone the log does not allow, storing a post from a removed
  member, adding a row to the relay's member list.
* Every byte that crosses the proxy, both ways, is recorded, so a test can assert that no
  plaintext (the canaries) ever reached the relay: in its traffic or in its database files.

A view's attacks are plain attributes (``log``, ``log_head_seq``, ``posts``, ``grants``,
``blob``, ``respond``, ``intercept``, ``omniscient``); :meth:`RelayView.reset` makes it
honest again. The suite's fixtures (``conftest.py``) reset every view after each test and,
after each test, scan the relay for the canary texts the test wrote.

Why in process and not a proxy in front of a relay process: the attacks are per client and
change from one line of a test to the next, the attacker needs the database as much as the
HTTP answers, and the suite stays fast (no sockets, no process start). The real app runs
unchanged; only ``tests/client`` and ``tests/api`` exercise it over a socket.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
from flask import Flask

from vault.crypto.encoding import b64decode, b64encode
from vault.crypto.errors import MalformedError

RELAY_URL = "https://relay.hostile.test"

LogRewrite = Callable[[bytes, list[bytes]], list[bytes]]
"""``(group_id, the true log) -> the log this client is shown`` (genesis first)."""
PostsRewrite = Callable[[bytes, dict[str, Any]], dict[str, Any]]
"""``(group_id, one page of GET /posts as JSON) -> the page this client is shown``."""
GrantsRewrite = Callable[[bytes, list[tuple[int, bytes]]], list[tuple[int, bytes]]]
"""``(group_id, [(epoch, grant bytes)]) -> the grants this client is shown``."""
BlobRewrite = Callable[[bytes, bytes], bytes]
"""``(blob id, the stored bytes) -> the bytes this client is shown``."""


@dataclass
class Exchange:
    """One request through the proxy and the answer the client got."""

    view: str
    method: str
    url: str
    request: bytes
    status: int
    response: bytes


def _json_response(status: int, body: Any) -> httpx.Response:
    return httpx.Response(status, json=body)


def _route(path: str) -> tuple[bytes | None, str]:
    """``/v1/groups/<gid>/<rest>`` -> (group id, rest); anything else -> (None, path)."""
    parts = path.split("/")
    if len(parts) >= 4 and parts[1] == "v1" and parts[2] == "groups" and parts[3]:
        try:
            gid = b64decode(parts[3], "group id")
        except MalformedError:  # not a group path
            return None, path
        return gid, "/".join(parts[4:])
    return None, path


class RelayView(httpx.BaseTransport):
    """What one client sees of the relay. Honest until an attack attribute is set."""

    def __init__(self, relay: HostileRelay, name: str) -> None:
        self.relay = relay
        self.name = name
        self.reset()

    def reset(self) -> None:
        """Make this view honest again."""
        self.log: LogRewrite | None = None
        self.log_head_seq: Callable[[int], int] | None = None
        self.posts: PostsRewrite | None = None
        self.grants: GrantsRewrite | None = None
        self.blob: BlobRewrite | None = None
        self.intercept: Callable[[httpx.Request], httpx.Response | None] | None = None
        """Answer a request without the relay (None: let the relay answer)."""
        self.respond: Callable[[httpx.Request, httpx.Response], httpx.Response] | None = None
        """Rewrite any answer of the real relay (any endpoint, any byte)."""
        self.omniscient = False
        """Ignore the relay's access control: answer this client's sessions itself and
        serve it everything in the database (every post, every grant, the whole log), and
        store whatever it uploads. What a relay does for a removed member it colludes with."""

    # --- the proxy ---------------------------------------------------------------------------

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        response = self._answer(request)
        content = response.read()
        self.relay.exchanges.append(Exchange(self.name, request.method, str(request.url), body,
                                             response.status_code, content))
        headers = [(k, v) for k, v in response.headers.items()
                   if k.lower() not in ("content-length", "content-encoding",
                                        "transfer-encoding")]
        return httpx.Response(response.status_code, headers=headers, content=content)

    def _answer(self, request: httpx.Request) -> httpx.Response:
        self.relay.requests.append((self.name, request.method, request.url.path))
        if self.intercept is not None:
            forged = self.intercept(request)
            if forged is not None:
                return forged
        gid, rest = _route(request.url.path)
        query = {k: v[0] for k, v in parse_qs(request.url.query.decode()).items()}
        if gid is not None and self.omniscient:
            forged = self._omniscient(request, gid, rest, query)
            if forged is not None:
                return forged
        real = self.relay.wsgi.handle_request(request)
        real.read()
        if self.respond is not None:
            real = self.respond(request, real)
        if gid is None or real.status_code != 200 or request.method != "GET":
            return real
        if rest == "log" and (self.log is not None or self.log_head_seq is not None):
            return self._serve_log(gid, query)
        if rest == "posts" and self.posts is not None:
            return _json_response(200, self.posts(gid, real.json()))
        if rest == "grants" and self.grants is not None:
            items = [(int(i["epoch"]), b64decode(i["grant"])) for i in real.json()["grants"]]
            served = self.grants(gid, items)
            return _json_response(200, {"grants": [{"epoch": e, "grant": b64encode(g)}
                                                   for e, g in served]})
        if rest.startswith("blobs/") and self.blob is not None:
            blob_id = b64decode(rest.split("/", 1)[1])
            return httpx.Response(200, content=self.blob(blob_id, real.content),
                                  headers={"Content-Type": "application/octet-stream"})
        return real

    def _serve_log(self, gid: bytes, query: dict[str, str]) -> httpx.Response:
        true_log = self.relay.log(gid)
        served = true_log if self.log is None else self.log(gid, true_log)
        start = int(query.get("from", "0"))
        limit = int(query.get("limit", "500"))
        head = len(served) - 1
        if self.log_head_seq is not None:
            head = self.log_head_seq(head)
        return _json_response(200, {"entries": [b64encode(e) for e in served[start:start + limit]],
                                    "head_seq": head})

    def _omniscient(self, request: httpx.Request, gid: bytes, rest: str,
                    query: dict[str, str]) -> httpx.Response | None:
        relay = self.relay
        if rest == "auth/challenge":
            return _json_response(201, {"challenge": b64encode(secrets.token_bytes(32)),
                                        "expires_at_ms": 2**53})
        if rest == "auth/session":
            return _json_response(201, {"token": b64encode(secrets.token_bytes(32)),
                                        "expires_at_ms": 2**53})
        if request.method == "GET" and rest == "log":
            return self._serve_log(gid, query)
        if request.method == "GET" and rest == "posts":
            page = relay.posts_page(gid, query.get("after"), int(query.get("limit", "100")))
            return _json_response(200, page if self.posts is None else self.posts(gid, page))
        if request.method == "GET" and rest == "grants":
            items = relay.all_grants(gid)
            if self.grants is not None:
                items = self.grants(gid, items)
            return _json_response(200, {"grants": [{"epoch": e, "grant": b64encode(g)}
                                                   for e, g in items]})
        if request.method == "GET" and rest == "events":
            return _json_response(200, {"events": [], "cursor": query.get("after", "0"),
                                        "more": False})
        if request.method == "GET" and rest.startswith("blobs/"):
            data = relay.blob(gid, b64decode(rest.split("/", 1)[1]))
            return httpx.Response(200, content=data)
        if request.method == "PUT" and rest.startswith("posts/"):
            envelope = b64decode(json.loads(request.content)["envelope"])
            post_id = b64decode(rest.split("/", 1)[1])
            cursor = relay.store_post(gid, post_id, envelope)
            return _json_response(201, {"post_id": b64encode(post_id), "cursor": str(cursor)})
        return None

    def close(self) -> None:  # the relay outlives the clients that use it
        pass


class HostileRelay:
    """The real relay app, its database, and one :class:`RelayView` per client."""

    def __init__(self, app: Flask, database: Path) -> None:
        self.app = app
        self.database = database
        self.wsgi = httpx.WSGITransport(app=app)
        self.views: dict[str, RelayView] = {}
        self.exchanges: list[Exchange] = []
        self.requests: list[tuple[str, str, str]] = []

    def view(self, name: str) -> RelayView:
        if name not in self.views:
            self.views[name] = RelayView(self, name)
        return self.views[name]

    def reset(self) -> None:
        for view in self.views.values():
            view.reset()

    # --- the database, as the attacker sees it -----------------------------------------------

    def _db(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.database, timeout=30, isolation_level=None)
        conn.execute("PRAGMA busy_timeout=30000")
        return conn

    def log(self, gid: bytes) -> list[bytes]:
        with self._db() as conn:
            return [bytes(r[0]) for r in conn.execute(
                "SELECT raw FROM log_entries WHERE group_id=? ORDER BY seq", (gid,))]

    def posts(self, gid: bytes) -> list[tuple[bytes, int, bytes | None]]:
        """Every stored post: (post id, cursor, envelope or None once deleted)."""
        with self._db() as conn:
            return [(bytes(p), int(c), None if e is None else bytes(e)) for p, c, e in
                    conn.execute("SELECT post_id, cursor, envelope FROM posts "
                                 "WHERE group_id=? ORDER BY cursor", (gid,))]

    def envelope(self, gid: bytes, post_id: bytes) -> bytes:
        for pid, _cursor, envelope in self.posts(gid):
            if pid == post_id:
                assert envelope is not None
                return envelope
        raise KeyError("no such post")

    def posts_page(self, gid: bytes, after: str | None, limit: int) -> dict[str, Any]:
        with self._db() as conn:
            rows = list(conn.execute(
                "SELECT post_id, cursor, envelope, deleted, created_at_ms, expires_at_ms "
                "FROM posts WHERE group_id=? AND cursor>? ORDER BY cursor LIMIT ?",
                (gid, int(after or 0), limit + 1)))
        more = len(rows) > limit
        items = [{"post_id": b64encode(bytes(p)), "cursor": str(c),
                  "envelope": None if e is None else b64encode(bytes(e)), "deleted": bool(d),
                  "created_at_ms": t, "expires_at_ms": x} for p, c, e, d, t, x in rows[:limit]]
        return {"posts": items, "cursor": items[-1]["cursor"] if items else after,
                "more": more}

    def all_grants(self, gid: bytes) -> list[tuple[int, bytes]]:
        with self._db() as conn:
            return [(int(e), bytes(r)) for e, r in conn.execute(
                "SELECT epoch, raw FROM grants WHERE group_id=? ORDER BY epoch DESC", (gid,))]

    def grants_for(self, gid: bytes, recipient: bytes) -> list[tuple[int, bytes]]:
        with self._db() as conn:
            return [(int(e), bytes(r)) for e, r in conn.execute(
                "SELECT epoch, raw FROM grants WHERE group_id=? AND recipient=? "
                "ORDER BY epoch DESC", (gid, recipient))]

    def blob(self, gid: bytes, blob_id: bytes) -> bytes:
        with self._db() as conn:
            row = conn.execute("SELECT data FROM blobs WHERE group_id=? AND blob_id=?",
                               (gid, blob_id)).fetchone()
        assert row is not None, "no such blob"
        return bytes(row[0])

    def _next_event(self, conn: sqlite3.Connection, gid: bytes) -> int:
        conn.execute("UPDATE groups SET event_seq=event_seq+1 WHERE group_id=?", (gid,))
        return int(conn.execute("SELECT event_seq FROM groups WHERE group_id=?",
                                (gid,)).fetchone()[0])

    def store_post(self, gid: bytes, post_id: bytes, envelope: bytes,
                   uploader: bytes = b"\0" * 32) -> int:
        """Store a post the real relay would refuse (say, from a removed member)."""
        from vault.crypto.posts import PostEnvelope

        parsed = PostEnvelope.decode(envelope)
        with self._db() as conn:
            conn.execute("BEGIN IMMEDIATE")
            cursor = self._next_event(conn, gid)
            conn.execute(
                "INSERT INTO posts (group_id, post_id, cursor, epoch, uploader, envelope, "
                "deleted, created_at_ms, expires_at_ms) VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?)",
                (gid, post_id, cursor, parsed.epoch, uploader, envelope, 0,
                 parsed.expires_at_ms))
            conn.execute("COMMIT")
        return cursor

    def admit(self, gid: bytes, raw_entry: bytes, member: bytes | None = None) -> None:
        """Append *raw_entry* to the stored log without any rule (relay-side admission), and
        put *member* on the relay's member list so the relay lets it in."""
        from vault.crypto.log import LogEntry

        entry = LogEntry.decode(raw_entry)
        with self._db() as conn:
            conn.execute("BEGIN IMMEDIATE")
            event = self._next_event(conn, gid)
            conn.execute("INSERT INTO log_entries (group_id, seq, entry_hash, raw, event_seq, "
                         "created_at_ms) VALUES (?, ?, ?, ?, ?, 0)",
                         (gid, entry.seq, entry.hash, raw_entry, event))
            conn.execute("UPDATE groups SET head_seq=?, head_hash=? WHERE group_id=?",
                         (entry.seq, entry.hash, gid))
            if member is not None:
                conn.execute("INSERT INTO members (group_id, sign_pk, role, joined_seq, "
                             "removed_seq) VALUES (?, ?, 1, ?, NULL)", (gid, member, entry.seq))
            conn.execute("COMMIT")

    def add_to_member_list(self, gid: bytes, sign_pk: bytes, role: int = 1) -> None:
        """Put a key on the relay's member list (not in the log): the relay now serves it."""
        with self._db() as conn:
            conn.execute("INSERT INTO members (group_id, sign_pk, role, joined_seq, "
                         "removed_seq) VALUES (?, ?, ?, 0, NULL)", (gid, sign_pk, role))

    # --- what the relay learned --------------------------------------------------------------

    def files(self) -> Iterator[Path]:
        for suffix in ("", "-wal", "-shm", "-journal"):
            path = Path(str(self.database) + suffix)
            if path.exists():
                yield path

    def leaks(self, canaries: list[str], since: int = 0) -> list[str]:
        """Where any canary appears in the relay's database files or in any request or
        answer that crossed it from exchange *since* on (raw, UTF-16, hex, base64 at every
        alignment, and inside any base64 field of a JSON body)."""
        found: list[str] = []
        needles = {c: _encodings(c) for c in canaries}
        haystacks: list[tuple[str, bytes]] = [(str(p), p.read_bytes()) for p in self.files()]
        for ex in self.exchanges[since:]:
            where = f"{ex.view} {ex.method} {ex.url}"
            haystacks.append((where + " (url)", ex.url.encode()))
            haystacks.append((where + " (request)", ex.request))
            haystacks.append((where + " (response)", ex.response))
            for part, raw in (("request", ex.request), ("response", ex.response)):
                for decoded in _base64_fields(raw):
                    haystacks.append((f"{where} ({part}, a base64 field)", decoded))
        for canary, forms in needles.items():
            for where, data in haystacks:
                if any(form in data for form in forms):
                    found.append(f"{canary!r} in {where}")
        return found


def _encodings(text: str) -> list[bytes]:
    raw = text.encode()
    forms = [raw, text.encode("utf-16-le"), text.encode("utf-16-be"),
             raw.hex().encode(), raw.hex().upper().encode()]
    for offset in range(3):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            chunk = encode(raw[offset:]).rstrip(b"=")
            forms.append(chunk[: len(chunk) - 4])  # the stable middle, whatever precedes it
    return [f for f in forms if len(f) >= 8]


def _base64_fields(raw: bytes) -> Iterator[bytes]:
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return
    stack = [body]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str) and len(item) >= 8:
            with contextlib.suppress(binascii.Error, ValueError):
                yield base64.urlsafe_b64decode(item + "=" * (-len(item) % 4))


def env_quiet() -> dict[str, Any]:
    return {"VAULT_RATE_LIMIT": 0, "VAULT_RATE_LIMIT_EXPENSIVE": 0,
            "VAULT_EVENTS_POLL_MS": 50, "VAULT_LOG_LEVEL": "WARNING"}


@dataclass
class Clock:
    """The members' clock: real time plus an offset a test may move."""

    offset_ms: int = 0

    def __call__(self) -> int:
        return int(time.time() * 1000) + self.offset_ms
