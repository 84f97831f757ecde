"""The app's pages, one blueprint per concern, all registered here (the one place to add a
blueprint: invites and joining, admin screens...).

Each blueprint's views get the open client through :func:`vault_app.views.common.with_client`
(which sends a locked or brand-new device to the unlock or welcome page) and report
problems through :mod:`vault_app.messages`.
"""

from __future__ import annotations

from flask import Flask, request

from vault_app.i18n import N_
from vault_app.views import (
    admin,
    backup,
    channels,
    common,
    device,
    groups,
    inbox,
    invites,
    language,
    live,
    pins,
    polls,
    posts,
    search,
    settings,
)

BLUEPRINTS = (device.blueprint, groups.blueprint, posts.blueprint, live.blueprint,
              settings.blueprint, invites.blueprint, admin.blueprint, language.blueprint,
              search.blueprint, polls.blueprint, pins.blueprint, channels.blueprint,
              inbox.blueprint, backup.blueprint)

NAV: list[tuple[str, str]] = [
    ("groups.index", N_("Your groups")),
    ("invites.join", N_("Join a group")),
    ("settings.index", N_("Settings")),
]
"""The main navigation (endpoint, label), in order: a new blueprint appends its entry. The
label is marked with ``N_`` and translated where it is shown (``_(label)`` in base.html)."""

PASSIVE_ENDPOINTS: set[str] = {"live.stream", "groups.feed", "groups.group_list",
                               "device.status"}
"""Requests the page makes by itself (the live feed, the lock check of static/app.js): they
do not count as the person doing something, so an open page still locks when left alone."""


def register(app: Flask) -> None:
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)

    @app.before_request
    def note_activity() -> None:
        # After security.py's checks (registered first). Lock an idle device *before*
        # counting this request as activity, or any late request would keep it open.
        if "browser_session" not in common.g_keys():
            return
        dev = common.current_device()
        dev.lock_if_idle()
        if request.endpoint not in PASSIVE_ENDPOINTS:
            dev.touch()

    @app.context_processor
    def inject_common() -> dict[str, object]:
        dev = common.current_device()
        # A fragment (the live feed, an htmx swap) must not swallow the notices meant for
        # the next whole page.
        fragment = request.endpoint in PASSIVE_ENDPOINTS or common.is_htmx()
        return {"nav": NAV, "unlocked": dev.unlocked, "has_keystore": dev.has_keystore,
                "relay_trouble": dev.relay_trouble(),
                "notices": [] if fragment else common.take_notices()}

    common.install_error_pages(app)
