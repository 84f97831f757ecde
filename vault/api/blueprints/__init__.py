"""One blueprint per resource."""

from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    from vault.api.blueprints import (
        auth,
        blobs,
        events,
        grants,
        groups,
        health,
        inbox,
        invites,
        join,
        posts,
    )

    for module in (health, auth, groups, invites, grants, posts, events, blobs, join, inbox):
        app.register_blueprint(module.bp)
