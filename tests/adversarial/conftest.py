"""Fixtures of the hostile-relay suite: one real relay per module behind a :class:`HostileRelay`,
and members whose SDK clients each see the relay through their own view.

Clients are opened once per module (Argon2id runs when a keystore is opened or re-sealed, so
each client and each group it enters costs a fraction of a second); every test makes its
own group, and every view is made honest again after each test. After each test, the
canary texts the test wrote (post texts, group names, display names) must appear nowhere in
what the relay stored or saw.
"""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from vault_client import Client

from tests.adversarial.hostile import RELAY_URL, Clock, HostileRelay, env_quiet
from vault.api import create_app, upgrade_database
from vault.api.db import db
from vault.crypto.encoding import b64decode
from vault.crypto.group_state import LogCheckpoint

PASSPHRASE = "a long passphrase nobody guesses "
NAMES = ("ann", "ben", "cleo", "dan", "eve")


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostileRelay]:
    path = tmp_path_factory.mktemp("relay") / "relay.db"
    config = {"VAULT_DATABASE_URL": f"sqlite:///{path}", **env_quiet()}
    upgrade_database(config)
    app = create_app(config)
    relay = HostileRelay(app, path)
    yield relay
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="module")
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="module")
def people(hostile: HostileRelay, clock: Clock, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[SimpleNamespace]:
    """ann (owns every test group), ben, cleo, dan (members) and eve (an outsider)."""
    home = tmp_path_factory.mktemp("people")

    def open_client(name: str) -> Client:
        return Client(PASSPHRASE + name, home=home / name, relay_url=RELAY_URL,
                      transport=hostile.view(name), clock=clock, retry_for=0.0)

    people = SimpleNamespace(**{name: open_client(name) for name in NAMES})
    people.reopen = open_client  # close a client first: one client per home
    yield people
    for name in NAMES:
        getattr(people, name).close()


@pytest.fixture
def canary(hostile: HostileRelay) -> Iterator[Callable[[str], str]]:
    """``canary("what")`` -> a unique text to write; the relay must never see it."""
    made: list[str] = []
    since = len(hostile.exchanges)

    def make(what: str) -> str:
        text = f"canary {what} {secrets.token_hex(6)}"  # short: display names are <= 64 B
        made.append(text)
        return text

    yield make
    leaks = hostile.leaks(made, since)
    assert not leaks, leaks


@pytest.fixture(autouse=True)
def _honest_again(hostile: HostileRelay, clock: Clock) -> Iterator[None]:
    yield
    hostile.reset()
    clock.offset_ms = 0


# --- scenarios ----------------------------------------------------------------------------


def circle(canary: Callable[[str], str], owner: Client, *joiners: Client,
           history: str = "current") -> str:
    """A group *owner* creates (its name and everyone's display name are canaries), with
    each joiner admitted by approval; everyone synced. Returns the group id."""
    group = owner.create_group(canary("group name"), canary("description"),
                               display_name=canary("owner's name"))
    gid = group.group_id
    for joiner in joiners:
        invite = owner.create_invite(gid, max_uses=1)
        result = joiner.join(invite.uri)
        owner.approve(gid, result.member_id, share_history=history)  # type: ignore[arg-type]
        assert joiner.join_status(gid) == "member"
        joiner.set_display_name(gid, canary("display name"))
    for person in (owner, *joiners):
        person.sync(gid)
    return gid


def stored_checkpoint(client: Client, gid: str) -> LogCheckpoint:
    """The high-water mark in the client's local store on disk (not its memory)."""
    with sqlite3.connect(Path(client.home) / "client.db") as conn:
        row = conn.execute("SELECT checkpoint FROM groups WHERE group_id=?",
                           (b64decode(gid),)).fetchone()
    return LogCheckpoint.decode(bytes(row[0]))


def stored_post_ids(client: Client, gid: str) -> set[str]:
    """Ids of the posts in the client's local store on disk."""
    from vault.crypto.encoding import b64encode

    with sqlite3.connect(Path(client.home) / "client.db") as conn:
        rows = conn.execute("SELECT post_id FROM posts WHERE group_id=?",
                            (b64decode(gid),)).fetchall()
    return {b64encode(bytes(r[0])) for r in rows}


def texts(client: Client, gid: str) -> list[str]:
    return [p.text for p in client.posts(gid)]
