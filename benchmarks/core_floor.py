"""The true ingest floor for ``benchmarks/ingest.py``: a bare Flask app with SQLAlchemy Core.

Per upload it does what storing a post cannot avoid, and nothing else: Flask routes the
request, parses its JSON body, decodes the base64url envelope and the id from the URL, runs
ONE ``INSERT`` in autocommit mode (no BEGIN/COMMIT round trips, no ORM unit of work, no
session) and answers with the row's id as JSON. No authentication, no validation, no event
counter, no envelope parsing, no logging. ``benchmarks/bare_app.py`` (today's floor: an ORM
app with an explicit transaction) stays beside it.

It runs under the same gunicorn settings as the relay it is compared with, on the same
database (its own table, ``core_posts``, which :func:`create_table` makes), with the relay's
connection settings: the same pool options, and on SQLite the same busy timeout and
``synchronous = FULL`` (the file is already in WAL mode).

    CORE_DATABASE_URL=... gunicorn --worker-class gthread ... 'core_floor:create_app()'
"""

from __future__ import annotations

import base64
import os
from typing import Any

from flask import Flask, jsonify, request
from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    create_engine,
    event,
    insert,
)

GROUP = bytes(32)

metadata = MetaData()
core_posts = Table(
    "core_posts", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    Column("group_id", LargeBinary(32), nullable=False),
    Column("post_id", LargeBinary(16), nullable=False, unique=True),
    Column("body", LargeBinary, nullable=False),
    Index("ix_core_posts_group_id", "group_id", "id"),
)
INSERT = insert(core_posts)  # built once; Core caches its compiled form


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def engine_options(url: str) -> dict[str, Any]:
    """The relay's engine options (vault.api.app._engine_options), repeated here."""
    if url.startswith("sqlite"):
        return {"connect_args": {"check_same_thread": False, "timeout": 30}}
    return {"pool_size": 10, "max_overflow": 20}


def create_table(url: str) -> None:
    engine = create_engine(url)
    metadata.create_all(engine)
    engine.dispose()


def create_app() -> Flask:
    url = os.environ["CORE_DATABASE_URL"]
    engine = create_engine(url, isolation_level="AUTOCOMMIT", **engine_options(url))
    if url.startswith("sqlite"):

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA busy_timeout = 10000")
            cur.execute("PRAGMA synchronous = FULL")
            cur.close()

    app = Flask("core_floor")

    @app.put("/posts/<post_id>")
    def put_post(post_id: str) -> Any:
        data = request.get_json()
        with engine.connect() as conn:  # autocommit: the INSERT is the whole transaction
            result = conn.execute(INSERT, {"group_id": GROUP, "post_id": _b64decode(post_id),
                                           "body": _b64decode(data["envelope"])})
            row_id = result.inserted_primary_key[0]  # type: ignore[index]
        return jsonify({"post_id": post_id, "cursor": str(row_id)}), 201

    return app
