"""The waiting members of ``benchmarks/waiting.py``: thousands of long-polls and event streams
from one process (asyncio, raw sockets, one connection per waiter), and what the relay's
workers hold of them (from /proc).

A plan is one (group id b64, session token, cursor, stream?) per waiter. Long-polls ask
``GET /events?after=<cursor>&timeout=25`` (the SDK's timeout; each waiter's first with a
random 1-25 s, so that re-issues spread out as when members arrive over time) and re-issue
at once on the same connection; streams (``GET /events/stream``) reconnect with
``Last-Event-ID`` when the relay ends them. :func:`run_waiters` serves ``"status"`` requests
on a pipe until ``"stop"``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import resource
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest import tree

POLL_TIMEOUT = 25  # the SDK's Client.wait default


async def _response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    status = int(head[0].split(" ", 2)[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in head[1:]
                                                            if h)}
    if "content-length" in headers:
        return status, headers, await reader.readexactly(int(headers["content-length"]))
    chunks = []
    while (size := int((await reader.readuntil(b"\r\n")).strip(), 16)):
        chunks.append((await reader.readexactly(size + 2))[:-2])
    await reader.readuntil(b"\r\n")
    return status, headers, b"".join(chunks)


class Waiters:
    def __init__(self, port: int, plan: list[tuple[str, str, str, bool]], rate: float) -> None:
        self.port, self.plan, self.rate = port, plan, rate
        self.outstanding = [False] * len(plan)  # long-poll sent, not answered
        self.open = [False] * len(plan)  # stream said "stream open" and is still open
        self.counts = {"poll_sent": 0, "poll_timeouts": 0, "poll_events": 0, "stream_opens": 0,
                       "stream_frames": 0, "errors": 0, "connects": 0}
        self.stopping = False

    def status(self) -> dict[str, Any]:
        return {"held": sum(self.outstanding) + sum(self.open),
                "long_polls": sum(self.outstanding), "streams": sum(self.open), **self.counts}

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        self.counts["connects"] += 1
        return await asyncio.open_connection("127.0.0.1", self.port)

    async def long_poll(self, i: int, gid: str, token: str, cursor: str) -> None:
        timeout = random.randint(1, POLL_TIMEOUT)  # members arrive over time: staggered
        while not self.stopping:
            try:
                reader, writer = await self._connect()
                while not self.stopping:
                    writer.write(f"GET /v1/groups/{gid}/events?after={cursor}&timeout="
                                 f"{timeout} HTTP/1.1\r\nHost: relay\r\nAuthorization: "
                                 f"Bearer {token}\r\n\r\n".encode())
                    timeout = POLL_TIMEOUT
                    self.outstanding[i] = True
                    self.counts["poll_sent"] += 1
                    status, headers, body = await _response(reader)
                    self.outstanding[i] = False
                    if status != 200:
                        self.counts["errors"] += 1
                        await asyncio.sleep(1)
                        continue
                    answer = json.loads(body)
                    cursor = answer["cursor"]
                    self.counts["poll_events" if answer["events"] else "poll_timeouts"] += 1
                    if headers.get("connection", "").lower() == "close":
                        break
                writer.close()
            except (OSError, asyncio.IncompleteReadError, ValueError):
                self.outstanding[i] = False
                self.counts["errors"] += 1
                await asyncio.sleep(1)

    async def stream(self, i: int, gid: str, token: str, cursor: str) -> None:
        while not self.stopping:
            try:
                reader, writer = await self._connect()
                writer.write(f"GET /v1/groups/{gid}/events/stream HTTP/1.1\r\nHost: relay\r\n"
                             f"Authorization: Bearer {token}\r\nAccept: text/event-stream\r\n"
                             f"Last-Event-ID: {cursor}\r\n\r\n".encode())
                head = (await reader.readuntil(b"\r\n\r\n")).lower()
                chunked = b"transfer-encoding: chunked" in head
                buffer = b""
                while True:
                    if chunked:
                        size = int((await reader.readuntil(b"\r\n")).strip(), 16)
                        piece = (await reader.readexactly(size + 2))[:-2] if size else b""
                    else:
                        piece = await reader.read(65536)
                    if not piece:
                        break
                    buffer += piece
                    *frames, buffer = buffer.split(b"\n\n")
                    for frame in frames:
                        if frame == b": stream open":
                            self.open[i] = True
                            self.counts["stream_opens"] += 1
                        elif frame.startswith(b"id: "):
                            cursor = frame.split(b"\n", 1)[0][4:].decode()
                            self.counts["stream_frames"] += 1
                self.open[i] = False
                writer.close()
            except (OSError, asyncio.IncompleteReadError, ValueError):
                self.open[i] = False
                self.counts["errors"] += 1
                await asyncio.sleep(1)

    async def run(self, pipe: Any) -> None:
        tasks = []
        for i, (gid, token, cursor, sse) in enumerate(self.plan):
            job = self.stream if sse else self.long_poll
            tasks.append(asyncio.ensure_future(job(i, gid, token, cursor)))
            await asyncio.sleep(1 / self.rate)
        while True:
            command = await asyncio.to_thread(pipe.recv)
            if command == "stop":
                break
            pipe.send(self.status())
        self.stopping = True
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        pipe.send(self.status())


def run_waiters(port: int, plan: list[tuple[str, str, str, bool]], rate: float,
                  pipe: Any) -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    asyncio.run(Waiters(port, plan, rate).run(pipe))


def accepted(root: int, port: int) -> dict[int, int]:
    """Established TCP connections on *port* held by each worker of the relay (from /proc)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if fields[3] == "01" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(fields[9])
    out = {}
    for pid in tree(root)[1:]:
        count = 0
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    link = os.readlink(f"/proc/{pid}/fd/{fd}")
                    count += link.startswith("socket:[") and link[8:-1] in inodes
        out[pid] = count
    return out
