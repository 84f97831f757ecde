"""What the blueprints share: the device and settings of this launch, the open client (or
a redirect to unlock), notices shown on the next page, and the error pages."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, g, redirect, render_template, request, url_for
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as BaseResponse

from vault_app import messages
from vault_app.device import Device, Locked
from vault_app.messages import Message
from vault_app.security import current_session
from vault_app.seen import SeenPosts
from vault_app.settings import AppSettings

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])
ViewResult = Response | BaseResponse | str | tuple[str, int]


def current_device() -> Device:
    return cast(Device, current_app.extensions["vault_device"])


def current_settings() -> AppSettings:
    return cast(AppSettings, current_app.extensions["vault_settings"])


def seen_posts() -> SeenPosts:
    return cast(SeenPosts, current_app.extensions["vault_seen"])


def g_keys() -> set[str]:
    return set(g)


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


def go(location: str) -> BaseResponse:
    """Redirect after a write (303, so a reload does not send it again); for htmx, tell it
    to load the whole page."""
    if is_htmx():
        response = Response("", 204)
        response.headers["HX-Redirect"] = location
        return response
    return redirect(location, code=303)


def safe_next(target: str | None) -> str:
    """Where to go after unlocking: a path on this app only (never //elsewhere). Browsers
    drop tabs and newlines from addresses (``/\t/evil`` becomes ``//evil``), so any
    control character or space refuses the target too."""
    if target and target.startswith("/") and not target.startswith("//") \
            and "\\" not in target \
            and not any(ord(char) <= 0x20 or ord(char) == 0x7F for char in target):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc:
            return target
    return url_for("groups.index")


def with_client(view: F) -> F:
    """Give the view the open client as its first argument; a new device goes to the
    welcome page, a locked one to the unlock page (and back here afterwards)."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        dev = current_device()
        if not dev.has_keystore:
            return go(url_for("device.welcome"))
        try:
            client = dev.client()
        except Locked:
            # The address as the browser has it (with the app's path prefix, serve.py)
            back = request.script_root + request.full_path if request.method == "GET" else None
            return go(url_for("device.unlock", next=back) if back else url_for("device.unlock"))
        return view(client, *args, **kwargs)

    return cast(F, wrapper)


def notify(message: Message) -> None:
    """Show *message* on the next page this browser loads."""
    current_session().notices.append(message)


def take_notices() -> list[Message]:
    if "browser_session" not in g:
        return []
    session = current_session()
    notices, session.notices = session.notices, []
    return notices


def problem_for(error: BaseException) -> Message:
    """The message for *error*; an unexpected one is logged (never shown)."""
    message = messages.for_error(error)
    if message is messages.UNEXPECTED:
        log.exception("unexpected error", exc_info=error)
    return message


def install_error_pages(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> tuple[str, int]:
        code = error.code or 500
        return render_template("error.html", code=code), code

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> tuple[str, int]:
        log.exception("unexpected error on %s", request.path)
        return render_template("error.html", code=500,
                               problem=messages.UNEXPECTED), 500
