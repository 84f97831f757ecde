"""Real relay processes (``vault relay serve``: gunicorn, gevent workers) on loopback.

* Two relay processes on one PostgreSQL: a post through one wakes a member long-polling,
  and a member streaming events, on the other (LISTEN/NOTIFY).
* One relay with two gevent workers on SQLite: a post wakes waiters in both workers (Unix
  datagrams between the processes).
* A bounded load test: 2,000 members long-polling one relay with its default settings
  (two workers, rate limits on), while ordinary reads of the newest page are answered; one
  post wakes every waiter. It asserts what happened (everyone woken with the post, every
  read answered, no 5xx), never how long it took.

The group is made in-process (a Flask app on the same database, with the real clock), then
everything the test checks goes over HTTP.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.conftest import make_app
from tests.api.helpers import Api, FakeClock, RelayGroup
from tests.conftest import POSTGRES_URL, fresh_database
from tests.relayproc import RelayProcess
from vault.api.db import db
from vault.api.services import services_of

pytestmark = pytest.mark.slow
WAITERS = 2_000
PER_ADDRESS = 100  # waiters per loopback source address (the rate limit's burst is 200)
NO_REREAD = {"VAULT_EVENTS_POLL_MS": "3600000"}  # only the wake-up signal can wake a waiter


class Seeded:
    """A group on the relays' database, made in-process; its owner's session token."""

    def __init__(self, database_url: str) -> None:
        self.app = make_app(database_url, FakeClock(int(time.time() * 1000)))
        self.g = RelayGroup(Api(self.app))
        self.token = self.g.token(self.g.owner)
        self.headers = {"Authorization": f"Bearer {self.token}"}

    def cursor(self, relay: RelayProcess) -> str:
        response = httpx.get(f"{relay.url}{self.g.base}/events", params={"timeout": 0},
                             headers=self.headers, timeout=30)
        return str(response.json()["cursor"])

    def post(self, relay: RelayProcess) -> tuple[str, httpx.Response]:
        pid, envelope = self.g.envelope(self.g.owner)
        response = httpx.put(f"{relay.url}{self.g.base}/posts/{pid}", json={"envelope": envelope},
                             headers=self.headers, timeout=30)
        return pid, response

    def close(self) -> None:
        services_of(self.app).wakeup.close()
        with self.app.app_context():
            db.session.remove()
            db.engine.dispose()


def _long_poll(relay: RelayProcess, seeded: Seeded, cursor: str, out: list[Any]) -> None:
    response = httpx.get(f"{relay.url}{seeded.g.base}/events", headers=seeded.headers,
                         params={"after": cursor, "timeout": 30}, timeout=60)
    out.append(response.json())


def _posted(body: dict[str, Any]) -> list[str]:
    return [e["post"]["post_id"] for e in body["events"] if e["type"] == "post"]


@pytest.fixture
def two_relays_on_postgres(tmp_path: Path) -> Iterator[tuple[RelayProcess, RelayProcess, str]]:
    if not POSTGRES_URL:
        pytest.skip("VAULT_TEST_POSTGRES_URL is not set")
    with fresh_database("postgresql") as database:
        env = {"VAULT_DATABASE_URL": database.url, "VAULT_AUTO_MIGRATE": "1", **NO_REREAD}
        first = RelayProcess(tmp_path / "a", env=env)
        second = RelayProcess(tmp_path / "b", env=env)
        try:
            yield first, second, database.url
        finally:
            first.stop()
            second.stop()


def test_a_post_through_one_relay_wakes_a_long_poll_on_another(
        two_relays_on_postgres: tuple[RelayProcess, RelayProcess, str]) -> None:
    waiting, writing, url = two_relays_on_postgres
    seeded = Seeded(url)
    try:
        cursor = seeded.cursor(waiting)
        results: list[Any] = []
        poll = threading.Thread(target=_long_poll, args=(waiting, seeded, cursor, results))
        poll.start()
        time.sleep(0.5)  # let the poll start waiting (if it has not, it finds the post itself)
        pid, response = seeded.post(writing)
        assert response.status_code == 201
        poll.join(60)
        assert _posted(results[0]) == [pid]
    finally:
        seeded.close()


def test_a_post_through_one_relay_wakes_a_stream_on_another(
        two_relays_on_postgres: tuple[RelayProcess, RelayProcess, str]) -> None:
    waiting, writing, url = two_relays_on_postgres
    seeded = Seeded(url)
    try:
        cursor = seeded.cursor(waiting)
        with httpx.stream("GET", f"{waiting.url}{seeded.g.base}/events/stream",
                          params={"after": cursor}, timeout=60,
                          headers={**seeded.headers, "Accept": "text/event-stream"}) as stream:
            assert stream.status_code == 200
            lines = stream.iter_lines()
            assert next(lines) == ": stream open"  # the stream is waiting now
            pid, response = seeded.post(writing)
            assert response.status_code == 201
            frame: list[str] = []
            while len(frame) < 2:  # the blank line that ends the comment, then id and data
                line = next(lines)
                if line:
                    frame.append(line)
            event_id = next(line for line in frame if line.startswith("id: "))
            data = json.loads(next(line for line in frame if line.startswith("data: "))[6:])
            assert _posted(data) == [pid]
            assert event_id == f"id: {response.json()['cursor']}"
    finally:
        seeded.close()


def test_two_gevent_workers_on_sqlite_wake_each_other(tmp_path: Path) -> None:
    relay = RelayProcess(tmp_path / "data", workers=2, env=NO_REREAD)
    seeded = Seeded(f"sqlite:///{tmp_path / 'data' / 'relay.db'}")
    try:
        cursor = seeded.cursor(relay)
        results: list[Any] = []
        polls = [threading.Thread(target=_long_poll, args=(relay, seeded, cursor, results))
                 for _ in range(16)]  # spread over both workers
        for poll in polls:
            poll.start()
        time.sleep(1.0)  # let the polls start waiting
        pid, response = seeded.post(relay)
        assert response.status_code == 201
        for poll in polls:
            poll.join(60)
        assert len(results) == 16 and all(_posted(body) == [pid] for body in results)
    finally:
        seeded.close()
        relay.stop()


def test_a_relay_told_to_stop_answers_its_waiters_and_exits(tmp_path: Path) -> None:
    """SIGTERM (a restart, a deploy): a member long-polling gets the answer of a wait that
    ended, a member streaming gets the stream's end (both ask again, and gunicorn closes a
    stopping worker's connections after their next answer), and the relay exits cleanly,
    not by cutting them off at the graceful timeout (10 s: the long-poll asked for 30),
    and without a traceback in its log."""
    relay = RelayProcess(tmp_path / "data", env=NO_REREAD)
    seeded = Seeded(f"sqlite:///{tmp_path / 'data' / 'relay.db'}")
    try:
        cursor = seeded.cursor(relay)
        results: list[Any] = []

        def long_poll() -> None:
            response = httpx.get(f"{relay.url}{seeded.g.base}/events", headers=seeded.headers,
                                 params={"after": cursor, "timeout": 30}, timeout=60)
            results.append((response.status_code, response.json()))

        with httpx.stream("GET", f"{relay.url}{seeded.g.base}/events/stream",
                          params={"after": cursor}, timeout=60,
                          headers={**seeded.headers, "Accept": "text/event-stream"}) as stream:
            lines = stream.iter_lines()
            assert next(lines) == ": stream open"  # waiting now
            poll = threading.Thread(target=long_poll)
            poll.start()
            time.sleep(1.0)  # let the poll start waiting (if not, it is answered at once)
            assert relay.proc is not None
            os.killpg(relay.proc.pid, signal.SIGTERM)
            rest = [line for line in lines if line]  # until the relay ends the stream
            poll.join(60)
        assert rest == [": relay restarting; reconnect with Last-Event-ID"]
        assert results == [(200, {"events": [], "cursor": cursor, "more": False})]
        assert relay.proc.wait(timeout=60) == 0
        output = relay.output()
        assert b"graceful timeout" not in output.lower()
        # An operator's log after a clean stop holds no traceback (each gevent worker's
        # exit printed one from logging's handler cleanup before worker_exiting).
        assert b"Traceback" not in output and b"Exception ignored" not in output, output
    finally:
        seeded.close()
        relay.stop()


# --- the load test ----------------------------------------------------------------------------


async def _request(address: str, port: int, path: str, headers: dict[str, str]
                   ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(address, 0))
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    writer.write(f"GET {path} HTTP/1.1\r\nHost: relay\r\n{head}Connection: close\r\n\r\n"
                 .encode())
    await writer.drain()
    return reader, writer


async def _answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter
                  ) -> tuple[int, Any]:
    data = await reader.read()  # Connection: close: the answer ends with the connection
    writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    if b"transfer-encoding: chunked" in head.lower():
        chunks, rest = [], body
        while rest:
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line, 16)
            if size == 0:
                break
            chunks.append(rest[:size])
            rest = rest[size + 2:]
        body = b"".join(chunks)
    return status, json.loads(body)


async def _load(relay: RelayProcess, seeded: Seeded, cursor: str) -> dict[str, Any]:
    base = seeded.g.base
    waits = [await _request(f"127.0.1.{1 + i // PER_ADDRESS}", relay.port,
                            f"{base}/events?after={cursor}&timeout=30", seeded.headers)
             for i in range(WAITERS)]
    answers = [asyncio.ensure_future(_answer(r, w)) for r, w in waits]
    reads = []
    for i in range(50):  # ordinary reads while everyone waits, from another address
        reads.append(await _answer(*await _request(f"127.0.2.{1 + i // 40}", relay.port,
                                                   f"{base}/posts?newest=20",
                                                   seeded.headers)))
    early = sum(answer.done() for answer in answers)
    pid, response = await asyncio.to_thread(seeded.post, relay)
    done = await asyncio.gather(*answers)
    return {"reads": reads, "early": early, "post": (pid, response.status_code),
            "waiters": done}


def test_two_thousand_waiting_members_and_reads_still_answered(tmp_path: Path) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < WAITERS + 500:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, WAITERS * 2), hard))
    # Default settings (two workers, 10,000 connections each, rate limits on).
    relay = RelayProcess(tmp_path / "data", workers=2, env={
        "VAULT_RATE_LIMIT": "50", "VAULT_RATE_LIMIT_EXPENSIVE": "2",
        "VAULT_EVENTS_POLL_MS": "2000"})
    seeded = Seeded(f"sqlite:///{tmp_path / 'data' / 'relay.db'}")
    try:
        cursor = seeded.cursor(relay)
        outcome = asyncio.run(_load(relay, seeded, cursor))
        assert all(status == 200 for status, _ in outcome["reads"])
        assert outcome["early"] == 0  # nobody was turned away or answered before the post
        pid, status = outcome["post"]
        assert status == 201
        statuses = [status for status, _ in outcome["waiters"]]
        assert statuses == [200] * WAITERS
        assert all(_posted(body) == [pid] for _, body in outcome["waiters"])
    finally:
        seeded.close()
        relay.stop()
