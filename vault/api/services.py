"""What a relay app carries besides Flask's own: its settings and its per-process services,
in one frozen object behind one accessor.

:func:`vault.api.create_app` builds it; a handler reads ``services().settings.session_ttl_s``
or ``services().wakeup``, never a string key of ``app.config`` or ``app.extensions``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from flask import Flask, current_app

if TYPE_CHECKING:  # (the services' modules read them through services(): no import cycle)
    from vault.api.passes import Passes
    from vault.api.ratelimit import TokenBuckets
    from vault.api.settings import RelaySettings
    from vault.api.state import StateCache
    from vault.api.wakeup import Wakeup

EXTENSION = "vault_relay"


@dataclass(frozen=True)
class RelayServices:
    settings: RelaySettings
    database_url: str
    """The SQLAlchemy URL in use (resolved from the settings)."""
    clock: Callable[[], int]
    """Milliseconds since the epoch (tests pass a fake one as ``VAULT_CLOCK``)."""
    state_cache: StateCache
    """Verified group states of this process (vault/api/state.py)."""
    wakeup: Wakeup
    """This process's waiting room for events, and what feeds it (vault/api/wakeup.py)."""
    rate: TokenBuckets
    """This process's rate-limit buckets."""
    passes: Passes
    """Waiting members' passes of this process (vault/api/passes.py)."""

    def install(self, app: Flask) -> None:
        app.extensions[EXTENSION] = self


def services_of(app: Flask) -> RelayServices:
    return cast(RelayServices, app.extensions[EXTENSION])


def services() -> RelayServices:
    """The services of the app handling the current request (or app context)."""
    return services_of(current_app)
