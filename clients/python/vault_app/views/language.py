"""The language switch at the foot of every page: ``POST /language`` remembers this
browser's choice in a cookie (:mod:`vault_app.i18n`) and goes back to the page it came from.

It works locked and on first run too (a person must be able to read the unlock page), and
like every write it needs the session and its CSRF token (:mod:`vault_app.security`)."""

from __future__ import annotations

from flask import Blueprint, abort, request

from vault_app import i18n
from vault_app.views.common import ViewResult, go, safe_next

blueprint = Blueprint("language", __name__)

COOKIE_DAYS = 400
"""How long the choice is kept (the most a browser keeps a cookie for)."""


@blueprint.post("/language")
def choose() -> ViewResult:
    chosen = request.form.get("lang", "")
    if chosen not in i18n.LANGUAGES:
        abort(400)
    response = go(safe_next(request.form.get("next")))
    response.set_cookie(i18n.COOKIE, chosen, max_age=COOKIE_DAYS * 86400, path="/",
                        httponly=True, samesite="Strict", secure=False)
    return response
