"""Deleting a group, through the SDK against a real relay process (SQLite and PostgreSQL):
an owner deletes it; admins and members may not; every member's device learns it (by a sync,
or while waiting for news), checks it against its log, drops its copy and keeps a notice
until the person dismisses it."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from vault_client import AsyncClient, GroupDeleted, Role
from vault_client.errors import NotPermittedError, UnknownGroupError

from tests.client.conftest import RelayProcess
from tests.client.test_newcomers import PASSPHRASE, in_a_circle
from tests.conftest import BACKENDS
from vault.crypto.encoding import b64decode


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Both backends (the relay purges with each one's SQL)."""
    return str(request.param)


def _rows_kept(client_home: Path, gid: str) -> dict[str, int]:
    """Rows naming the group in each table of a client's local store on disk."""
    with sqlite3.connect(client_home / "client.db") as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        counts = {}
        for table in tables:
            columns = [c[1] for c in conn.execute(f"PRAGMA table_info({table})")]
            if "group_id" in columns:
                counts[table] = conn.execute(f"SELECT COUNT(*) FROM {table} WHERE group_id=?",
                                             (b64decode(gid),)).fetchone()[0]
    return counts


def test_an_owner_deletes_a_group_and_every_device_drops_it(
        tmp_path: Path, relay_up: RelayProcess) -> None:
    with in_a_circle(tmp_path, relay_up, "ann", "ben", "cat") as (gid, (ann, ben, cat)):
        ann.set_role(gid, ben.me(gid).member_id, Role.ADMIN)
        ann.post(gid, "What we said on Tuesday")
        for person in (ben, cat):
            person.sync(gid)
            assert [p.text for p in person.posts(gid)] == ["What we said on Tuesday"]
        # Nobody but an owner: refused, nothing written.
        seq = ann.group(gid).log_seq
        for person in (ben, cat):
            with pytest.raises(NotPermittedError, match="only an owner"):
                person.delete_group(gid)
        ann.sync(gid)
        assert ann.group(gid).log_seq == seq

        cat.close()  # (her device waits below, through the asynchronous client)
        deleted = ann.delete_group(gid)
        assert (deleted.group_id, deleted.name, deleted.by_me, deleted.unsent_posts) == \
            (gid, "Circle", True, 0)
        assert ann.groups() == [] and ann.deleted_groups() == [deleted]

        report = ben.sync(gid)[0]
        (event,) = report.events
        assert isinstance(event, GroupDeleted)
        assert (event.name, event.deleted_by, event.by_me, event.unsent_posts) == \
            ("Circle", "Ann", False, 0)
        assert ben.groups() == []
        assert set(_rows_kept(Path(ben.home), gid).values()) == {0}
        with pytest.raises(UnknownGroupError):
            ben.posts(gid)
        (notice,) = ben.deleted_groups()
        assert (notice.group_id, notice.name, notice.deleted_by) == (gid, "Circle", "Ann")
        ben.dismiss_deleted_group(gid)
        assert ben.deleted_groups() == []
        with pytest.raises(UnknownGroupError):
            ben.dismiss_deleted_group(gid)

        for person in (ann, ben):
            assert person.warnings() == []

    # Cat's device was waiting for news (an asynchronous client's long-poll): the wait
    # ends with the deletion.
    async def cat_waits() -> None:
        async with AsyncClient(PASSPHRASE + "cat", home=tmp_path / "cat",
                               relay_url=relay_up.url) as cat:
            waited = await cat.wait(gid, timeout=10)
            assert [type(e) for e in waited.events] == [GroupDeleted]
            assert await cat.groups() == []
            assert [n.deleted_by for n in await cat.deleted_groups()] == ["Ann"]

    asyncio.run(cat_waits())
    assert set(_rows_kept(tmp_path / "cat", gid).values()) == {0}
