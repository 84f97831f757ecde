"""The framework floor for ``benchmarks/relay.py``: a bare Flask + Flask-SQLAlchemy app.

It does what a relay post upload and a newest-page read cannot avoid, and nothing else: parse
a JSON body holding a base64url blob, decode it, INSERT one row and commit; or SELECT the
newest page of one group's rows and return them base64url-encoded as JSON. No
authentication, no validation, no event counter, no envelope parsing.

It runs under the same gunicorn settings, on the same database (its own table,
``bare_posts``, which ``benchmarks/relay.py`` creates), with the same connection settings as
the relay: the same SQLAlchemy pool options, and on SQLite the same busy timeout and
``synchronous = FULL`` (the database file is already in WAL mode), so the comparison is
about the relay's code, not about durability settings.

    BARE_DATABASE_URL=... gunicorn --worker-class gthread ... 'bare_app:create_app()'
"""

from __future__ import annotations

import base64
import os
from typing import Any

from flask import Flask, jsonify, request
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import BigInteger, Index, Integer, LargeBinary, event, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

GROUP = bytes(32)


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


class BarePost(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "bare_posts"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True, autoincrement=True)
    group_id: Mapped[bytes] = mapped_column(LargeBinary(32))
    post_id: Mapped[bytes] = mapped_column(LargeBinary(16), unique=True)
    body: Mapped[bytes] = mapped_column(LargeBinary)

    __table_args__ = (Index("ix_bare_posts_group_id", "group_id", "id"),)


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def engine_options(url: str) -> dict[str, Any]:
    """The relay's engine options (vault.api.app._engine_options), repeated here."""
    if url.startswith("sqlite"):
        return {"connect_args": {"check_same_thread": False, "timeout": 30}}
    return {"pool_size": 10, "max_overflow": 20}


def create_app() -> Flask:
    url = os.environ["BARE_DATABASE_URL"]
    app = Flask("bare")
    app.config["SQLALCHEMY_DATABASE_URI"] = url
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(url)
    db.init_app(app)
    if url.startswith("sqlite"):
        with app.app_context():

            @event.listens_for(db.engine, "connect")
            def _pragmas(dbapi_conn: Any, _record: Any) -> None:
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA busy_timeout = 10000")
                cur.execute("PRAGMA synchronous = FULL")
                cur.close()

    @app.put("/posts/<post_id>")
    def put_post(post_id: str) -> Any:
        data = request.get_json()
        row = BarePost(group_id=GROUP, post_id=_b64decode(post_id),
                       body=_b64decode(data["envelope"]))
        db.session.add(row)
        db.session.commit()
        return jsonify({"post_id": post_id, "cursor": str(row.id)}), 201

    @app.get("/posts")
    def newest() -> Any:
        limit = int(request.args.get("newest", "50"))
        rows = db.session.execute(
            select(BarePost.id, BarePost.post_id, BarePost.body)
            .where(BarePost.group_id == GROUP)
            .order_by(BarePost.id.desc())
            .limit(limit)
        ).all()
        posts = [{"post_id": _b64encode(r.post_id), "cursor": str(r.id),
                  "envelope": _b64encode(r.body)} for r in reversed(rows)]
        return jsonify({"posts": posts, "cursor": posts[-1]["cursor"] if posts else None})

    return app
