"""Schema migrations upgrade a database with data in it, on SQLite and on PostgreSQL.

0001 -> 0002: ``invites.uses`` is filled in from each group's verified log (a group whose
stored log does not verify has its invites marked used up), and blobs stored before blobs
named their post are kept (with ``LEGACY_POST_ID``, which the purge leaves alone).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_migrate import Migrate

from tests.api.conftest import make_app
from tests.api.helpers import Api, FakeClock, code
from tests.conftest import Database
from tests.crypto.logfactory import InviteTicket, LogFactory
from vault.api.app import MIGRATIONS_DIR
from vault.api.db import db
from vault.api.models import LEGACY_POST_ID, BlobRow, InviteRow
from vault.api.purge import purge_expired
from vault.api.schema_version import SCHEMA_HEAD, is_current
from vault.crypto.auth import sign_invite_challenge
from vault.crypto.encoding import b64decode, b64encode

DAY_MS = 86_400_000


@pytest.fixture
def empty_url(database: Database) -> str:
    return database.url


def _alembic(url: str, command_name: str, revision: str) -> None:
    """Run one Alembic command on *url* (no relay app: the relay refuses an old schema)."""
    from alembic import command

    app = Flask("migration-test")
    app.config["SQLALCHEMY_DATABASE_URI"] = url.replace("postgresql://",
                                                        "postgresql+psycopg://", 1)
    db.init_app(app)
    Migrate(app, db, directory=MIGRATIONS_DIR)
    with app.app_context():
        config = app.extensions["migrate"].migrate.get_config(MIGRATIONS_DIR)
        getattr(command, command_name)(config, revision)
        db.engine.dispose()


def _rows_0001(f: LogFactory, invites: list[InviteTicket], *,
               broken: bool = False) -> dict[str, list[dict[str, object]]]:
    """A group's rows as the relay at revision 0001 stored them (no uses, no blob post)."""
    state = f.state
    gid = f.group_id
    raws = list(f.raw)
    if broken:  # a stored entry whose signature no longer verifies
        raws[-1] = raws[-1][:-1] + bytes([raws[-1][-1] ^ 1])
    return {
        "groups": [{"group_id": gid, "head_seq": state.seq, "head_hash": state.head,
                    "epoch": state.epoch, "event_seq": state.seq + 1, "created_at_ms": 1}],
        "log_entries": [{"group_id": gid, "seq": seq, "entry_hash": state.hashes[seq],
                         "raw": raw, "event_seq": seq + 1, "created_at_ms": 1}
                        for seq, raw in enumerate(raws)],
        "members": [{"group_id": gid, "sign_pk": pk, "role": int(m.role),
                     "joined_seq": m.joined_seq, "removed_seq": None}
                    for pk, m in state.members.items()],
        "invites": [{"group_id": gid, "invite_id": t.invite_id, "invite_pk": t.invite_pk,
                     "max_uses": state.invites[t.invite_id].max_uses,
                     "expires_at_ms": state.invites[t.invite_id].expires_at_ms,
                     "requires_approval": state.invites[t.invite_id].requires_approval,
                     "revoked": False, "redemptions": 0} for t in invites],
        "blobs": [{"group_id": gid, "blob_id": bytes([i]) * 16, "uploader": f.owner.sign_pk,
                   "data": b"\x01" * 50, "size": 50, "created_at_ms": 1} for i in (1, 2)],
    }


def _insert(url: str, rows: dict[str, list[dict[str, object]]]) -> None:
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    metadata = sa.MetaData()
    with engine.begin() as conn:
        for name in ("groups", "log_entries", "members", "invites", "blobs"):
            table = sa.Table(name, metadata, autoload_with=conn)
            conn.execute(table.insert(), rows[name])
    engine.dispose()


def _invite_challenge(api: Api, gid: bytes, ticket: InviteTicket) -> int:
    base = f"/v1/groups/{b64encode(gid)}"
    response = api.post(f"{base}/auth/challenge", json={"invite_id": b64encode(ticket.invite_id)})
    if response.status_code != 201:
        assert code(response) == "invite_exhausted"
        return response.status_code
    challenge = b64decode(response.get_json()["challenge"])
    signature = sign_invite_challenge(ticket.invite_sk, gid, ticket.invite_id, challenge)
    return api.post(f"{base}/auth/session", json={
        "invite_id": b64encode(ticket.invite_id), "challenge": b64encode(challenge),
        "signature": b64encode(signature)}).status_code


def test_0002_upgrades_a_0001_database_with_data(empty_url: str) -> None:
    _alembic(empty_url, "upgrade", "0001")
    f = LogFactory("migration-a")
    used_up = f.invite(max_uses=1)
    f.join(used_up)  # a JOIN uses it once: used up
    half = f.invite(max_uses=2, requires_approval=True)
    f.approve(half)  # an ADD naming it uses it once: one use left
    fresh = f.invite(max_uses=5)
    broken = LogFactory("migration-b")
    broken_invite = broken.invite(max_uses=3)
    broken.add_member()
    _insert(empty_url, _rows_0001(f, [used_up, half, fresh]))
    _insert(empty_url, _rows_0001(broken, [broken_invite], broken=True))

    _alembic(empty_url, "upgrade", "head")

    clock = FakeClock(f.now_ms + 60_000)
    app = make_app(empty_url, clock)  # the schema is current: the relay starts
    try:
        with app.app_context():
            uses = {row.invite_id: row.uses for row in
                    db.session.execute(sa.select(InviteRow.invite_id, InviteRow.uses))}
            posts = set(db.session.scalars(sa.select(BlobRow.post_id)))
            db.session.remove()
        assert uses == {used_up.invite_id: 1, half.invite_id: 1, fresh.invite_id: 0,
                        broken_invite.invite_id: 3}
        assert posts == {LEGACY_POST_ID}
        api = Api(app)
        assert _invite_challenge(api, f.group_id, used_up) == 409
        assert _invite_challenge(api, broken.group_id, broken_invite) == 409
        assert _invite_challenge(api, f.group_id, half) == 201
        assert _invite_challenge(api, f.group_id, fresh) == 201
        # blobs from before are kept: the purge leaves them alone, however old
        with app.app_context():
            assert purge_expired(clock.now + 365 * DAY_MS)["blobs"] == 0
            assert db.session.scalar(sa.select(sa.func.count()).select_from(BlobRow)) == 4
            db.session.remove()
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()

    # and back: 0002 downgrades to 0001 (its columns and index go), then upgrades again
    _alembic(empty_url, "downgrade", "0001")
    engine = sa.create_engine(empty_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.connect() as conn:
        inspector = sa.inspect(conn)
        assert "uses" not in {c["name"] for c in inspector.get_columns("invites")}
        assert "post_id" not in {c["name"] for c in inspector.get_columns("blobs")}
    engine.dispose()
    _alembic(empty_url, "upgrade", "head")
    app = make_app(empty_url, clock)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(BlobRow)) == 4
        db.session.remove()
        db.engine.dispose()


def test_the_schema_the_relay_checks_for_is_alembics_head() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", MIGRATIONS_DIR)
    assert set(ScriptDirectory.from_config(config).get_heads()) == {SCHEMA_HEAD}


def test_serving_loads_no_migration_code(tmp_path: Path) -> None:
    # Alembic is for upgrading (about 11 MB in every process that loads it): the process
    # that starts the relay upgrades in a child process, and a relay that only checks its
    # schema and serves does without it.
    script = (
        "import sys\n"
        "from vault.api import create_app, upgrade_if_configured_in_child\n"
        "print(upgrade_if_configured_in_child())\n"
        "create_app()\n"
        "print(sorted(m for m in ('alembic', 'flask_migrate') if m in sys.modules))\n"
    )
    env = {**os.environ, "VAULT_DATA_DIR": str(tmp_path), "VAULT_LOG_LEVEL": "WARNING"}
    env.pop("VAULT_DATABASE_URL", None)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, check=True, env=env)
    assert done.stdout.split() == ["True", "[]"]


def test_a_start_upgrades_in_a_child_only_a_database_that_is_not_current(
        empty_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """`vault relay serve` (and gunicorn's master) upgrade in a child process; a database
    already at the latest migration (every restart but a deploy's first) needs none."""
    import vault.api.app as relay_app
    from vault.api.settings import load_settings, resolve_database_url

    monkeypatch.setenv("VAULT_DATABASE_URL", empty_url)
    monkeypatch.setenv("VAULT_AUTO_MIGRATE", "1")
    url = resolve_database_url(load_settings())
    children: list[object] = []
    real_run = subprocess.run

    def counting(*args: object, **kwargs: object) -> object:
        children.append(args)
        return real_run(*args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(relay_app.subprocess, "run", counting)
    assert not is_current(url)  # empty
    _alembic(empty_url, "upgrade", "0001")
    assert not is_current(url)  # older
    assert relay_app.upgrade_if_configured_in_child() is True and len(children) == 1
    assert is_current(url)
    assert relay_app.upgrade_if_configured_in_child() is False and len(children) == 1
    app = make_app(empty_url, FakeClock(0))  # and the relay takes it (its schema check)
    with app.app_context():
        db.engine.dispose()


def test_a_sqlite_database_not_yet_made_is_not_current_and_is_not_made(tmp_path: Path) -> None:
    missing = tmp_path / "relay.db"
    assert not is_current(f"sqlite:///{missing}") and not missing.exists()


def test_a_migration_written_from_the_models_names_no_model_type() -> None:
    # Binary columns are models.Blob; a migration autogenerated from the models must write
    # the LargeBinary the schema has, never a type that only the models module defines.
    from alembic.autogenerate import render_python_code
    from alembic.operations import ops

    from vault.api.schema_version import render_item

    tables = [ops.CreateTableOp.from_table(table) for table in db.metadata.sorted_tables]
    code = render_python_code(ops.UpgradeOps(ops=list(tables)), render_item=render_item)
    assert "Blob" not in code and "vault.api" not in code
    assert "sa.Column('recipient', sa.LargeBinary(length=32)" in code
    assert "sa.Column('raw', sa.LargeBinary()" in code


def test_the_migrated_schema_is_the_models_schema(empty_url: str) -> None:
    # Alembic's own comparison, types included: what the migrations make is what the
    # models describe (a change to one without the other shows here).
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    _alembic(empty_url, "upgrade", "head")
    engine = sa.create_engine(empty_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, db.metadata)
    finally:
        engine.dispose()
    assert differences == []
