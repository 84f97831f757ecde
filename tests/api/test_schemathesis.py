"""schemathesis against /v1/openapi.json, through the WSGI app (no network), on SQLite.

Every generated request must get a documented answer: no 5xx, a status code, content type,
headers and body the document declares for that operation; invalid input is rejected (with
413 counted as a rejection); endpoints with security answer 401 without a valid session
(schemathesis's default checks). Its positive_data_acceptance check (a schema-valid request
must succeed) cannot hold for signed and encrypted bodies; `document_and_validation_agree`
below holds the relay to what the document can promise instead.

Two passes:

* anonymous: everything generated, so most requests stop at validation, 401 or 404;
* as a member: a hook puts a real group id (and sometimes a real post id) in the path and
  the owner's session token in the header, so member endpoints run past authentication
  into their handlers and return real pages, logs, grants, blobs and events.

Bounded: a few examples per operation, long-polls capped at ``timeout=0``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis import Config

from tests.api.conftest import make_app
from tests.api.helpers import Api, FakeClock, RelayGroup, RelayLogFactory, real_invite
from tests.crypto.logfactory import T0
from vault.api.db import db
from vault.api.models import SessionRow
from vault.crypto.auth import AuthSubject, session_token_hash
from vault.crypto.encoding import b64encode

# Property fuzzing with many examples (`make test-fast` leaves it out; `make test` runs this
# file in a pytest run of its own, so the evidence test at the end always follows the passes).
pytestmark = pytest.mark.slow

# Examples per operation and pass. Deterministic by default (derandomized, so CI sees the
# same cases every run); VAULT_SCHEMATHESIS_EXAMPLES=500 VAULT_SCHEMATHESIS_RANDOM=1 hunts wider.
MAX_EXAMPLES = int(os.environ.get("VAULT_SCHEMATHESIS_EXAMPLES", "40"))
DERANDOMIZE = os.environ.get("VAULT_SCHEMATHESIS_RANDOM", "") != "1"
# schemathesis builds part of its cases (the coverage phase) while collecting, before any
# fixture runs, so what the member pass injects is fixed in advance: the seeded group is
# deterministic (seeded factory, fixed clock), its post ids are chosen, and the owner's
# session token is a constant the seeding stores (hashed) like any session.
CLOCK_MS = T0 + 3_600_000
SEED = "schemathesis"
GID = b64encode(RelayLogFactory(SEED, lambda: CLOCK_MS).group_id)
POST_IDS = [bytes([i]) * 16 for i in range(1, 6)]
TOKEN = bytes(range(32))


class Seeded:
    """A relay with one group (owner, members, an invite, posts) and the owner's session."""

    def __init__(self, tmp: Path) -> None:
        clock = FakeClock(CLOCK_MS)
        self.app: Flask = make_app(f"sqlite:///{tmp / 'relay.db'}", clock,
                                   VAULT_AUTO_MIGRATE="1", VAULT_MAX_BLOB_BYTES=64 * 1024,
                                   VAULT_EVENTS_STREAM_S=0)  # event streams end at once
        g = RelayGroup(Api(self.app), seed=SEED)
        assert g.gid == GID
        g.f.add_members(2)
        g.sync()
        real_invite(g)
        for i, pid in enumerate(POST_IDS):
            assert g.put_post(g.owner, text=f"post {i}", post_id=pid)[1].status_code == 201
        with self.app.app_context():
            db.session.add(SessionRow(token_hash=session_token_hash(TOKEN),
                                      group_id=g.f.group_id, kind=int(AuthSubject.MEMBER),
                                      subject=g.owner.sign_pk,
                                      expires_at_ms=CLOCK_MS + 86_400_000))
            db.session.commit()
            db.session.remove()


@pytest.fixture(scope="module")
def relay(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    seeded = Seeded(tmp_path_factory.mktemp("schemathesis"))
    served = seeded.app.test_client().get("/v1/openapi.json")
    assert served.status_code == 200 and served.get_json() == _document()
    CURRENT.app = seeded.app
    yield seeded
    CURRENT.app = None
    with seeded.app.app_context():
        db.session.remove()
        db.engine.dispose()


def _document() -> dict[str, Any]:
    """The document every relay serves at /v1/openapi.json (the fixture checks it is)."""
    from vault.api.blueprints import (  # noqa: F401  (the routes fill the registry)
        auth,
        blobs,
        events,
        grants,
        groups,
        health,
        inbox,
        invites,
        posts,
    )
    from vault.api.openapi import build_document

    return build_document()


class CurrentRelay:
    """A WSGI app that forwards to the seeded relay of this module (set by the fixture)."""

    app: Flask | None = None

    def __call__(self, environ: Any, start_response: Any) -> Any:
        assert self.app is not None, "the relay fixture is not active"
        return self.app.wsgi_app(environ, start_response)


# The schemas are built at import (schemathesis's lazy `from_fixture` loader does not work
# with pytest 9, and its coverage phase builds cases while collecting); their requests go
# through CURRENT to the fixture's app, in process.
CURRENT = CurrentRelay()
CONFIG = {"checks": {
    # replaced by document_and_validation_agree (below)
    "positive_data_acceptance": {"enabled": False},
    # schemathesis's default list of rejection statuses lacks 413, which the relay (and its
    # document) use for an oversized body: a rejection like any other 4xx.
    "negative_data_rejection": {"expected-statuses": [400, 401, 403, 404, 405, 406, 409, 413,
                                                      415, 422, 428, 429]},
}}
anonymous = schemathesis.openapi.from_dict(_document(), config=Config.from_dict(CONFIG))
member = schemathesis.openapi.from_dict(_document(), config=Config.from_dict(CONFIG))
for _schema in (anonymous, member):
    _schema.app = CURRENT
    _schema.location = "/v1/openapi.json"


@member.hook
def flatmap_path_parameters(ctx: Any, path_parameters: dict[str, Any]) -> Any:
    params = dict(path_parameters or {})
    if "gid" in params:
        params["gid"] = GID
    if "post_id" in params:
        return st.sampled_from([params, *({**params, "post_id": b64encode(p)}
                                          for p in POST_IDS)])
    return st.just(params)


@member.auth()
class OwnerSession:
    """The owner's session token (schemathesis also replays requests without it and with a
    wrong one, and expects a 401 for those)."""

    def get(self, case: Any, ctx: Any) -> str:
        return b64encode(TOKEN)

    def set(self, case: Any, data: str, ctx: Any) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


def _waits(value: Any) -> bool:
    if value is None:
        return True  # the default timeout is 25 s
    try:
        return 0 < int(value) <= 30
    except (TypeError, ValueError):
        return False


@member.hook
def map_query(ctx: Any, query: dict[str, Any] | None) -> dict[str, Any] | None:
    """Long-polls answer at once (a valid timeout becomes 0; invalid ones stay, to be
    refused)."""
    if (ctx.operation is not None and ctx.operation.path.endswith("/events")
            and _waits((query or {}).get("timeout"))):
        return {**(query or {}), "timeout": 0}
    return query


BOUNDED = settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=DERANDOMIZE,
                   database=None, suppress_health_check=list(HealthCheck))

# Refusals that only the relay's own validation layer makes (the document is generated from
# the same models, so a request the document allows must never get one of these), and the one
# cross-field rule an OpenAPI document has no way to state.
SCHEMA_LAYER_CODES = {"invalid_request", "invalid_json", "unsupported_media_type",
                      "payload_too_large"}
CROSS_FIELD_RULES = {("GET", "/v1/groups/{gid}/posts"): lambda q: {"after", "newest"} <= set(q)}


def document_and_validation_agree(ctx: Any, response: Any, case: Any) -> bool | None:
    """Replaces schemathesis's positive_data_acceptance (ST202), which expects a schema-valid
    request to succeed: here most bodies are signed or encrypted objects, and random bytes of
    the right shape are rightly refused as `malformed` (or `bad_signature`, `log_*`...). What
    the document does promise: schema-valid text is never refused by the schema layer, and
    never as bad base64url (the document's pattern admits exactly canonical base64url)."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or response.status_code < 400:
        return None
    try:
        error = response.json()["error"]
    except (ValueError, KeyError, TypeError):
        return None  # the schema conformance checks report a body that is not an error
    rule = CROSS_FIELD_RULES.get((case.method.upper(), case.path))
    if rule is not None and rule(case.query or {}):
        return None
    if error["code"] in SCHEMA_LAYER_CODES or (
        error["code"] == "malformed" and "base64url" in error["message"]
    ):
        raise AssertionError(
            f"a request the document allows was refused by validation: {response.status_code} "
            f"{error['code']}: {error['message']}"
        )
    return None


SEEN: dict[str, set[int]] = {}


def _check(case: Any) -> None:
    response = case.call_and_validate(additional_checks=[document_and_validation_agree])
    SEEN.setdefault(f"{case.method.upper()} {case.path}", set()).add(response.status_code)


@anonymous.parametrize()
@BOUNDED
def test_anonymous_requests_conform(case: Any, relay: Seeded) -> None:
    _check(case)


@member.parametrize()
@BOUNDED
def test_member_requests_conform(case: Any, relay: Seeded) -> None:
    _check(case)


def test_the_member_pass_got_past_authentication() -> None:
    """Evidence that the passes above reached the handlers (runs after them)."""
    if not SEEN:
        pytest.skip("run together with the schemathesis passes")
    base = "/v1/groups/{gid}"
    for route in ("GET /log", "GET /posts", "GET /grants", "GET /events", "GET /join-requests",
                  "DELETE /posts/{post_id}"):
        method, path = route.split(" ")
        assert 200 in SEEN.get(f"{method} {base}{path}", set()), (route, SEEN)
    assert SEEN.get(f"PUT {base}/blobs/{{blob_id}}", set()) & {200, 201}, SEEN

