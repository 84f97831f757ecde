"""Alembic environment: the relay's Flask-SQLAlchemy metadata and engine."""

from __future__ import annotations

from alembic import context
from flask import current_app

from vault.api.schema_version import render_item

target_metadata = current_app.extensions["migrate"].db.metadata


def run_migrations_offline() -> None:
    url = current_app.config["SQLALCHEMY_DATABASE_URI"]
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True,
                      render_as_batch=True, render_item=render_item)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = current_app.extensions["migrate"].db.engine
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata,
                          render_as_batch=True, compare_type=True,
                          render_item=render_item)
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
