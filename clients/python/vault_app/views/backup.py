"""Backups (``Client.backup``) and restoring one (``Client.restore``).

Making a backup answers the POST with the page that shows its twelve words: shown this once
(the SDK keeps them nowhere, and neither does the app: they are in no address, no log, no
session), for the person to write on paper. The file itself waits in this process's memory
(:mod:`vault_app.backups`) until it is downloaded, by a POST naming its random token; a lock
forgets it.

Restoring takes the file and the words in one form; what it did is listed group by group.
A mistake in the words, or the wrong file, changes nothing, and the form comes back with
what was typed, so one wrong word can be corrected.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Final, cast

from flask import Blueprint, Response, current_app, make_response, render_template, request
from vault_client import Client, GroupInfo, RestoredGroup
from werkzeug.exceptions import RequestEntityTooLarge

from vault_app import messages
from vault_app.backups import PendingBackup
from vault_app.i18n import gettext
from vault_app.messages import Message
from vault_app.security import current_session
from vault_app.views.common import ViewResult, problem_for, with_client
from vault_app.views.groups import group_name
from vault_app.views.settings import settings_page

log = logging.getLogger(__name__)
blueprint = Blueprint("backup", __name__)

RESTORE_LIMIT: Final = 17 * 1024 * 1024
"""The largest request the restore form may send: a backup file at its largest (a keystore
file: at most 16 MiB of contents), and the words."""
MAX_PHRASE: Final = 1000
"""Characters of the words field kept (twelve words, with room for odd spacing)."""


def pending() -> PendingBackup:
    return cast(PendingBackup, current_app.extensions["vault_backup"])


def no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


# --- making a backup ----------------------------------------------------------------------------


@blueprint.post("/settings/backup")
@with_client
def make(client: Client) -> ViewResult:
    """A new backup: its words shown now, once; its file kept for the download button."""
    try:
        made = client.backup()
    except Exception as error:
        return settings_page(problem_for(error), 409)
    token = pending().keep(current_session().session_id, made)
    page = render_template("settings/backup_made.html", words=made.recovery_phrase.split(),
                           token=token, groups=made.groups, left_out=made.left_out)
    return no_store(make_response(page))


@blueprint.post("/settings/backup/file")
@with_client
def download(client: Client) -> ViewResult:
    """The backup file just made, as a download (the browser asks where to save it); from
    then on its groups count as backed up (the reminder goes, Settings names its date)."""
    kept = pending().find(request.form.get("token", ""), current_session().session_id)
    if kept is None:
        return settings_page(Message(
            gettext("That backup file is no longer here. Vault forgets it when it locks, and "
                    "when you make a new backup."),
            gettext("Make a new backup, and write down its new twelve words.")), 410)
    day = time.strftime("%Y-%m-%d", time.localtime(kept.made_at_ms / 1000))
    client.backup_saved(kept.made)
    response = Response(kept.data, content_type="application/octet-stream")
    response.headers["Content-Disposition"] = f'attachment; filename="vault-backup-{day}.vault"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    return no_store(response)


# --- restoring one ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One group of the backup, as the results page lists it."""

    result: RestoredGroup
    name: str | None
    """The group's name where this computer knows it (restored, or already here)."""
    problem: Message | None = None


def restore_page(phrase: str, problem: Message | None, status: int = 200) -> ViewResult:
    page = render_template("settings/restore.html", phrase=phrase, problem=problem)
    return no_store(make_response(page, status))


@blueprint.errorhandler(RequestEntityTooLarge)
def too_large(error: RequestEntityTooLarge) -> ViewResult:
    return restore_page("", Message(
        gettext("That file is too large to be a Vault backup."),
        gettext("Choose the file Vault saved when you made the backup.")), 413)


@blueprint.get("/restore")
@with_client
def restore_form(client: Client) -> ViewResult:
    return restore_page("", None)


@blueprint.post("/restore")
@with_client
def restore(client: Client) -> ViewResult:
    phrase = request.form.get("phrase", "")[:MAX_PHRASE]
    upload = request.files.get("backup")
    if upload is None or not upload.filename:
        return restore_page(phrase, Message(
            gettext("Choose the backup file first."),
            gettext("It is the file Vault saved when you made the backup. Its name starts "
                    "with vault-backup.")), 422)
    if not phrase.strip():
        return restore_page(phrase, Message(
            gettext("Type the twelve words you wrote down when you made the backup."),
            gettext("Without them the backup cannot be opened.")), 422)
    try:
        results = client.restore(upload.read(), phrase)
    except Exception as error:
        problem = messages.for_restore_error(error)
        if problem is messages.UNEXPECTED:
            log.exception("restoring a backup failed", exc_info=error)
        return restore_page(phrase, problem, 422)
    here = {info.group_id: info for info in client.groups()}
    rows = [row_for(result, here.get(result.group_id)) for result in results]
    log.info("a backup was restored: %s", ", ".join(r.outcome for r in results) or "no groups")
    return no_store(make_response(render_template("settings/restored.html", rows=rows)))


def row_for(result: RestoredGroup, here: GroupInfo | None) -> Row:
    info = result.group or here
    name = group_name(info) if info is not None else None
    problem = messages.for_failed_restore(result.error_code) \
        if result.outcome == "failed" else None
    return Row(result, name, problem)
