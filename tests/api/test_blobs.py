"""Encrypted attachments."""

from __future__ import annotations

from tests.api.conftest import make_app, row_counts
from tests.api.helpers import Api, FakeClock, RelayGroup, code
from vault.crypto.attachments import MAX_ATTACHMENT_SIZE, MAX_BLOB_SIZE, encrypt_attachment
from vault.crypto.encoding import b64encode

OCTETS = "application/octet-stream"


def test_put_get_idempotent_conflict(api: Api) -> None:
    g = RelayGroup(api)
    alice = g.f.add_member()
    g.sync()
    path = f"{g.base}/blobs/{b64encode(b'b' * 16)}"
    data = bytes(range(256)) * 100
    first = api.put(path, data=data, content_type=OCTETS, token=g.token(alice))
    assert first.status_code == 201 and first.get_json()["size"] == len(data)
    assert api.put(path, data=data, content_type=OCTETS, token=g.token(alice)).status_code == 200
    response = api.put(path, data=data + b"x", content_type=OCTETS, token=g.token(alice))
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
    before = row_counts(app)
    cases = [
        (dict(data=b"x" * 1001, content_type=OCTETS, token=token), 413, "payload_too_large"),
        (dict(data=b"", content_type=OCTETS, token=token), 400, "invalid_request"),
        (dict(data=b"xx", content_type="text/plain", token=token), 415,
         "unsupported_media_type"),
        (dict(data=b"xx", content_type=OCTETS), 401, "unauthenticated"),
    ]
    for kwargs, status, expected in cases:
        response = api.put(path, **kwargs)
        assert (response.status_code, code(response)) == (status, expected)
    bad = api.put(f"{g.base}/blobs/short", data=b"xx", content_type=OCTETS, token=token)
    assert bad.status_code == 400 and code(bad) == "malformed"
    assert row_counts(app) == before
    assert api.put(path, data=b"x" * 1000, content_type=OCTETS, token=token).status_code == 201


def test_the_largest_attachment_a_client_can_make_is_accepted(api: Api) -> None:
    g = RelayGroup(api)
    alice = g.f.add_member()
    g.sync()
    _key, _digest, blob = encrypt_attachment(b"\x00" * MAX_ATTACHMENT_SIZE)
    response = api.put(f"{g.base}/blobs/{b64encode(b'm' * 16)}", data=blob,
                       content_type=OCTETS, token=g.token(alice))
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["size"] == len(blob) == MAX_BLOB_SIZE
