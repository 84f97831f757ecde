"""Live updates: ``GET /groups/<id>/live`` is a Server-Sent Events stream.

One background thread per watched group (:class:`GroupWatch`), shared by every open stream
of that group, loops on ``client.wait(group)`` (the SDK's long-poll of the relay, which
syncs what came; it lets go of the client's lock while it waits) and hands what it learns to
every stream through their queues. Shared, because a wait's sync is seen once: with one
thread per stream, a page reloaded while its old stream's wait was still out lost the post
that wait brought (the old thread told a queue nobody read). A stream also starts with an
``update`` when the feed changed since its page was drawn (``?v=``, :func:`feed_version`).
The page (static/app.js) reloads its feed fragment on ``update``, shows ``problem`` in a
status line, and reloads itself on ``locked`` (which leads to the unlock page). The stream
also sends a comment every few seconds: writing is how the server learns the browser went
away; the group's thread stops after its current wait once no stream is left.

A stream's slot (:data:`MAX_STREAMS`) is taken only when the body actually starts being
sent, and given back in the body's ``finally``: a response that is never sent (``HEAD``, a
client gone before the first byte) holds nothing. ``HEAD`` is refused outright.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections.abc import Iterator
from typing import Final

from flask import Blueprint, Flask, Response, current_app, request
from vault_client import GroupDeleted, NewPost, SyncReport

from vault_app import i18n, messages
from vault_app.device import Device, Locked
from vault_app.views.common import current_device
from vault_app.views.groups import feed_version, find_group

log = logging.getLogger(__name__)
blueprint = Blueprint("live", __name__)

WAIT_SECONDS: Final = 20.0
HEARTBEAT_SECONDS: Final = 10.0
PAUSE_AFTER_PROBLEM: Final = 10.0
MAX_STREAMS: Final = 8
"""Streams open at once (each holds a server thread); more (many tabs) are asked to come
back later."""

_open_streams = threading.BoundedSemaphore(MAX_STREAMS)


def event(kind: str, data: object = "") -> str:
    return f"event: {kind}\ndata: {json.dumps(data)}\n\n"


def _stream_response(body: Iterator[str]) -> Response:
    response = Response(body, mimetype="text/event-stream")
    response.headers["X-Accel-Buffering"] = "no"
    return response


def _problem(app: Flask, language: str, error: Exception) -> dict[str, str]:
    """What the page's status line says about *error*, in the page's *language*."""
    with i18n.speaking(app, language):
        message = messages.for_error(error)
        if message is messages.UNEXPECTED:
            log.exception("waiting for news failed", exc_info=error)
        return {"text": str(message.text), "advice": str(message.advice)}


class GroupWatch:
    """The one background wait for a group's news, shared by its open streams."""

    def __init__(self, dev: Device, group_id: str, generation: int, app: Flask) -> None:
        self.dev, self.group_id, self.generation, self.app = dev, group_id, generation, app
        self._lock = threading.Lock()
        self._streams: dict[queue.Queue[tuple[str, object]], str] = {}  # queue -> language
        self._running = False
        self._rest = threading.Event()  # set to cut a pause after a problem short

    def join(self, out: queue.Queue[tuple[str, object]], language: str) -> None:
        with self._lock:
            self._streams[out] = language
            if not self._running:
                self._running = True
                threading.Thread(target=self._run, name="vault-live", daemon=True).start()

    def leave(self, out: queue.Queue[tuple[str, object]]) -> None:
        with self._lock:
            self._streams.pop(out, None)
            if not self._streams:
                self._rest.set()

    def _tell(self, kind: str, data: object = "") -> None:
        with self._lock:
            streams = list(self._streams)
        for out in streams:
            out.put((kind, data))

    def _tell_problem(self, error: Exception) -> None:
        with self._lock:
            streams = list(self._streams.items())
        for out, language in streams:
            out.put(("problem", _problem(self.app, language, error)))

    def _still_wanted(self) -> bool:
        with self._lock:
            if not self._streams:
                self._running = False
                return False
            return True

    def _run(self) -> None:
        while self._still_wanted():
            if self.dev.generation != self.generation:
                self._tell("locked")
                return
            try:
                report = self.dev.client().wait(self.group_id, timeout=WAIT_SECONDS)
            except Locked:
                self._tell("locked")
                return
            except Exception as error:
                if self.dev.generation != self.generation:  # closed under us by a lock
                    self._tell("locked")
                    return
                self._tell_problem(error)
                self._rest.clear()
                self._rest.wait(PAUSE_AFTER_PROBLEM)
                continue
            if any(isinstance(e, GroupDeleted) for e in report.events):
                self._tell("gone")  # the page reloads, and finds the group's note instead
                return
            if report.events or report.warnings or report.new_posts:
                self._tell("update", {"new": new_from_others(report)})


def new_from_others(report: SyncReport) -> int:
    """How many posts and replies a sync brought that others wrote and this device does not
    mute: what a notification announces (their number only; never who, never what)."""
    return sum(1 for e in report.events if isinstance(e, NewPost) and e.post is not None
               and not e.post.is_mine and not e.post.muted)


_watches: dict[tuple[int, int, str], GroupWatch] = {}
_watches_lock = threading.Lock()


def watch_for(dev: Device, group_id: str, generation: int, app: Flask) -> GroupWatch:
    """The group's shared watch (made on first use; one per device, unlock and group)."""
    key = (id(dev), generation, group_id)
    with _watches_lock:
        for stale in [k for k in _watches if k[0] == id(dev) and k[1] != generation]:
            del _watches[stale]  # from before a lock: their threads have ended or will
        found = _watches.get(key)
        if found is None:
            found = _watches[key] = GroupWatch(dev, group_id, generation, app)
        return found


@blueprint.get("/groups/<group_id>/live")
def stream(group_id: str) -> Response:
    if request.method == "HEAD":  # nothing to say without the body: no work, no slot
        return Response(status=405, headers={"Allow": "GET"})
    dev = current_device()
    try:
        client = dev.client()
    except Locked:
        return _stream_response(iter([event("locked")]))
    info = find_group(client, group_id)
    drawn = request.args.get("v")
    # What came between drawing the page and opening this stream (another stream's wait,
    # a sync the page started) is told at once.
    changed_since_drawn = drawn is not None \
        and drawn != feed_version(client.threads(info.group_id))
    generation = dev.generation
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    language = i18n.language()

    def body() -> Iterator[str]:
        # Runs only once the server sends the body (outside the request's context).
        if not _open_streams.acquire(blocking=False):
            yield "retry: 30000\n\n"
            return
        updates: queue.Queue[tuple[str, object]] = queue.Queue()
        watch = watch_for(dev, info.group_id, generation, app)

        def on_lock() -> None:
            updates.put(("locked", ""))

        try:
            dev.add_lock_listener(on_lock)
            watch.join(updates, language)
            yield "retry: 5000\n\n"
            if changed_since_drawn:
                yield event("update")
            while True:
                try:
                    kind, data = updates.get(timeout=HEARTBEAT_SECONDS)
                except queue.Empty:
                    yield ": still here\n\n"
                    continue
                yield event(kind, data)
                if kind == "locked":
                    return
        finally:  # the browser went away (or the page locked)
            watch.leave(updates)
            dev.remove_lock_listener(on_lock)
            _open_streams.release()

    return _stream_response(body())
