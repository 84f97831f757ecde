"""Canary scan: after a whole journey, nothing members wrote is anywhere the relay can see.

A real relay process (gunicorn; SQLite in a data directory, or PostgreSQL when
VAULT_TEST_POSTGRES_URL is set) serves clients of the SDK through a full journey: a group with
a name, description and rules, display names, approvals and a pre-authorised join, posts,
replies, reactions, content warnings, edits, deletions, an expiring post, attachments (from
bytes and from a file whose name is itself a canary), a renamed group, a removal, a departure.
Every piece of text is a unique canary string.

Then the relay's storage is scanned: every column of every table (read with SQL), every file in
its data directory (the SQLite database, its WAL and anything else), and everything the
relay process wrote to stdout and stderr (at DEBUG level). No canary may appear in raw UTF-8,
UTF-16 (either byte order), base64 (standard and URL-safe, at all three alignments) or hex
(either case). The same holds for the secrets the relay must never see: invite secrets, epoch
keys, members' private keys, the keystore passphrase.

Positive controls make sure the scan can see: the members' canaries are readable by the members
(so they were written and sent), and public values the relay must hold (the group id, a member's
public key) are found by the same scan.
"""

from __future__ import annotations

import base64
import secrets
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from vault_client import Client

from tests.conftest import fresh_database
from tests.relayproc import RelayProcess
from vault.crypto import keystore
from vault.crypto.encoding import b64decode
from vault.crypto.invites import parse_invite_uri

PASSPHRASE = "CANARY-passphrase-" + secrets.token_hex(8)
CHECKS: list[tuple[str, int, int]] = []
"""(backend, values scanned for, form x place checks) of each scan, for the report."""


def canary(kind: str, extra: str = "") -> str:
    """A unique string (NFC, as the SDK stores names)."""
    return unicodedata.normalize("NFC", f"CANARY-{kind}-{extra}{secrets.token_hex(6)}")


# --- the forms a value could take in storage or logs ---------------------------------------


def _b64_cores(data: bytes) -> list[bytes]:
    """The part of any base64 text that encodes *data*, at each of the 3 alignments *data*
    can start at (standard and URL-safe alphabets)."""
    out = []
    for shift in range(3):
        encoded = base64.b64encode(b"\x00" * shift + data)
        start = -(-8 * shift // 6)
        end = 8 * (shift + len(data)) // 6
        core = encoded[start:end]
        out += [core, core.translate(bytes.maketrans(b"+/", b"-_"))]
    return out


def forms(value: str | bytes) -> dict[str, bytes]:
    raw = value.encode("utf-8") if isinstance(value, str) else value
    found = {"raw": raw, "hex": raw.hex().encode(), "HEX": raw.hex().upper().encode()}
    if isinstance(value, str):
        found["utf-16-le"] = value.encode("utf-16-le")
        found["utf-16-be"] = value.encode("utf-16-be")
    for index, core in enumerate(_b64_cores(raw)):
        found[f"b64-{index // 2}{'-url' if index % 2 else ''}"] = core
    return found


# --- what the relay holds -------------------------------------------------------------------


def _cell(value: Any) -> bytes:
    if value is None:
        return b""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    return str(value).encode("utf-8", "surrogatepass")


def dump_database(url: str, schema: str | None) -> tuple[bytes, dict[str, int]]:
    """Every value of every column of every table, and the row count of each table."""
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    out = bytearray()
    counts: dict[str, int] = {}
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                tables = [r[0] for r in conn.execute(sa.text(
                    "SELECT name FROM sqlite_master WHERE type='table'"))]
            else:
                tables = [r[0] for r in conn.execute(sa.text(
                    "SELECT table_name FROM information_schema.tables "
                    "WHERE table_schema = :schema"), {"schema": schema})]
            assert "posts" in tables and "log_entries" in tables, tables
            for table in tables:
                rows = conn.execute(sa.text(f'SELECT * FROM "{table}"')).all()
                counts[table] = len(rows)
                for row in rows:
                    for value in row:
                        out += _cell(value) + b"\x00"
    finally:
        engine.dispose()
    return bytes(out), counts


def dump_files(directory: Path) -> bytes:
    out = bytearray()
    for path in sorted(directory.rglob("*")):
        if path.is_file():
            out += path.read_bytes() + b"\x00"
    return bytes(out)


# --- the journey ------------------------------------------------------------------------------


class Journey:
    def __init__(self, relay: RelayProcess, root: Path) -> None:
        self.relay = relay
        self.root = root
        self.texts: dict[str, str] = {}
        self.secrets: dict[str, bytes] = {}
        self.clients: list[Client] = []

    def text(self, kind: str, extra: str = "") -> str:
        value = canary(kind, extra)
        self.texts[kind] = value
        return value

    def client(self, name: str) -> Client:
        client = Client(PASSPHRASE, home=self.root / name, relay_url=self.relay.url)
        self.clients.append(client)
        return client

    def run(self) -> str:
        owner, bea, cal = self.client("owner"), self.client("bea"), self.client("cal")
        t = self.text
        group = owner.create_group(t("group-name"), t("group-description"), t("group-rules"),
                                   display_name=t("owner-name"))
        gid = group.group_id

        invite = owner.create_invite(gid, max_uses=2)
        self.secrets["invite-secret"] = parse_invite_uri(invite.uri).secret
        assert bea.join(invite.uri).status == "pending"
        (request,) = owner.pending_requests(gid)
        owner.approve(gid, request.joiner, share_history="all")
        assert bea.join_status(gid) == "member"
        bea.set_display_name(gid, t("bea-name", "\u00e9\u00f1\u00fc-"))

        open_invite = owner.create_invite(gid, require_approval=False)
        self.secrets["open-invite-secret"] = parse_invite_uri(open_invite.uri).secret
        cal.join(open_invite.uri)
        owner.sync(gid)  # the owner's device rotates for the newcomer and grants keys
        cal.sync(gid)
        cal.set_display_name(gid, t("cal-name", "\u65e5\u672c-"))

        first = owner.post(gid, t("post"), content_warning=t("content-warning"))
        bea.sync(gid)
        bea.reply(gid, first, t("reply"))
        cal.sync(gid)
        cal.react(gid, first, t("reaction"))
        owner.edit(gid, first, t("edited-post"), content_warning=t("edited-warning"))
        named = self.root / f"{t('file-name')}.txt"
        named.write_bytes(t("file-content").encode())
        owner.post(gid, t("post-with-files"), attachments=[
            named, (t("bytes-attachment").encode(), "application/octet-stream")])
        owner.post(gid, t("expiring-post"), expires_in=3600)
        doomed = bea.post(gid, t("deleted-post"))
        assert doomed.delivered  # its ciphertext reached the relay before the deletion
        bea.delete(gid, doomed)
        owner.update_group(gid, name=t("new-group-name"), description=t("new-description"),
                           rules=t("new-rules"))
        cal_id = cal.me(gid).member_id
        owner.remove(gid, cal_id)
        owner.post(gid, t("after-removal"))
        bea.sync(gid)
        bea.post(gid, t("before-leaving"))
        bea.leave(gid)
        owner.sync(gid)  # rotates after the departure
        owner.post(gid, t("last-post"))

        # Positive control: members read every canary (so each was written and sent).
        owner.sync(gid)
        bodies = [p.body for p in owner._device.view(gid).timeline.ordered()]
        seen = " ".join(f"{b.text} {b.content_warning}" for b in bodies)
        info = owner.group(gid)
        seen += f" {info.name} {info.description} {info.rules} "
        seen += " ".join(m.display_name or "" for m in owner.members(gid))
        for kind in ("post", "content-warning", "reply", "reaction", "edited-post",
                     "edited-warning", "post-with-files", "expiring-post",
                     "new-group-name", "new-description", "new-rules", "after-removal",
                     "before-leaving", "last-post", "owner-name"):
            assert self.texts[kind] in seen, kind
        attachments = [a for p in owner.posts(gid) for a in p.attachments]
        assert {owner.attachment(gid, a) for a in attachments} == {
            self.texts["file-content"].encode(), self.texts["bytes-attachment"].encode()}

        for name, client in (("owner", owner), ("bea", bea), ("cal", cal)):
            for view in client._device.views.values():
                self.secrets[f"{name}-sign-seed"] = view.me.sign_seed
                self.secrets[f"{name}-box-key"] = view.me.box_sk
                for epoch, key in view.keys.items():
                    self.secrets[f"epoch-key-{epoch}"] = key
            self.secrets[f"{name}-store-key"] = client._device.store_key
        self.public = {"group id": b64decode(gid),
                       "owner key": b64decode(owner.me(gid).member_id)}
        return gid

    def close(self) -> None:
        for client in self.clients:
            client.close()


@pytest.fixture(autouse=True)
def _cheap_kdf(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.fuzz.conftest import cheap_kdf

    monkeypatch.setattr(keystore, "_kdf", cheap_kdf)


@pytest.fixture
def relay(backend: str, tmp_path: Path) -> Iterator[tuple[RelayProcess, str, str | None]]:
    data_dir = tmp_path / "relay-data"  # on SQLite, the database file is in it too
    with fresh_database(backend, data_dir) as database:
        process = RelayProcess(data_dir, log_level="DEBUG", env={
            "VAULT_DATABASE_URL": database.url, "VAULT_AUTO_MIGRATE": "1"})
        try:
            yield process, database.url, database.schema
        finally:
            process.stop()


@pytest.mark.slow
def test_no_canary_reaches_the_relay(relay: tuple[RelayProcess, str, str | None],
                                     tmp_path: Path) -> None:
    process, url, schema = relay
    journey = Journey(process, tmp_path / "clients")
    try:
        journey.run()
    finally:
        journey.close()
    process.stop()  # everything flushed: the WAL, the logs

    database, counts = dump_database(url, schema)
    assert counts["posts"] >= 8 and counts["log_entries"] >= 15 and counts["blobs"] == 2, counts
    places = {"database": database, "logs": process.output()}
    if schema is None:
        places["data directory"] = dump_files(process.data_dir)
        assert any(p.name.endswith("-wal") or p.name == "relay.db"
                   for p in process.data_dir.iterdir())
    assert b"listening on" in places["logs"]
    assert b'"path":"/v1/groups/<gid>/posts/<post_id>"' in places["logs"]  # request lines

    for what, value in journey.public.items():  # positive control: the scan can see
        assert value in places["database"], what
        if schema is None:
            assert value in places["data directory"], what

    leaks = []
    checked = 0
    for kind, value in [*journey.texts.items(), *journey.secrets.items(),
                        ("passphrase", PASSPHRASE)]:
        for form, needle in forms(value).items():
            for place, haystack in places.items():
                checked += 1
                if needle in haystack:
                    leaks.append(f"{kind} as {form} in the relay's {place}")
    assert not leaks, leaks
    assert checked > 500
    CHECKS.append((str(process.env.get("VAULT_DATABASE_URL", "sqlite")).split(":")[0],
                   len(journey.texts) + len(journey.secrets) + 1, checked))


def test_the_forms_find_a_value_wherever_it_sits() -> None:
    """Self-test of the scan: a value inside a longer text is found in each encoding."""
    value = canary("self-test", "\u00e9")
    raw = value.encode()
    for prefix in (b"", b"x", b"xy", b"xyz"):
        blob = prefix + raw + b"tail"
        encodings = [blob, blob.hex().encode(), blob.hex().upper().encode(),
                     base64.b64encode(blob), base64.urlsafe_b64encode(blob),
                     (prefix.decode() + value + "tail").encode("utf-16-le"),
                     (prefix.decode() + value + "tail").encode("utf-16-be")]
        needles = forms(value).values()
        for encoded in encodings:
            assert any(n in encoded for n in needles), encoded[:40]
