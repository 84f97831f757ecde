"""A small event loop for bots and other clients that react to what happens in a group.

    from vault_client import Client, Handlers

    with Client(passphrase, home="./bot") as client:
        handlers = Handlers(client, group_id)

        @handlers.on_post
        def answer(post: PostView) -> None:
            if "hello" in post.text.lower() and not post.is_mine:
                client.reply(group_id, post, "Hello, welcome.")

        handlers.run()            # syncs, then waits for news and calls the handlers

Handlers are called in the order they were registered, once per event, after each sync:
``on_post`` with each new post or reply (a :class:`PostView`), ``on_event`` with every event
(:mod:`vault_client.events`), ``on_warning`` with every warning, ``on_join_request`` (admins)
with each request to join not seen before, ``on_tick`` after each round. A handler that
raises stops the loop with its error (a bot decides what to catch). With an
:class:`~vault_client.aio.AsyncClient`, ``await handlers.run_async()`` does the same, and a
handler may be a coroutine function.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from vault_client import events as ev
from vault_client._internal.refs import GroupRef
from vault_client.client import Client
from vault_client.errors import NotPermittedError
from vault_client.types import JoinRequestInfo, PostView, SyncReport

if TYPE_CHECKING:
    from vault_client.aio import AsyncClient

__all__ = ["Handlers"]

H = TypeVar("H", bound=Callable[..., Any])


class Handlers:
    """What to do when something happens in one group (see the module documentation)."""

    def __init__(self, client: Client | AsyncClient, group: GroupRef, *,
                 wait_timeout: float = 25.0) -> None:
        self.client: Client | AsyncClient = client
        self.group = group
        self.wait_timeout = wait_timeout
        self._handlers: dict[str, list[Callable[..., Any]]] = {
            "post": [], "event": [], "warning": [], "join_request": [], "tick": []}
        self._seen_requests: set[str] = set()
        self.stopped = False

    # --- registering -------------------------------------------------------------------------

    def on_post(self, handler: H) -> H:
        """Call *handler(post)* with each new post or reply."""
        self._handlers["post"].append(handler)
        return handler

    def on_event(self, handler: H) -> H:
        """Call *handler(event)* with every event a sync reports."""
        self._handlers["event"].append(handler)
        return handler

    def on_warning(self, handler: H) -> H:
        """Call *handler(warning)* with every warning a sync reports."""
        self._handlers["warning"].append(handler)
        return handler

    def on_join_request(self, handler: H) -> H:
        """Call *handler(request)* with each request to join not seen before (admins only:
        for other members it is never called)."""
        self._handlers["join_request"].append(handler)
        return handler

    def on_tick(self, handler: H) -> H:
        """Call *handler()* after each round (a sync, or a wait that ended)."""
        self._handlers["tick"].append(handler)
        return handler

    def stop(self) -> None:
        """End :meth:`run` after the current round (from a handler, say)."""
        self.stopped = True

    # --- running -----------------------------------------------------------------------------

    def run(self, *, rounds: int | None = None) -> None:
        """Sync, call the handlers, then wait for news and do it again: for ever, until
        :meth:`stop`, or for *rounds* rounds."""
        client = self.client
        if not isinstance(client, Client):
            raise TypeError("an AsyncClient's handlers run with await run_async()")
        done = 0
        report = client.sync(self.group)[0]
        while True:
            for call, args in self._calls(report, self._requests_sync(client)):
                result = call(*args)
                if inspect.isawaitable(result):
                    raise TypeError("a coroutine handler needs run_async() and an AsyncClient")
            done += 1
            if self.stopped or (rounds is not None and done >= rounds):
                return
            report = client.wait(self.group, self.wait_timeout)

    async def run_async(self, *, rounds: int | None = None) -> None:
        """As :meth:`run`, with an :class:`~vault_client.aio.AsyncClient` (handlers may be
        coroutine functions)."""
        client = self.client
        if isinstance(client, Client):
            raise TypeError("a Client's handlers run with run(); run_async() needs an "
                            "AsyncClient")
        done = 0
        report = (await client.sync(self.group))[0]
        while True:
            for call, args in self._calls(report, await self._requests_async(client)):
                result = call(*args)
                if inspect.isawaitable(result):
                    await result
            done += 1
            if self.stopped or (rounds is not None and done >= rounds):
                return
            report = await client.wait(self.group, self.wait_timeout)

    # --- what to call ------------------------------------------------------------------------

    def _requests_sync(self, client: Client) -> list[JoinRequestInfo]:
        if not self._handlers["join_request"]:
            return []
        try:
            return client.pending_requests(self.group)
        except NotPermittedError:
            return []

    async def _requests_async(self, client: AsyncClient) -> list[JoinRequestInfo]:
        if not self._handlers["join_request"]:
            return []
        try:
            return await client.pending_requests(self.group)
        except NotPermittedError:
            return []

    def _calls(self, report: SyncReport, requests: list[JoinRequestInfo]
               ) -> list[tuple[Callable[..., Any], tuple[Any, ...]]]:
        calls: list[tuple[Callable[..., Any], tuple[Any, ...]]] = []
        for event in report.events:
            calls += [(h, (event,)) for h in self._handlers["event"]]
            if isinstance(event, ev.NewPost) and isinstance(event.post, PostView):
                calls += [(h, (event.post,)) for h in self._handlers["post"]]
        for warning in report.warnings:
            calls += [(h, (warning,)) for h in self._handlers["warning"]]
        for request in requests:
            if request.joiner not in self._seen_requests:
                self._seen_requests.add(request.joiner)
                calls += [(h, (request,)) for h in self._handlers["join_request"]]
        calls += [(h, ()) for h in self._handlers["tick"]]
        return calls
