"""Slow or vanished clients must not hold the relay's threads: a deadline on request bodies.

gunicorn's threaded workers read a request body in a worker thread with blocking socket reads
and no time limit. A client that sends its headers and then trickles the body, stalls, or
drops off the network mid-upload (a phone losing its signal leaves no FIN behind) holds that
thread for as long as the connection lives; as many such clients as threads and the relay
answers no one. Like Apache's ``mod_reqtimeout``, each request body gets
``VAULT_BODY_TIMEOUT_S`` seconds plus one second per ``VAULT_BODY_MIN_RATE`` bytes it
declares; a body still incomplete at its deadline has the reading side of its connection shut
down, so the blocked read ends at once, the request is refused (``400 invalid_request``) and
the thread is free again. A body read in time is never touched.

Only bodies: a client that trickles its *headers* is in gunicorn's hands before the
application runs. Where that matters, put the relay behind a reverse proxy that buffers
requests and bounds header and body times (nginx: ``client_header_timeout``,
``client_body_timeout``).

This needs the ``gunicorn.socket`` the server puts in the WSGI environment; under any other
server (or the test client) it does nothing.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

_StartResponse = Callable[..., Any]
_App = Callable[[dict[str, Any], _StartResponse], Iterable[bytes]]


class _Watch:
    __slots__ = ("active", "deadline", "sock")

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self.sock = sock
        self.deadline = deadline
        self.active = True


class Watchdog:
    """One thread per process: shuts the reading side of overdue connections."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, _Watch]] = []
        self._cond = threading.Condition()
        self._ids = itertools.count()
        self._thread: threading.Thread | None = None

    def watch(self, sock: socket.socket, deadline: float) -> _Watch:
        watch = _Watch(sock, deadline)
        with self._cond:
            heapq.heappush(self._heap, (deadline, next(self._ids), watch))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="vault-body-deadline",
                                                daemon=True)
                self._thread.start()
            self._cond.notify()
        return watch

    @staticmethod
    def cancel(watch: _Watch) -> None:
        watch.active = False

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._heap and not self._heap[0][2].active:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._cond.wait()
                    continue
                delay = self._heap[0][0] - time.monotonic()
                if delay > 0:
                    self._cond.wait(delay)
                    continue
                _deadline, _id, watch = heapq.heappop(self._heap)
            if watch.active:
                watch.active = False
                with contextlib.suppress(OSError):  # already closed
                    watch.sock.shutdown(socket.SHUT_RD)


class _Body:
    """The request body stream; tells the watchdog when the whole body has arrived."""

    def __init__(self, stream: Any, expected: int | None, done: Callable[[], None]) -> None:
        self._stream = stream
        self._left = expected
        self._done = done

    def _count(self, data: bytes) -> bytes:
        if not data:
            self._done()  # end of the body (or of the connection)
        elif self._left is not None:
            self._left -= len(data)
            if self._left <= 0:
                self._done()
        return data

    def read(self, size: int | None = -1) -> bytes:
        return self._count(self._stream.read(size))

    def readline(self, size: int | None = -1) -> bytes:
        return self._count(self._stream.readline(size))

    def readlines(self, hint: int | None = -1) -> list[bytes]:
        lines: list[bytes] = self._stream.readlines(hint)
        self._count(b"".join(lines))
        return lines

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        line = self.readline()
        if not line:
            raise StopIteration
        return line


class _Result:
    """The application's response; the watch ends with the request at the latest."""

    def __init__(self, result: Iterable[bytes], done: Callable[[], None]) -> None:
        self._result = result
        self._done = done

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._result)

    def close(self) -> None:
        try:
            close = getattr(self._result, "close", None)
            if close is not None:
                close()
        finally:
            self._done()


class BodyDeadline:
    """WSGI middleware: a request body must arrive within ``timeout_s`` seconds plus one
    second per ``min_rate`` bytes (of its Content-Length, or of ``max_body`` if chunked)."""

    def __init__(self, app: _App, *, timeout_s: float, min_rate: float, max_body: int,
                 watchdog: Watchdog | None = None) -> None:
        self.app = app
        self.timeout_s = timeout_s
        self.min_rate = min_rate
        self.max_body = max_body
        self.watchdog = watchdog or Watchdog()

    def __call__(self, environ: dict[str, Any], start_response: _StartResponse
                 ) -> Iterable[bytes]:
        sock = environ.get("gunicorn.socket")
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if sock is None or self.timeout_s <= 0 or (length <= 0 and not chunked):
            return self.app(environ, start_response)
        declared = min(length, self.max_body) if length > 0 else self.max_body
        budget = self.timeout_s + (declared / self.min_rate if self.min_rate > 0 else 0.0)
        watch = self.watchdog.watch(sock, time.monotonic() + budget)

        def done() -> None:
            self.watchdog.cancel(watch)

        environ["wsgi.input"] = _Body(environ["wsgi.input"], None if chunked else length, done)
        try:
            result = self.app(environ, start_response)
        except BaseException:
            done()
            raise
        return _Result(result, done)
