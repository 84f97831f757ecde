"""GET /join: the page an invite's QR code opens in a phone's or computer's browser.

An invite is ``<relay_url>/join#v1.<group>.<invite>.<secret>`` (:mod:`vault.crypto.invites`).
Browsers never send the fragment, so the relay sees a plain ``GET /join`` and answers with a
static page: what Vault is, how to install the member app, and the invite link to paste into
the app's "Join a group" box. The page's script (``join/assets/join.js``) reads
``location.hash`` in the page only and sends it nowhere: no request, no form, no navigation.

Not part of the API (nothing under ``/v1``), so not in the OpenAPI document. Every response
here carries a strict Content-Security-Policy (no inline script or style, nothing from
another origin), ``Referrer-Policy: no-referrer`` and ``Cache-Control: no-store``. The
files are read once, from the package (``vault/api/join_page/``).
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from flask import Blueprint, Response

from vault.crypto.errors import NotFoundError

bp = Blueprint("join", __name__)

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "Cross-Origin-Opener-Policy": "same-origin",
}
PAGE = "index.html"
ASSETS = {  # the only files served under /join/assets/, with their types
    "join.css": "text/css; charset=utf-8",
    "join.js": "text/javascript; charset=utf-8",
    "icon.svg": "image/svg+xml",
}


@cache
def _read(name: str) -> bytes:
    return files("vault.api").joinpath("join_page", name).read_bytes()


def _static(name: str, mimetype: str) -> Response:
    response = Response(_read(name), content_type=mimetype)
    response.headers.update(HEADERS)
    return response


@bp.get("/join")
def page() -> Response:
    return _static(PAGE, "text/html; charset=utf-8")


@bp.get("/join/assets/<name>")
def asset(name: str) -> Response:
    mimetype = ASSETS.get(name)
    if mimetype is None:
        raise NotFoundError("no such file")
    return _static(name, mimetype)
