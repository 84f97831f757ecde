"""Encrypted attachments: each names its post, and goes with it (deletion, expiry, or as an
orphan when its post never came)."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask
from werkzeug.test import TestResponse

from tests.api.conftest import make_app, row_counts
from tests.api.helpers import Api, FakeClock, RelayGroup, code
from vault.api.db import db
from vault.api.models import BlobRow
from vault.api.purge import ORPHAN_BLOB_GRACE_MS, purge_expired
from vault.crypto.attachments import encrypt_attachment
from vault.crypto.encoding import b64encode
from vault.crypto.identity import Identity
from vault.crypto.limits import MAX_ATTACHMENT_SIZE, MAX_BLOB_SIZE

OCTETS = "application/octet-stream"
POST = b64encode(b"p" * 16)  # the post the blobs of these tests belong to


def put_blob(g: RelayGroup, who: Identity, blob_id: bytes, data: bytes,
             post_id: str = POST) -> TestResponse:
    return g.api.put(f"{g.base}/blobs/{b64encode(blob_id)}", data=data, content_type=OCTETS,
                     token=g.token(who), query={"post_id": post_id})


def test_put_get_idempotent_conflict(api: Api) -> None:
    g = RelayGroup(api)
    alice = g.f.add_member()
    g.sync()
    path = f"{g.base}/blobs/{b64encode(b'b' * 16)}"
    data = bytes(range(256)) * 100
    query = {"post_id": POST}
    first = api.put(path, data=data, content_type=OCTETS, token=g.token(alice), query=query)
    assert first.status_code == 201 and first.get_json()["size"] == len(data)
    assert api.put(path, data=data, content_type=OCTETS, token=g.token(alice),
                   query=query).status_code == 200
    response = api.put(path, data=data + b"x", content_type=OCTETS, token=g.token(alice),
                       query=query)
    assert response.status_code == 409 and code(response) == "blob_conflict"
    # the same bytes for another post: the blob would go with the first one
    response = api.put(path, data=data, content_type=OCTETS, token=g.token(alice),
                       query={"post_id": b64encode(b"q" * 16)})
    assert response.status_code == 409 and code(response) == "blob_conflict"
    got = api.get(path, token=g.token(g.owner))
    assert got.status_code == 200 and got.data == data and got.mimetype == OCTETS
    missing = api.get(f"{g.base}/blobs/{b64encode(bytes(16))}", token=g.token(alice))
    assert missing.status_code == 404 and code(missing) == "not_found"


def test_limits_and_types(database_url: str, clock: FakeClock) -> None:
    app = make_app(database_url, clock, VAULT_MAX_BLOB_BYTES=1000)
    api = Api(app)
    g = RelayGroup(api)
    token = g.token(g.owner)
    path = f"{g.base}/blobs/{b64encode(b'c' * 16)}"
    query = {"post_id": POST}
    before = row_counts(app)
    cases = [
        (dict(data=b"x" * 1001, content_type=OCTETS, token=token), 413, "payload_too_large"),
        (dict(data=b"", content_type=OCTETS, token=token), 400, "invalid_request"),
        (dict(data=b"xx", content_type="text/plain", token=token), 415,
         "unsupported_media_type"),
        (dict(data=b"xx", content_type=OCTETS), 401, "unauthenticated"),
    ]
    for kwargs, status, expected in cases:
        response = api.put(path, query=query, **kwargs)
        assert (response.status_code, code(response)) == (status, expected)
    bad = api.put(f"{g.base}/blobs/short", data=b"xx", content_type=OCTETS, token=token,
                  query=query)
    assert bad.status_code == 400 and code(bad) == "malformed"
    assert row_counts(app) == before
    assert api.put(path, data=b"x" * 1000, content_type=OCTETS, token=token,
                   query=query).status_code == 201


def test_an_upload_must_name_its_post(api: Api) -> None:
    """?post_id= is required: 16 bytes, canonical unpadded base64url."""
    g = RelayGroup(api)
    path = f"{g.base}/blobs/{b64encode(b'd' * 16)}"
    token = g.token(g.owner)
    before = row_counts(api.app)
    for query in ({}, {"post_id": ""}, {"post_id": b64encode(bytes(15))},
                  {"post_id": b64encode(bytes(17))}, {"post_id": "!" * 22},
                  {"post_id": POST[:-1] + "B"}, {"post_id": POST, "other": "1"}):
        response = api.put(path, data=b"xx", content_type=OCTETS, token=token, query=query)
        assert response.status_code == 400 and code(response) == "invalid_request", query
    assert row_counts(api.app) == before
    assert put_blob(g, g.owner, b"d" * 16, b"xx").status_code == 201


def test_the_largest_attachment_a_client_can_make_is_accepted(api: Api) -> None:
    g = RelayGroup(api)
    alice = g.f.add_member()
    g.sync()
    _key, _digest, blob = encrypt_attachment(b"\x00" * MAX_ATTACHMENT_SIZE)
    response = put_blob(g, alice, b"m" * 16, blob)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["size"] == len(blob) == MAX_BLOB_SIZE


def _blob_ids(app: Flask) -> set[bytes]:
    with app.app_context():
        ids = set(db.session.scalars(sa.select(BlobRow.blob_id)))
        db.session.remove()
    return ids


def test_deleting_a_post_deletes_its_blobs(api: Api) -> None:
    g = RelayGroup(api)
    alice, bob = g.f.add_members(2)
    g.sync()
    pid, response = g.put_post(alice)
    other, _ = g.put_post(bob)
    assert response.status_code == 201
    for blob_id, post in ((b"a" * 16, pid), (b"b" * 16, pid), (b"c" * 16, other)):
        assert put_blob(g, alice, blob_id, b"\x01" * 100, post).status_code == 201
    assert api.delete(f"{g.base}/posts/{pid}", token=g.token(alice)).status_code == 200
    assert _blob_ids(api.app) == {b"c" * 16}
    for blob_id in (b"a" * 16, b"b" * 16):
        response = api.get(f"{g.base}/blobs/{b64encode(blob_id)}", token=g.token(bob))
        assert response.status_code == 404 and code(response) == "not_found"
    assert api.get(f"{g.base}/blobs/{b64encode(b'c' * 16)}",
                   token=g.token(bob)).status_code == 200
    # deleting again (already a tombstone) is answered, and touches nothing else
    assert api.delete(f"{g.base}/posts/{pid}", token=g.token(alice)).status_code == 200
    assert _blob_ids(api.app) == {b"c" * 16}


def test_purge_deletes_the_blobs_of_expired_posts_and_orphans(api: Api,
                                                              clock: FakeClock) -> None:
    g = RelayGroup(api)
    alice = g.f.add_member()
    g.sync()
    short, _ = g.put_post(alice, expires_at_ms=clock.now + 10_000)
    keep, _ = g.put_post(alice)
    gone, _ = g.put_post(alice)
    assert api.delete(f"{g.base}/posts/{gone}", token=g.token(alice)).status_code == 200
    never = b64encode(b"n" * 16)  # its post is never uploaded
    blobs = {b"1" * 16: short, b"2" * 16: short, b"3" * 16: keep, b"4" * 16: never,
             b"5" * 16: gone}  # (uploaded after its post was deleted)
    for blob_id, post in blobs.items():
        assert put_blob(g, alice, blob_id, blob_id * 4, post).status_code == 201
    other = RelayGroup(api, seed="other-group")  # a post id stored in another group only
    assert put_blob(other, other.owner, b"6" * 16, b"x", keep).status_code == 201

    clock.advance(10_001)  # the short post expired: its blobs go with it
    with api.app.app_context():
        counts = purge_expired(clock.now)
    assert counts["posts"] == 1 and counts["blobs"] == 2
    assert _blob_ids(api.app) == {b"3" * 16, b"4" * 16, b"5" * 16, b"6" * 16}

    clock.advance(ORPHAN_BLOB_GRACE_MS - 10_002)  # not yet 24 h since the uploads
    with api.app.app_context():
        assert purge_expired(clock.now)["blobs"] == 0
    clock.advance(1)  # 24 h: blobs of no (live) post are orphans
    with api.app.app_context():
        counts = purge_expired(clock.now)
    assert counts["blobs"] == 3
    assert _blob_ids(api.app) == {b"3" * 16}
    g.tokens.clear()
    got = api.get(f"{g.base}/blobs/{b64encode(b'3' * 16)}", token=g.token(alice))
    assert got.status_code == 200 and got.data == b"3" * 64


def test_a_blob_sent_again_starts_its_grace_again_and_names_its_post(
        api: Api, clock: FakeClock) -> None:
    """A device re-sends a post's blobs right before the post (its outbox waited longer
    than a day): the orphan purge counts its 24 hours from the last upload, and a blob
    stored before blobs named their post takes the post it is sent with."""
    from vault.api.models import LEGACY_POST_ID

    g = RelayGroup(api)
    alice = g.f.add_member()
    g.sync()
    waiting = b64encode(b"w" * 16)  # its post is uploaded only after the purge
    assert put_blob(g, alice, b"7" * 16, b"7" * 64, waiting).status_code == 201
    clock.advance(ORPHAN_BLOB_GRACE_MS - 1)
    g.tokens.clear()  # (sessions last an hour)
    assert put_blob(g, alice, b"7" * 16, b"7" * 64, waiting).status_code == 200
    clock.advance(2)
    with api.app.app_context():
        assert purge_expired(clock.now)["blobs"] == 0
    assert _blob_ids(api.app) == {b"7" * 16}

    with api.app.app_context():  # a blob from before migration 0002
        db.session.execute(sa.update(BlobRow).values(post_id=LEGACY_POST_ID))
        db.session.commit()
    post, _ = g.put_post(alice)
    assert put_blob(g, alice, b"7" * 16, b"7" * 64, post).status_code == 200
    assert api.delete(f"{g.base}/posts/{post}", token=g.token(alice)).status_code == 200
    assert _blob_ids(api.app) == set()
