"""After a whole scenario, no plaintext a member wrote is anywhere in the relay's storage."""

from __future__ import annotations

import base64
from pathlib import Path

import sqlalchemy as sa

from tests.api.helpers import Api, RelayGroup, real_invite
from vault.api.db import db
from vault.api.models import ALL_TABLES
from vault.crypto.encoding import b64encode
from vault.crypto.epochs import build_grants

CANARIES = [b"CANARY-post-7f3a91", b"CANARY-reply-0c22d4"]


def _forms(value: bytes) -> list[bytes]:
    return [value, b64encode(value).encode(), base64.b64encode(value), value.hex().encode()]


def test_no_plaintext_in_storage(api: Api, backend: str) -> None:
    g = RelayGroup(api)
    alice, bob = g.f.add_members(2)
    g.f.set_metadata()
    link, _ticket = real_invite(g)
    g.sync()
    for canary in CANARIES:
        g.put_post(alice, text=canary.decode())
    g.f.remove(bob)
    g.sync()
    grants = build_grants(g.owner, g.f.group_id, 1, g.f.epoch_keys[1], [g.owner.public,
                                                                       alice.public])
    api.post(f"{g.base}/grants", json={"epoch": 1, "grants": [b64encode(x.encode())
                                                              for x in grants]},
             token=g.token(g.owner))
    api.put(f"{g.base}/blobs/{b64encode(bytes(16))}", data=b"\x00" * 64,
            content_type="application/octet-stream", token=g.token(alice),
            query={"post_id": b64encode(bytes(16))})
    dump = bytearray()
    with api.app.app_context():
        for table in ALL_TABLES:
            for row in db.session.execute(sa.text(f"SELECT * FROM {table}")):
                for value in row:
                    dump += bytes(value) if isinstance(value, (bytes, memoryview)) \
                        else str(value).encode()
        url = db.engine.url
        db.session.remove()
        db.engine.dispose()
    if backend == "sqlite":
        assert url.database
        for path in Path(url.database).parent.glob("relay.db*"):
            dump += path.read_bytes()
    for canary in CANARIES:
        for form in _forms(canary):
            assert form not in dump, form
    assert link  # the invite secret itself never reaches the relay
    for form in _forms(link.secret):
        assert form not in dump
