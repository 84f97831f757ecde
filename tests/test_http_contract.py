"""One HTTP contract: the relay's response schemas (its OpenAPI document) and the SDK's
response checks (vault_client/_internal/transport.py) describe the same JSON.

The SDK may not import the relay, so the two are held together here. Every transport call is
answered by a fake relay with instances generated from the relay's document, and then with
each required field removed and each given a value of the wrong type:

* a valid instance must be accepted (a field renamed, retyped or added on one side fails);
* a required field the SDK reads must be refused when missing or mistyped, and one that may
  be null is read as null when absent;
* a required field the SDK does not read is listed in ``IGNORED`` (and is checked to be
  ignored), so that every field of every answer is accounted for;
* every operation of the document is one the SDK calls, or is listed in ``NOT_CALLED``.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from vault_client._internal.transport import MemberAuth, Transport
from vault_client.errors import RelayUnreachableError

from vault.crypto.encoding import b64encode
from vault.crypto.errors import MalformedError, NotAMemberError, RelayError, VaultError
from vault.crypto.identity import Identity

Json = Any
GROUP = bytes(range(32))
# Required fields the SDK does not read, by operation and field path ("[]": every item).
IGNORED: dict[str, set[str]] = {
    "auth_challenge": {"expires_at_ms"},
    "auth_session": {"expires_at_ms"},
    "health_health": {"status", "database", "version"},
    "groups_create_group": {"group_id", "head_seq"},
    "groups_append_entry": {"seq", "head", "cursor"},
    "groups_read_deletion": {"seq"},
    "invites_submit": {"joiner", "invite_id"},
    "invites_deny": {"joiner", "invite_id", "status"},
    "invites_put_card": {"invite_id", "card"},
    "invites_get_card": {"invite_id"},
    "grants_upload": {"epoch", "stored"},
    "posts_put_post": {"post_id"},
    "posts_list_posts": {"posts[].created_at_ms"},
    "posts_delete_post": {"post_id", "cursor", "deleted"},
    "events_events": {"events[].cursor"} | {f"events[].post.{name}" for name in (
        "cursor", "envelope", "deleted", "created_at_ms", "expires_at_ms")},
    "blobs_put_blob": {"blob_id", "size"},
    "inbox_put_item": {"item_id"},
    "inbox_list_items": {"items[].sender", "items[].created_at_ms"},
}
NOT_CALLED = {"health_openapi", "events_stream"}  # operations no SDK call makes
CALLS: dict[str, Callable[[Transport, MemberAuth], object]] = {
    "health": lambda t, a: t.health(),
    "session": lambda t, a: t.session_for(a, fresh=True),
    "create_group": lambda t, a: t.create_group(b"genesis"),
    "read_log": lambda t, a: t.read_log(a, 0),
    "deletion": lambda t, a: t.deletion(GROUP),
    "append": lambda t, a: t.append(a, GROUP, b"entry"),
    "submit_join_request": lambda t, a: t.submit_join_request(GROUP, b"request"),
    "join_requests": lambda t, a: t.join_requests(a),
    "deny": lambda t, a: t.deny(a, bytes(32)),
    "put_card": lambda t, a: t.put_card(a, bytes(16), b"card"),
    "card": lambda t, a: t.card(a, bytes(16)),
    "upload_grants": lambda t, a: t.upload_grants(a, 1, [b"grant"]),
    "grants": lambda t, a: t.grants(a),
    "put_post": lambda t, a: t.put_post(a, bytes(16), b"envelope"),
    "posts": lambda t, a: t.posts(a, None),
    "delete_post": lambda t, a: t.delete_post(a, bytes(16)),
    "events": lambda t, a: t.events(a, "0", 0),
    "put_blob": lambda t, a: t.put_blob(a, bytes(16), b"blob", bytes(16)),
    "get_blob": lambda t, a: t.get_blob(a, bytes(16)),
    "put_inbox_item": lambda t, a: t.put_inbox_item(a, bytes(16), b"item"),
    "inbox": lambda t, a: t.inbox(a, None),
}
REFUSALS = (MalformedError, RelayUnreachableError)  # (put_post: "unknown whether stored")


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> Json:
    from vault.api import create_app, upgrade_database

    config = {"VAULT_DATABASE_URL": f"sqlite:///{tmp_path_factory.mktemp('contract')}/r.db",
              "VAULT_LOG_LEVEL": "WARNING"}
    upgrade_database(config)
    return create_app(config).test_client().get("/v1/openapi.json").get_json()


# --- instances from the document ---------------------------------------------------------


class Schemas:
    def __init__(self, document: Json) -> None:
        self.defs = document["components"]["schemas"]

    def resolve(self, schema: Json) -> Json:
        while "$ref" in schema:
            schema = self.defs[schema["$ref"].rsplit("/", 1)[1]]
        return schema

    def non_null(self, schema: Json) -> tuple[Json, bool]:
        """The schema without its null alternative, and whether null is allowed."""
        schema = self.resolve(schema)
        options = schema.get("anyOf", [schema])
        kept = [self.resolve(s) for s in options if s.get("type") != "null"]
        assert len(kept) == 1, schema
        return kept[0], len(kept) < len(options)

    def sample(self, schema: Json) -> Json:
        """A valid instance: every property present and not null, an array with one item of
        each kind its items' enum allows, booleans false (a page with no more after it)."""
        schema, _nullable = self.non_null(schema)
        kind = schema.get("type")
        if "enum" in schema:
            return schema["enum"][0]
        if kind == "object":
            return {name: self.sample(prop)
                    for name, prop in schema.get("properties", {}).items()}
        if kind == "array":
            item = self.resolve(schema["items"])
            kinds = [(name, value) for name, prop in item.get("properties", {}).items()
                     for value in self.resolve(prop).get("enum", [])]
            first = self.sample(item)
            return [first] if not kinds else [{**first, name: value} for name, value in kinds]
        if kind == "string":
            return self.text(schema)
        return {"integer": 7, "boolean": False}[kind]

    @staticmethod
    def text(schema: Json) -> str:
        """The first candidate the string schema admits: a cursor, else base64url bytes of
        the shortest length allowed."""
        size = schema.get("minLength", 4) * 3 // 4
        for candidate in ("42", b64encode(bytes(range(size)))):
            if (schema.get("minLength", 0) <= len(candidate) <= schema.get("maxLength", 1 << 30)
                    and re.fullmatch(schema.get("pattern", ".*"), candidate)):
                return candidate
        raise AssertionError(f"no sample for {schema}")

    def required_fields(self, schema: Json, prefix: str = "") -> Iterator[tuple[str, Json]]:
        """(path, schema) of every required field, recursively ("[]": every item)."""
        schema, _nullable = self.non_null(schema)
        if schema.get("type") == "array":
            yield from self.required_fields(schema["items"], f"{prefix}[]")
            return
        for name, prop in schema.get("properties", {}).items():
            path = f"{prefix}.{name}" if prefix else name
            if name in schema.get("required", []):
                yield path, prop
            yield from self.required_fields(prop, path)


def edit(instance: Json, path: str, change: Callable[[dict[str, Json], str], None]) -> Json:
    """A copy of *instance* with *change* applied to the field at *path*, in every item."""
    result = copy.deepcopy(instance)
    *parents, last = re.split(r"\.|(?=\[\])", path)

    def walk(node: Json, steps: list[str]) -> None:
        if not steps:
            if isinstance(node, dict) and last in node:
                change(node, last)
            return
        step, rest = steps[0], steps[1:]
        if step == "[]":
            for item in node:
                walk(item, rest)
        elif isinstance(node, dict) and isinstance(node.get(step), dict | list):
            walk(node[step], rest)

    if last == "[]":  # a path ending in an array's items (never required by themselves)
        return result
    walk(result, [p for p in parents if p])
    return result


def wrong_type(schema: Json, schemas: Schemas) -> Json:
    kind = schemas.non_null(schema)[0].get("type")
    return {"string": 1234, "integer": "1234", "boolean": "false", "array": {},
            "object": []}[kind]


# --- a fake relay answering from the document -----------------------------------------------


class FakeRelay:
    def __init__(self, document: Json) -> None:
        self.schemas = Schemas(document)
        self.operations: list[tuple[str, re.Pattern[str], str, Json]] = []
        for path, ops in document["paths"].items():
            pattern = re.compile(re.sub(r"\{\w+\}", "[^/]+", path))
            for method, op in ops.items():
                self.operations.append((method.upper(), pattern, op["operationId"], op))
        self.answers: dict[str, tuple[int, Json]] = {}
        self.seen: list[str] = []

    def operation(self, request: httpx.Request) -> tuple[str, Json]:
        for method, pattern, op_id, op in self.operations:
            if method == request.method and pattern.fullmatch(request.url.path):
                return op_id, op
        raise AssertionError(f"the SDK calls {request.method} {request.url.path}, "
                             "which the relay's document does not have")

    def handle(self, request: httpx.Request) -> httpx.Response:
        op_id, op = self.operation(request)
        self.seen.append(op_id)
        status, response = min((int(s), r) for s, r in op["responses"].items()
                               if s.startswith("2"))
        if "application/octet-stream" in response["content"]:
            return httpx.Response(status, content=b"bytes")
        body = self.sample(op_id)
        status, body = self.answers.get(op_id, (status, body))
        return httpx.Response(status, content=json.dumps(body).encode(),
                              headers={"Content-Type": "application/json"})

    def schema(self, op_id: str, status: str | None = None) -> Json:
        op = next(op for _m, _p, i, op in self.operations if i == op_id)
        status = status or min(s for s in op["responses"] if s.startswith("2"))
        return op["responses"][status]["content"]["application/json"]["schema"]

    def sample(self, op_id: str) -> Json:
        return self.schemas.sample(self.schema(op_id))

    def call(self, name: str) -> object:
        transport = Transport("http://relay.test", transport=httpx.MockTransport(self.handle),
                              retry_for=0.0, sleep=lambda _s: None)
        try:
            return CALLS[name](transport, MemberAuth(GROUP, IDENTITY))
        finally:
            transport.close()


IDENTITY = Identity.generate()


def _targets(relay: FakeRelay) -> dict[str, str]:
    """Each JSON operation the SDK calls -> one call that makes it (and check the rest)."""
    targets: dict[str, str] = {}
    for name in CALLS:
        relay.seen.clear()
        try:
            relay.call(name)
        except REFUSALS as error:
            raise AssertionError(f"the SDK's {name} refuses an answer the relay's document "
                                 f"allows ({relay.seen[-1]}): {error}") from None
        for op_id in relay.seen:
            targets.setdefault(op_id, name)
    return targets


def test_every_operation_is_one_the_sdk_calls(document: Json) -> None:
    relay = FakeRelay(document)
    called = set(_targets(relay))
    every = {op_id for _m, _p, op_id, _op in relay.operations}
    assert called | NOT_CALLED == every and not called & NOT_CALLED, (every - called, called)


def test_sdk_accepts_what_the_relay_declares_and_refuses_what_it_does_not(
        document: Json) -> None:
    relay = FakeRelay(document)
    problems: list[str] = []
    for op_id, name in sorted(_targets(relay).items()):
        op = next(op for _m, _p, i, op in relay.operations if i == op_id)
        statuses = [s for s in op["responses"] if s.startswith("2")]
        if "application/json" not in op["responses"][statuses[0]]["content"]:
            continue  # raw bytes (an attachment): no fields
        valid = relay.sample(op_id)
        for status in statuses:  # every success status the relay may answer
            relay.answers = {op_id: (int(status), valid)}
            relay.call(name)
        declared = dict(relay.schemas.required_fields(relay.schema(op_id)))
        stale = IGNORED.get(op_id, set()) - set(declared)
        if stale:
            problems.append(f"{op_id}: IGNORED names fields the relay does not declare: {stale}")
        for path, schema in declared.items():
            nullable = relay.schemas.non_null(schema)[1]
            ignored = path in IGNORED.get(op_id, set()) or any(
                path.startswith(f"{i}.") for i in IGNORED.get(op_id, set()))
            cases = [("missing", edit(valid, path, lambda node, key: node.pop(key)),
                      ignored or nullable)]
            if not ignored:
                bad = wrong_type(schema, relay.schemas)
                cases.append(("of the wrong type",
                              edit(valid, path, lambda node, key, v=bad: node.__setitem__(key, v)),
                              False))
            for what, body, accepted in cases:
                relay.answers = {op_id: (int(statuses[0]), body)}
                try:
                    relay.call(name)
                    outcome = True
                except REFUSALS:
                    outcome = False
                if outcome != accepted:
                    problems.append(f"{op_id}: '{path}' {what} was "
                                    f"{'accepted' if outcome else 'refused'} by the SDK")
    assert problems == [], "\n".join(problems)


def test_error_bodies_rebuild_their_class_and_unknown_codes_are_relay_errors(
        document: Json) -> None:
    schemas = Schemas(document)
    body = schemas.sample({"$ref": "#/components/schemas/ErrorResponse"})
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    relay = FakeRelay(document)
    for code, expected in (("not_a_member", NotAMemberError),
                           ("a_code_only_a_newer_relay_knows", RelayError)):
        relay.answers = {"groups_read_log": (403, {"error": {**body["error"], "code": code}})}
        with pytest.raises(VaultError) as caught:
            relay.call("read_log")
        assert type(caught.value) is expected


def test_the_contract_lives_only_here() -> None:
    """(The SDK is held to the relay by this test, not by importing it.)"""
    sdk = Path(__file__).resolve().parents[1] / "clients" / "python" / "vault_client"
    for path in sdk.rglob("*.py"):
        assert not re.search(r"^\s*(from|import) vault\.api\b", path.read_text(), re.M), path
