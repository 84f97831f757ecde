"""Serving one launch of the member app: waitress (pure Python, the same on Windows, macOS
and Linux) on 127.0.0.1, a free port by default, and the one line that tells the person
(or a test harness) where to open it.

The app is mounted under the launch's secret path prefix (:class:`~vault_app.security.
PrefixMount`). The browser is opened on a private file, not on the app's address: the
address would carry a secret (the one-use browser ticket) on the command line of
``xdg-open`` and of the browser, which any local user can read (``/proc/*/cmdline``) and
redeem first. The file (mode 0600, in a new 0700 folder) sends the browser on to that
address, and is deleted as soon as the ticket is used, or when its time is up."""

from __future__ import annotations

import html
import logging
import os
import shutil
import signal
import sys
import tempfile
import threading
import webbrowser
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final, TextIO

from vault_app import create_app
from vault_app.device import Device
from vault_app.files import UPLOAD_LIMIT
from vault_app.security import BROWSER_TICKET_SECONDS, BrowserTicket, PrefixMount
from vault_app.settings import AppSettings

HOST: Final = "127.0.0.1"
THREADS: Final = 16
"""Each open live stream holds a thread (views/live.py allows 8); the rest serve pages."""
MAX_RESPONSE_IN_MEMORY: Final = 32 * 1024 * 1024
"""Beyond the largest attachment (10 MB): a decrypted one is never written to disk."""

log = logging.getLogger(__name__)


def open_line(settings: AppSettings) -> str:
    """The one line ``vault app`` prints; tests parse it (tests/app/appproc.py)."""
    return f"Vault is open at {settings.open_url}"


class BrowserFile:
    """The private page that sends the browser to the ticket's address (see the module's
    notes): written at once, removed by :meth:`remove` (idempotent)."""

    def __init__(self, settings: AppSettings) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="vault-app-"))  # mode 0700
        self.path = self.folder / "open.html"
        target = html.escape(settings.browser_url, quote=True)
        page = ('<!doctype html>\n<html><head><meta charset="utf-8">\n'
                '<meta name="referrer" content="no-referrer">\n'
                f'<meta http-equiv="refresh" content="0;url={target}">\n'
                '<title>Vault</title></head>\n'
                f'<body><p><a href="{target}">Open Vault</a></p></body></html>\n')
        descriptor = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as out:
            out.write(page)
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None

    @property
    def url(self) -> str:
        """The ``file://`` address to open: no secret in it."""
        return self.path.as_uri()

    def remove_after(self, seconds: float) -> None:
        timer = threading.Timer(seconds, self.remove)
        timer.daemon = True
        self._timer = timer
        timer.start()

    def remove(self) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
            shutil.rmtree(self.folder, ignore_errors=True)


def open_browser_on(settings: AppSettings, ticket: BrowserTicket,
                    opener: Callable[[str], object] | None = None) -> BrowserFile:
    """Write the browser's file and open the browser on it (in a thread: some platforms'
    browser launchers block until the browser exits). The file goes once *ticket* is used,
    or after the ticket's life."""
    page = BrowserFile(settings)
    ticket.on_spent(page.remove)
    page.remove_after(BROWSER_TICKET_SECONDS)
    threading.Thread(target=opener or webbrowser.open, args=(page.url,), daemon=True).start()
    return page


def serve(settings: AppSettings, *, open_browser: bool = True, out: TextIO | None = None,
          threads: int = THREADS) -> None:
    """Serve until interrupted (Ctrl-C or SIGTERM), then lock the keystore."""
    from waitress.server import create_server

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="vault app: %(levelname)s %(name)s: %(message)s")
    app = create_app(settings)
    server: Any = create_server(
        # Only under the launch's secret path (security.py says why).
        PrefixMount(app, settings.url_prefix),
        host=HOST, port=settings.port, threads=threads,
        ident="",  # no "Server: Vault" header: a rebinding page must not learn the name
        # No proxy sits in front: a request saying otherwise is not believed.
        trusted_proxy=None, clear_untrusted_proxy_headers=True,
        # A live stream writes every 10 s; a connection silent for longer is gone.
        channel_timeout=60,
        # Bodies stay in memory, never in a temporary file: a member's attachments going
        # out, decrypted ones coming back. And no body larger than the app ever takes is
        # read at all (a web page could otherwise send gigabytes to be refused after).
        max_request_body_size=UPLOAD_LIMIT, inbuf_overflow=UPLOAD_LIMIT + 1,
        outbuf_overflow=MAX_RESPONSE_IN_MEMORY)
    settings.port = int(server.effective_port)  # the Host check and cookie name need it
    stream = out or sys.stdout
    stream.write(open_line(settings) + "\n")
    stream.flush()
    browser_file = None
    if open_browser:
        browser_file = open_browser_on(settings, app.extensions["vault_browser_ticket"])

    device: Device = app.extensions["vault_device"]

    def stop(signum: int, frame: object) -> None:
        # The open pages' streams end first: the server then waits for its threads (up
        # to 5 s), and a stream would hold its thread until the keystore locks, after.
        device.end_streams()
        raise KeyboardInterrupt

    previous = {signum: signal.signal(signum, stop) for signum in (signal.SIGTERM, signal.SIGINT)}
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        device.shutdown()  # lock: the keys leave this process's objects
        if browser_file is not None:
            browser_file.remove()
        server.close()
