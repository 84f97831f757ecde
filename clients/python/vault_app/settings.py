"""What one launch of the member app is configured with (``vault app`` builds it)."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field


def new_launch_token() -> str:
    """The per-launch secret in the address ``vault app`` prints: whoever presents it gets a
    session, so it is long and random, and made again at every launch."""
    return secrets.token_urlsafe(32)


def new_url_prefix() -> str:
    """The per-launch first segment of every address of the app (see
    :mod:`vault_app.security`): 16 random bytes, url-safe."""
    return secrets.token_urlsafe(16)


@dataclass
class AppSettings:
    """One launch's settings.

    ``port`` is the port the server listens on; the Host check needs it, so the serving code
    sets it once the socket is bound (``--port 0`` picks a free one).
    """

    home: str
    """Where the keystore, the SDK's local store and the app's own small file live."""
    relay_url: str | None = None
    """The relay new groups are created on (joining uses the invite's relay)."""
    port: int = 0
    idle_lock_minutes: float = 15.0
    """The keystore locks (the client is closed and forgotten) after this long without the
    person doing anything. 0 turns it off."""
    launch_token: str = field(default_factory=new_launch_token, repr=False)
    browser_ticket: str = field(default_factory=new_launch_token, repr=False)
    """A second secret, for the address handed to the browser: opening a browser puts the
    address on a command line (``xdg-open URL``) that other local programs can read, so
    that one works once, within a few minutes. The printed address keeps working for the
    whole launch (to open Vault again after closing the window)."""
    url_prefix: str = field(default_factory=new_url_prefix, repr=False)
    """The app is served under ``/<url_prefix>/`` only (serve.py), and its session cookie is
    scoped to that path: browsers send a cookie to every port of 127.0.0.1, but not to a path
    the other server does not know (:mod:`vault_app.security`)."""
    retry_for: float = 8.0
    """How long the SDK keeps retrying an unreachable relay before a page says so: short,
    because a person is waiting in front of the page."""

    def __post_init__(self) -> None:
        self.home = os.path.abspath(self.home)

    @property
    def allowed_hosts(self) -> tuple[str, str]:
        """The only Host headers the app answers: a page on any other name (a DNS rebinding
        attack points evil.example at 127.0.0.1) is refused."""
        return (f"127.0.0.1:{self.port}", f"localhost:{self.port}")

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """Where the served app lives: the origin and the per-launch path prefix."""
        return f"{self.origin}/{self.url_prefix}"

    @property
    def browser_url(self) -> str:
        return f"{self.base_url}/open?key={self.browser_ticket}"

    @property
    def open_url(self) -> str:
        """The address to open: it carries the launch token once, then the app moves it
        into a cookie and out of the address bar."""
        return f"{self.base_url}/open?key={self.launch_token}"
