"""Against a real relay process (gunicorn, threaded workers) on 127.0.0.1: slow clients and
oversize bodies sent the ways a test client cannot (trickled, chunked, never finished).

The relay runs with 4 threads, so a handful of slow clients would be enough to starve it if
their bodies could hold a thread indefinitely (vault/api/slowclients.py bounds them: here a
body gets 2 s plus 1 s per 4 KiB).
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.fuzz.conftest import ABUSE_CASES
from tests.relayproc import RelayProcess
from vault.api.blueprints.groups import ENTRY_BODY_LIMIT

pytestmark = pytest.mark.slow  # a real relay process; bodies that take seconds
THREADS = 4
BODY_TIMEOUT_S = 2.0


@pytest.fixture(scope="module")
def relay(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RelayProcess]:
    process = RelayProcess(tmp_path_factory.mktemp("slow") / "data", threads=THREADS,
                           env={"VAULT_BODY_TIMEOUT_S": str(BODY_TIMEOUT_S),
                                "VAULT_BODY_MIN_RATE": "4096"})
    yield process
    process.stop()


def _open(relay: RelayProcess, head: bytes) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", relay.port), timeout=30)
    sock.sendall(head)
    return sock


def _head(length: int, path: str = "/v1/groups") -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: relay\r\nContent-Type: application/json\r\n"
            f"Content-Length: {length}\r\n\r\n").encode()


def _answer(sock: socket.socket, timeout: float) -> tuple[int, dict[str, object]]:
    """Status and JSON body of the answer on *sock* (read until the body is complete)."""
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = next(int(line.split(":", 1)[1]) for line in lines
                  if line.lower().startswith("content-length:"))
    while len(body) < length:
        chunk = sock.recv(4096)
        if not chunk:
            break
        body += chunk
    return status, json.loads(body)


def _timed_health(relay: RelayProcess) -> float:
    started = time.monotonic()
    response = httpx.get(f"{relay.url}/v1/health", timeout=15)
    assert response.status_code == 200
    return time.monotonic() - started


@pytest.mark.parametrize("style", ["trickle", "stall"])
def test_slow_bodies_do_not_hang_other_clients(relay: RelayProcess, style: str) -> None:
    """Twice as many slow clients as the relay has threads send their headers, then trickle
    the body a byte at a time (or send nothing more, as a phone that lost its signal). Other
    clients are still answered, and every slow client is cut off with a JSON error."""
    slow = [_open(relay, _head(1000)) for _ in range(2 * THREADS)]
    stop = threading.Event()

    def trickle() -> None:
        while not stop.is_set():
            for sock in slow:
                with contextlib.suppress(OSError):
                    sock.sendall(b" ")
            stop.wait(0.25)

    feeder = threading.Thread(target=trickle, daemon=True)
    if style == "trickle":
        feeder.start()
    try:
        started = time.monotonic()
        waits = [_timed_health(relay) for _ in range(4)]
        # Answered at once, or as soon as the first slow bodies hit their deadline.
        assert max(waits) < BODY_TIMEOUT_S + 4, waits
        for sock in slow:
            status, body = _answer(sock, timeout=BODY_TIMEOUT_S + 10)
            ABUSE_CASES.append(f"slow body ({style})")
            assert status == 400 and body["error"]["code"] == "invalid_request", (status, body)
        assert time.monotonic() - started < BODY_TIMEOUT_S + 12
        assert _timed_health(relay) < 1.0
    finally:
        stop.set()
        for sock in slow:
            sock.close()
        if feeder.is_alive():
            feeder.join(timeout=2)


def test_a_slow_but_steady_upload_is_not_cut_off(relay: RelayProcess) -> None:
    """The allowance grows with the body: 24 KiB at ~10 KiB/s takes longer than the base
    2 s, yet arrives whole (2 s + 1 s per 4 KiB declared); the answer is the relay's
    verdict on the content (spaces are not JSON)."""
    body = b" " * (24 * 1024)
    sock = _open(relay, _head(len(body)))
    try:
        for start in range(0, len(body), 2048):
            sock.sendall(body[start:start + 2048])
            time.sleep(0.2)
        status, answer = _answer(sock, timeout=10)
        ABUSE_CASES.append("steady slow upload")
        assert status == 400 and answer["error"]["code"] == "invalid_json", (status, answer)
    finally:
        sock.close()


def test_oversize_bodies_are_refused_over_the_network(relay: RelayProcess) -> None:
    """One byte over the limit, declared (refused before it is read) or chunked (refused
    while reading), and a body larger than any limit: 413 payload_too_large, as JSON."""
    limit = ENTRY_BODY_LIMIT
    declared = httpx.post(f"{relay.url}/v1/groups", content=b" " * (limit + 1),
                          headers={"Content-Type": "application/json"}, timeout=15)

    def chunks() -> Iterator[bytes]:
        sent = 0
        while sent <= limit:
            yield b" " * 4096
            sent += 4096

    chunked = httpx.post(f"{relay.url}/v1/groups", content=chunks(),
                         headers={"Content-Type": "application/json"}, timeout=15)
    huge = httpx.post(f"{relay.url}/v1/groups", content=b" " * (12 * 1024 * 1024),
                      headers={"Content-Type": "application/json"}, timeout=30)
    for name, response in (("declared", declared), ("chunked", chunked), ("huge", huge)):
        ABUSE_CASES.append(f"oversize over the network ({name})")
        assert response.status_code == 413, (name, response.status_code, response.text[:200])
        assert response.json()["error"]["code"] == "payload_too_large", name
    assert _timed_health(relay) < 1.0


def test_a_client_that_vanishes_mid_body_frees_its_thread(relay: RelayProcess) -> None:
    """Connections closed half-way through their bodies (many, at once) leave the relay
    answering normally."""
    for _ in range(3 * THREADS):
        sock = _open(relay, _head(5000))
        sock.sendall(b" " * 100)
        sock.close()
    ABUSE_CASES.append("vanished mid-body")
    assert _timed_health(relay) < 2.0
