"""The client for ``asyncio`` programs: the same device, keys, store and checks as
:class:`~vault_client.Client`, awaited.

    async with AsyncClient(passphrase, home="./bot") as client:
        report = await client.wait(group)          # an async long-poll: no thread waits
        await client.post(group, "Good morning.")

Waiting for news (:meth:`AsyncClient.wait`) is an ``httpx.AsyncClient`` long-poll on the
relay's ``/events``, so any number of groups can be awaited at once without a thread
each. Everything else — verifying the log, opening posts, sealing, the local store — is
the synchronous client's work, run in a worker thread (``asyncio.to_thread``) behind its
lock; its answers and errors are exactly those of :class:`Client`. Every public method of
:class:`Client` is available here as a coroutine function of the same name, parameters and
types, so a type checker checks ``await client.post(group, "text")`` as it checks
``client.post(group, "text")``. (A ``transport`` given for the synchronous requests does
not carry the long-polls: give ``async_transport`` for those.)
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable

import httpx

from vault.crypto.encoding import b64encode
from vault.crypto.primitives import default_clock
from vault_client._internal import waiting
from vault_client._internal.async_methods import AsyncMethods
from vault_client._internal.keys import PassphraseSource
from vault_client._internal.refs import GroupRef
from vault_client._internal.transport import EventsPage, events_page
from vault_client.client import Client
from vault_client.errors import AuthError, GroupDeletedError, NotAMemberError, RelayUnreachableError
from vault_client.types import RetryNotice, SyncReport

__all__ = ["AsyncClient"]

_USER_AGENT = "vault-client/0.1 (async)"


class AsyncClient(AsyncMethods):
    """A :class:`Client` for ``asyncio``: the same arguments, and *async_transport* for
    the long-polls (see the module documentation). Use ``async with``, or
    ``await client.close()``. Every other public method of :class:`Client` is here as a
    coroutine with the same parameters and types (:mod:`vault_client._internal.async_methods`,
    generated from Client's signatures by ``clients/python/tools/gen_async.py``)."""

    def __init__(
        self,
        passphrase: PassphraseSource,
        *,
        home: str | os.PathLike[str] | None = None,
        relay_url: str | None = None,
        timeout: float = 30.0,
        retry_for: float = 20.0,
        clock: Callable[[], int] = default_clock,
        transport: httpx.BaseTransport | None = None,
        on_retry: Callable[[RetryNotice], None] | None = None,
        async_transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.sync_client = Client(passphrase, home=home, relay_url=relay_url, timeout=timeout,
                                  retry_for=retry_for, clock=clock, transport=transport,
                                  on_retry=on_retry)
        """The synchronous client underneath (for code that is not async)."""
        self._http = httpx.AsyncClient(headers={"User-Agent": _USER_AGENT},
                                       follow_redirects=False, transport=async_transport)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """As :meth:`Client.close`, and close the long-polls' connections."""
        await self._http.aclose()
        await asyncio.to_thread(self.sync_client.close)

    async def wait(self, group: GroupRef, timeout: float = 25.0) -> SyncReport:
        """As :meth:`Client.wait`, with the long-poll awaited rather than held in a thread."""
        # The two halves of the synchronous wait (vault_client._internal.waiting), each in
        # a worker thread under the client's lock; the long-poll between them is awaited.
        device, lock = self.sync_client._device, self.sync_client._lock
        deadline = waiting.Deadline.after(timeout)
        while True:
            target = await asyncio.to_thread(waiting.target, device, lock, group)
            seconds = deadline.seconds_left()
            try:
                page = await self._events(target, seconds)
            except NotAMemberError:
                return await asyncio.to_thread(waiting.refused, device, lock, group)
            except GroupDeletedError:
                return await asyncio.to_thread(waiting.deleted, device, lock, group)
            last = seconds == 0 or deadline.passed()
            report = await asyncio.to_thread(waiting.after, device, lock, group, page, last)
            if report is not None:
                return report

    async def _events(self, target: waiting.WaitTarget, timeout: int) -> EventsPage:
        """One ``GET /events`` long-poll, checked as the synchronous transport checks it."""
        transport = target.transport
        base = transport.relay_url
        path = f"{base}/v1/groups/{b64encode(target.auth.group_id)}/events"
        for fresh in (False, True):
            token = await asyncio.to_thread(transport.session_for, target.auth, fresh=fresh)
            try:
                response = await self._http.get(
                    path, params={"after": target.cursor, "timeout": timeout},
                    headers={"Authorization": f"Bearer {token}"}, timeout=timeout + 30.0)
            except httpx.TransportError:
                raise RelayUnreachableError(
                    f"the relay at {base} cannot be reached (no connection, or it does not "
                    "answer); check the connection and try again later") from None
            if response.status_code == 200:
                try:
                    return events_page(response.json())
                except ValueError:
                    raise transport.error_of(response) from None
            error = transport.error_of(response)
            if not (isinstance(error, AuthError) and not fresh):
                raise error
        raise AssertionError("unreachable")  # pragma: no cover

