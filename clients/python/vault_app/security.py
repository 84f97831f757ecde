"""The app is a web server on the member's own machine, and everything else that can reach
127.0.0.1 is treated as hostile: web pages in the same browser (cross-site requests, DNS
rebinding), and other local programs. What keeps them out, in the order a request meets it:

1. **Host** must be exactly ``127.0.0.1:PORT`` or ``localhost:PORT``. A DNS-rebinding page
   (evil.example resolved to 127.0.0.1) sends its own name, and is refused with a 400.
2. **Path prefix**: the served app lives under ``/<prefix>/`` only, a random segment made at
   every launch (:class:`PrefixMount`); any other path is a bare 404. It exists for the
   session cookie: browsers do not separate cookies by port, so a cookie with ``Path=/`` on
   127.0.0.1 is also sent to *any other* server on 127.0.0.1 (another user's program the
   person is lured to, ``http://127.0.0.1:OTHER/``), which could then use the session from
   outside the browser. The cookie's ``Path`` is the prefix, so it only goes to addresses
   under it, which nobody else knows. (SameSite does not help: every port of 127.0.0.1 is
   the same site.)
3. **Session**: ``vault app`` prints an address with a per-launch secret (``/open?key=...``).
   Presenting it sets a cookie (HttpOnly, SameSite=Strict, ``Path=/<prefix>/``) holding a
   *different* random session id, and redirects so the secret leaves the address bar. Every
   other page needs that cookie (the static files excepted: they are public code, no secret).
   The browser is not handed the printed address but a one-use ticket, through a private
   file (serve.py: a command line is readable by other local users; the file is not).
4. **Writes** (every POST) need a same-origin request *and* the session's CSRF token (a
   hidden form field, or the ``X-CSRF-Token`` header that static/app.js adds to htmx
   requests from a ``<meta>`` tag).
5. **Every response** carries a strict Content-Security-Policy (no inline script, nothing
   from elsewhere), ``Referrer-Policy: no-referrer``, ``nosniff`` and ``no-store``.

About the origin check: under ``Referrer-Policy: no-referrer`` a browser sends
``Origin: null`` with a plain form POST (the Fetch standard's "append a request Origin
header"), so ``null`` alone cannot tell our own forms from a sandboxed attacker's. The
browser's ``Sec-Fetch-Site`` header (which no page can set) decides then: only
``same-origin`` passes. A request with neither header (not from a browser) needs a
same-origin ``Referer``. The CSRF token and the SameSite cookie hold even where a browser
sends none of these.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

from flask import Blueprint, Flask, Response, g, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from vault_app.messages import Message
from vault_app.settings import AppSettings

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

COOKIE_PREFIX: Final = "vault_app_"
CSRF_FIELD: Final = "csrf_token"
CSRF_HEADER: Final = "X-CSRF-Token"
BROWSER_TICKET_SECONDS: Final = 300
MAX_SESSIONS: Final = 64
"""Sessions kept at once (each needed the launch secret); the oldest goes first."""

CONTENT_SECURITY_POLICY: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; "
    "object-src 'none'"
)
SECURITY_HEADERS: Final = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",  # frame-ancestors, for browsers that predate it
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}

OPEN_ENDPOINT: Final = "security.open_app"
PUBLIC_ENDPOINTS: Final = frozenset({OPEN_ENDPOINT, "static"})


@dataclass
class BrowserSession:
    """One browser's session: its id is the cookie; its CSRF token goes in every form."""

    session_id: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    csrf_token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    notices: list[Message] = field(default_factory=list)
    """Messages for the next page this browser loads (after a redirect)."""


class Sessions:
    """The sessions of this launch, in memory only: a restart of ``vault app`` ends them
    all (its new launch secret is needed again)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_id: OrderedDict[str, BrowserSession] = OrderedDict()

    def new(self) -> BrowserSession:
        session = BrowserSession()
        with self._lock:
            self._by_id[session.session_id] = session
            while len(self._by_id) > MAX_SESSIONS:
                self._by_id.popitem(last=False)
        return session

    def find(self, session_id: str | None) -> BrowserSession | None:
        if not session_id:
            return None
        with self._lock:
            # compare_digest over every entry: a lookup's timing tells nothing about ids
            found = None
            for known_id, session in self._by_id.items():
                if hmac.compare_digest(known_id.encode(), session_id.encode()):
                    found = session
            return found


class BrowserTicket:
    """The one-use secret of the address handed to the browser (``settings.browser_ticket``):
    good once, within :data:`BROWSER_TICKET_SECONDS`. Checking and spending it is one step
    under a lock, so two requests racing with it cannot both get a session."""

    def __init__(self, secret: str, seconds: float = BROWSER_TICKET_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._secret = secret
        self._clock = clock
        self._until = clock() + seconds
        self._lock = threading.Lock()
        self._unused = True
        self._on_spent: list[Callable[[], None]] = []

    def redeem(self, key: str | None) -> bool:
        """Whether *key* is the ticket, still unused and in time; it is spent if so."""
        with self._lock:
            ok = self._unused and self._clock() < self._until and same_text(key, self._secret)
            if ok:
                self._unused = False
                listeners, self._on_spent = self._on_spent, []
        if ok:
            for listener in listeners:
                listener()
        return ok

    def on_spent(self, listener: Callable[[], None]) -> None:
        """Call *listener* once, when the ticket is used (serve.py deletes its file then)."""
        with self._lock:
            if self._unused:
                self._on_spent.append(listener)
                return
        listener()


_NOT_FOUND_HEADERS: Final = [
    ("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", "9"),
    ("Cache-Control", "no-store"), ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
]


class PrefixMount:
    """WSGI: serve *app* under ``/<prefix>`` only (see the module's notes). A path outside
    it gets a bare 404 whose page names nothing (a stranger probing the port is not told it
    found Vault); inside, the prefix moves from ``PATH_INFO`` to ``SCRIPT_NAME``,
    so Flask routes as before and ``url_for`` (and ``request.script_root``) include it."""

    def __init__(self, app: WSGIApplication, prefix: str) -> None:
        self.app = app
        self.prefix = prefix
        self._secret = prefix.encode("latin-1")

    def __call__(self, environ: WSGIEnvironment,
                 start_response: StartResponse) -> Iterable[bytes]:
        path: str = environ.get("PATH_INFO", "")
        head, slash, rest = path[1:].partition("/") if path.startswith("/") else ("", "", "")
        # compare_digest: how long a refusal takes tells nothing about the prefix
        if not hmac.compare_digest(head.encode("latin-1", "replace"), self._secret):
            start_response("404 Not Found", list(_NOT_FOUND_HEADERS))
            return [b"Not Found"]
        if not slash:  # "/<prefix>": the cookie's path is "/<prefix>/"
            start_response("308 Permanent Redirect", [
                ("Location", environ.get("SCRIPT_NAME", "").rstrip("/") + path + "/"),
                ("Content-Length", "0"), ("Cache-Control", "no-store")])
            return []
        environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "").rstrip("/") + "/" + head
        environ["PATH_INFO"] = slash + rest
        return self.app(environ, start_response)


def cookie_path() -> str:
    """The session cookie's path: the prefix the app is served under (``/`` without one,
    as under Flask's test client)."""
    return request.script_root + "/" if request.script_root else "/"


def cookie_name(settings: AppSettings) -> str:
    """Cookies are shared by every port of a host, so the name carries the port: two
    launches (or another program on 127.0.0.1) never overwrite each other's."""
    return f"{COOKIE_PREFIX}{settings.port}"


def same_text(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def current_session() -> BrowserSession:
    """The session of the request being handled (set by the checks below)."""
    session: BrowserSession = g.browser_session
    return session


def csrf_token() -> str:
    return current_session().csrf_token


def _origin_ok(settings: AppSettings) -> bool:
    """Whether a write comes from one of our own pages (see the module's notes)."""
    own = {f"http://{host}" for host in settings.allowed_hosts}
    origin = request.headers.get("Origin")
    if origin is not None and origin != "null":
        return origin in own
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None:
        return fetch_site == "same-origin"
    if origin == "null":
        return False
    referer = request.headers.get("Referer")
    if referer is None:
        return False
    parts = urlsplit(referer)
    return f"{parts.scheme}://{parts.netloc}" in own


def refuse(status: int, reason: str) -> Response:
    """A plain page saying why, with the status; never a stack trace."""
    page = render_template("refused.html", status=status, reason=reason)
    return Response(page, status=status, mimetype="text/html")


def init_app(app: Flask, settings: AppSettings) -> None:
    """Install the checks (before every request) and the headers (after every response)."""
    sessions = Sessions()
    app.extensions["vault_sessions"] = sessions
    ticket = BrowserTicket(settings.browser_ticket)
    app.extensions["vault_browser_ticket"] = ticket

    def key_ok(key: str | None) -> bool:
        return same_text(key, settings.launch_token) or ticket.redeem(key)

    @app.before_request
    def check_request() -> Response | None:
        if request.host not in settings.allowed_hosts:
            # Bare, not our page: a DNS-rebinding site reads this answer, and must not learn
            # from it that the person uses Vault.
            return Response("Bad Request\n", status=400, mimetype="text/plain")
        if request.endpoint in PUBLIC_ENDPOINTS:
            return None
        session = sessions.find(request.cookies.get(cookie_name(settings)))
        if session is None:
            return refuse(403, "session")
        g.browser_session = session
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            if not _origin_ok(settings):
                return refuse(403, "origin")
            given = request.headers.get(CSRF_HEADER) or request.form.get(CSRF_FIELD)
            if not same_text(given, session.csrf_token):
                return refuse(403, "csrf")
        return None

    @app.after_request
    def add_headers(response: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            response.headers[name] = value
        return response

    @app.context_processor
    def inject_csrf() -> dict[str, Callable[[], str]]:
        return {"csrf_token": lambda: csrf_token() if "browser_session" in g else ""}

    blueprint = Blueprint("security", __name__)

    @blueprint.get("/open")
    def open_app() -> Response | BaseResponse:
        """The printed address: the launch secret becomes a session cookie."""
        if not key_ok(request.args.get("key")):
            return refuse(403, "key")
        session = sessions.new()
        response = redirect(url_for("groups.index"), code=303)
        response.set_cookie(cookie_name(settings), session.session_id, httponly=True,
                            samesite="Strict", path=cookie_path(), secure=False)
        return response

    app.register_blueprint(blueprint)
