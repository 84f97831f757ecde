"""Settings (with when the last backup was made: views/backup.py makes and restores them);
saving one's own posts to a file (``Client.export_own_posts``, offered as a
download: the browser asks where); and the panic wipe: one clearly marked button, confirmed
once on a page of its own, that destroys everything Vault keeps on this computer. It needs
no passphrase (a person in danger may not have the time, or may have forgotten it)."""

from __future__ import annotations

import contextlib
import logging
import os
import time

from flask import Blueprint, Response, current_app, render_template, request
from vault_client import Client, wipe_home

from vault_app.device import Locked
from vault_app.messages import Message
from vault_app.views.common import (
    ViewResult,
    current_device,
    current_settings,
    problem_for,
    with_client,
)
from vault_app.views.common import seen_posts as seen

log = logging.getLogger(__name__)
blueprint = Blueprint("settings", __name__)


@blueprint.get("/settings")
def index() -> ViewResult:
    return settings_page()


def settings_page(backup_problem: Message | None = None, status: int = 200) -> ViewResult:
    """The settings page; *backup_problem*: why a backup was not made (or is gone)."""
    last_backup_ms: int | None = None
    try:  # (the page opens while locked too; when the last backup was made needs the keys)
        made = current_device().client().last_backup()
    except Locked:
        made = None
    if made is not None:
        last_backup_ms = int(made.timestamp() * 1000)
    return render_template("settings/index.html", settings=current_settings(),
                           last_backup_ms=last_backup_ms, backup_problem=backup_problem), status


@blueprint.post("/settings/my-posts")
@with_client
def my_posts(client: Client) -> ViewResult:
    """The member's own posts in every group, as a file to download (text or JSON)."""
    as_json = request.form.get("format") == "json"
    data = client.export_own_posts(file_format="json" if as_json else "text")
    day = time.strftime("%Y-%m-%d")
    response = Response(data, content_type="application/json" if as_json
                        else "text/plain; charset=utf-8")
    name = f"vault-my-posts-{day}.{'json' if as_json else 'txt'}"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@blueprint.get("/wipe")
def confirm_wipe() -> ViewResult:
    return render_template("settings/wipe.html", problem=None)


@blueprint.post("/wipe")
def wipe() -> ViewResult:
    settings = current_settings()
    current_device().lock()  # the open client lets go of the home, so it can be destroyed
    try:
        wipe_home(settings.home)
    except Exception as error:  # another Vault program holds the home open
        return render_template("settings/wipe.html", problem=problem_for(error)), 409
    seen().destroy()
    current_app.extensions["vault_shown_warnings"].destroy()  # vault_app/shown_warnings.py
    current_app.extensions["vault_notify"].destroy()  # vault_app/notify_settings.py
    with contextlib.suppress(OSError):
        os.rmdir(settings.home)  # empty by now, unless the person kept other files there
    log.info("this device was wiped")
    return render_template("settings/wiped.html")
