"""vault_app: the member app. A local web app on 127.0.0.1 that a member opens in their
browser, built only on the SDK's public API (:mod:`vault_client`): no key, byte format or
cryptographic call of its own.

    vault app                      # prints the address to open, and opens the browser

:func:`create_app` builds the Flask app for one launch (:class:`AppSettings`);
:mod:`vault_app.serve` serves it with waitress. The pieces, one module each:

* :mod:`.security` - Host, session, origin and CSRF checks, and the response headers;
* :mod:`.device` - the keystore, opened or locked (idle lock, "Lock now");
* :mod:`.messages` - every problem as a sentence for a person;
* :mod:`.i18n` - English and Italian (Flask-Babel), from the browser's language or a switch;
* :mod:`.text` - member text made inert (escaping, bidi controls), times;
* :mod:`.seen` - unread counts;
* :mod:`.views` - one blueprint per concern, registered in one place.
"""

from __future__ import annotations

import io
import secrets
from typing import IO, Any

from flask import Flask, Request, request

from vault_app.settings import AppSettings

__all__ = ["AppSettings", "create_app"]

UPLOAD_ENDPOINTS = frozenset({"posts.create"})
"""Forms that send files (attachments): they may be larger than the others' limit."""
BACKUP_UPLOAD_ENDPOINT = "backup.restore"
"""The restore form, which sends a backup file (views/backup.py: ``RESTORE_LIMIT``)."""


class MemberRequest(Request):
    """A request whose uploaded files stay in memory: a member's file (a photo, a letter) is
    never spooled to a temporary file on disk, where a wipe would not find it."""

    def _get_file_stream(self, total_content_length: int | None, content_type: str | None,
                         filename: str | None = None,
                         content_length: int | None = None) -> IO[bytes]:
        return io.BytesIO()


def create_app(settings: AppSettings, config: dict[str, Any] | None = None) -> Flask:
    """The app for one launch: *settings* (home, relay, port, launch secret); *config*
    overrides Flask settings (tests)."""
    from vault_app import i18n, security, text, views
    from vault_app.backups import PendingBackup
    from vault_app.device import Device
    from vault_app.files import UPLOAD_LIMIT
    from vault_app.notify_settings import NotifySettings
    from vault_app.refresh import Refresher
    from vault_app.searches import RecentSearches
    from vault_app.seen import SeenPosts
    from vault_app.shown_warnings import ShownWarnings
    from vault_app.views.backup import RESTORE_LIMIT

    app = Flask(__name__)
    app.request_class = MemberRequest
    app.config.update(
        # No Flask session cookie is used (sessions are server-side, in security.py), but
        # Flask wants a key: a random one per launch, never written anywhere.
        SECRET_KEY=secrets.token_urlsafe(32),
        MAX_CONTENT_LENGTH=1024 * 1024,   # a post is at most 32 KiB of text
        TEMPLATES_AUTO_RELOAD=False,
        SEND_FILE_MAX_AGE_DEFAULT=0,
    )
    app.config.update(config or {})
    app.extensions["vault_settings"] = settings
    app.extensions["vault_device"] = Device(settings)
    app.extensions["vault_seen"] = SeenPosts(settings.home)
    app.extensions["vault_shown_warnings"] = ShownWarnings(settings.home)
    app.extensions["vault_refresher"] = Refresher(app.extensions["vault_device"])
    app.extensions["vault_notify"] = NotifySettings(settings.home)
    searches = app.extensions["vault_searches"] = RecentSearches()  # (views/search.py)
    app.extensions["vault_device"].add_lock_listener(searches.forget_all)
    backup = app.extensions["vault_backup"] = PendingBackup()  # (views/backup.py)
    app.extensions["vault_device"].add_lock_listener(backup.forget)

    # English and Italian (Flask-Babel): every template string goes through _().
    i18n.init_app(app)
    app.jinja_env.filters["member_text"] = text.member_text
    app.jinja_env.filters["when"] = text.when
    app.jinja_env.filters["iso_time"] = text.iso_time
    app.jinja_env.filters["time_left"] = text.time_left
    app.jinja_env.filters["countdown"] = text.countdown

    @app.before_request
    def allow_uploads() -> None:
        # Before security.py reads the form (its CSRF check): the compose form may carry
        # files up to the SDK's limits, the restore form a backup file; every other form
        # keeps MAX_CONTENT_LENGTH.
        if request.endpoint in UPLOAD_ENDPOINTS:
            request.max_content_length = UPLOAD_LIMIT
        elif request.endpoint == BACKUP_UPLOAD_ENDPOINT:
            request.max_content_length = RESTORE_LIMIT

    security.init_app(app, settings)
    views.register(app)
    return app
