"""The OpenAPI 3.1 document, generated from the route registry and the pydantic models."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

import vault
from vault.api import schemas
from vault.api.registry import RAW, REGISTRY, RouteSpec

REF = "#/components/schemas/{model}"
ERROR_STATUSES = {
    "400": "Malformed or invalid request (invalid_json, invalid_request, malformed, ...)",
    "401": "No valid session (unauthenticated, session_expired, challenge_expired)",
    "403": "Not allowed (forbidden, not_a_member)",
    "404": "Not found",
    "409": "Conflict (log_conflict, post_conflict, blob_conflict, grant_conflict, "
           "epoch_stale, invite_exhausted, ...)",
    "413": "Body too large (payload_too_large)",
    "415": "Wrong content type (unsupported_media_type)",
    "422": "Well-formed but refused by the protocol rules (log_*, invite_*, post_*, grant_*, "
           "join_request_stale)",
    "429": "Rate limited (rate_limited)",
}
PATH_PARAMS = {  # name: (description, size in bytes)
    "gid": ("group id: 32 bytes, unpadded base64url", 32),
    "post_id": ("post id: 16 bytes, unpadded base64url", 16),
    "blob_id": ("blob id: 16 bytes, unpadded base64url", 16),
    "joiner": ("joiner's signing key: 32 bytes, unpadded base64url", 32),
    "iid": ("invite id: 16 bytes, unpadded base64url", 16),
    "item": ("inbox item id: 16 bytes, unpadded base64url", 16),
}


def _path(rule: str) -> str:
    return re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule)


def _models() -> list[type[BaseModel]]:
    found: list[type[BaseModel]] = [schemas.ErrorResponse]
    for spec in REGISTRY:
        for model in (spec.body, spec.query, *spec.responses.values()):
            if isinstance(model, type) and model not in found:
                found.append(model)
    return found


def _query_parameters(model: type[BaseModel], defs: dict[str, Any]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template=REF, by_alias=True)
    params = []
    for name, prop in schema.get("properties", {}).items():
        params.append({
            "name": name,
            "in": "query",
            "required": name in schema.get("required", []),
            "schema": prop,
        })
    defs.update(schema.get("$defs", {}))
    return params


def _operation(spec: RouteSpec, defs: dict[str, Any]) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": spec.endpoint.replace(".", "_"),
        "summary": spec.summary,
        "tags": [spec.tag],
    }
    params: list[dict[str, Any]] = []
    for name in spec.path_params:
        description, size = PATH_PARAMS[name]
        length = schemas.b64_chars(size)
        params.append({
            "name": name, "in": "path", "required": True, "description": description,
            "schema": {"type": "string", "pattern": schemas.b64_pattern(size),
                       "minLength": length, "maxLength": length},
        })
    if spec.query is not None:
        params.extend(_query_parameters(spec.query, defs))
    if params:
        op["parameters"] = params
    if spec.body == RAW:
        op["requestBody"] = {"required": True, "content": {
            "application/octet-stream": {"schema": {
                "type": "string", "contentMediaType": "application/octet-stream", "minLength": 1,
                "description": "not empty; at most the relay's VAULT_MAX_BLOB_BYTES (else 413)",
            }}
        }}
    elif isinstance(spec.body, type):
        op["requestBody"] = {"required": True, "content": {
            "application/json": {"schema": {"$ref": REF.format(model=spec.body.__name__)}}
        }}
    if spec.auth in ("member", "member_waiting"):
        op["security"] = [{"session": []}]
    elif spec.auth == "member_or_invite":
        op["security"] = [{"session": []}]
        op["description"] = ("A member session, or a joiner's invite session (refused once the "
                             "invite is revoked, expired or used up). " + (
                                 "A former member's session reads only up to the entry that "
                                 "ended its membership." if spec.rule.endswith("/log") else
                                 "A former member's session is refused (not_a_member); an "
                                 "invite session reads only its own invite's card."))
    elif spec.auth == "member_or_join":
        op["security"] = [{"session": []}, {}]
        op["description"] = ("A member session (the entry's author), except for a JOIN entry, "
                             "which carries its own invite proof and needs none.")
    else:
        op["security"] = []
    responses: dict[str, Any] = {}
    for status, model in sorted(spec.responses.items()):
        if model == "binary":
            content: dict[str, Any] = {"application/octet-stream": {"schema": {
                "type": "string", "contentMediaType": "application/octet-stream"}}}
        elif model == "event-stream":
            # The schema of one event (as OpenAPI 3.2's itemSchema; schemathesis reads it so).
            content = {"text/event-stream": {"schema": {
                "type": "object",
                "description": "one server-sent event per batch: `id` its cursor (send it back "
                               "as Last-Event-ID), `data` an EventsResponse as one line of "
                               "JSON; or, before an end caused by an error, `event: error` "
                               "with an ErrorResponse. Comment lines (`: heartbeat`) carry "
                               "nothing.",
                "properties": {
                    "id": {"type": "string", "pattern": schemas.CURSOR_PATTERN},
                    "event": {"type": "string", "enum": ["message", "error"]},
                    "data": {"type": "string", "contentMediaType": "application/json"},
                },
                "required": ["data"],
            }}}
        elif model == "json":
            content = {"application/json": {"schema": {"type": "object"}}}
        else:
            assert isinstance(model, type)
            content = {"application/json": {"schema": {"$ref": REF.format(model=model.__name__)}}}
        responses[str(status)] = {"description": "OK" if status == 200 else "Created",
                                  "content": content}
    error = {"application/json": {"schema": {"$ref": REF.format(model="ErrorResponse")}}}
    for error_status, description in ERROR_STATUSES.items():
        responses[error_status] = {"description": description, "content": error}
    responses["default"] = {"description": "Any other error (405, 410, 5xx)", "content": error}
    op["responses"] = responses
    return op


@lru_cache(maxsize=1)
def _build() -> dict[str, Any]:
    _keys, top = models_json_schema(
        [(m, "validation") for m in _models()], ref_template=REF
    )
    defs: dict[str, Any] = dict(top.get("$defs", {}))
    paths: dict[str, dict[str, Any]] = {}
    for spec in REGISTRY:
        paths.setdefault(_path(spec.rule), {})[spec.method.lower()] = _operation(spec, defs)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Vault relay",
            "version": vault.__version__,
            "description": (
                "Stores ciphertext and membership metadata for end-to-end encrypted groups. "
                "Binary values are unpadded base64url. Errors are "
                '{"error": {"code", "message"}} with a stable code.'
            ),
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": defs,
            "securitySchemes": {
                "session": {"type": "http", "scheme": "bearer",
                            "description": "token from POST /v1/groups/{gid}/auth/session"},
            },
        },
    }


def build_document() -> dict[str, Any]:
    return _build()
