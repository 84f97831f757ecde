"""A small route registry: one decorator declares a route's method, auth, bounds and
pydantic models; it validates the request with them and the OpenAPI document is built
from the same declarations (so the document cannot drift from the routes).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from flask import Blueprint, Response, jsonify, request
from pydantic import BaseModel, ValidationError
from werkzeug.exceptions import RequestEntityTooLarge

from vault.api.authn import SESSION_AND_COUNTER, bearer_token_hash, require_session
from vault.api.db import autocommit_request
from vault.api.ratelimit import check_rate
from vault.api.services import services
from vault.api.util import now_ms
from vault.crypto import errors as E

# none: public. member / member_or_invite: a session is required, and checked before any
# input is parsed (member_or_invite: the log read, open to invite sessions and, up to their
# removal, to former members; and an invite's card, open to that invite's session).
# member_or_join: POST /log, where a JOIN entry carries its own invite proof and needs no
# session (the handler authenticates every other entry).
# member_waiting: the long-poll: as member, except that a session holding a pass of this
# process (vault/api/passes.py) is not read here: the handler reads it only if it must.
AuthKind = Literal["none", "member", "member_or_invite", "member_or_join", "member_waiting"]
SESSION_REQUIRED = ("member", "member_or_invite")
RAW = "raw"  # marker: the body is application/octet-stream


@dataclass
class RouteSpec:
    rule: str
    method: str
    endpoint: str
    summary: str
    tag: str
    auth: AuthKind
    body: type[BaseModel] | str | None
    query: type[BaseModel] | None
    responses: dict[int, type[BaseModel] | str]
    max_body: int
    rate: str
    autocommit: bool = False
    path_params: list[str] = field(default_factory=list)


REGISTRY: list[RouteSpec] = []
DEFAULT_MAX_BODY = 256 * 1024


@dataclass
class Call:
    """What a handler receives besides its path parameters."""

    body: Any = None
    query: Any = None
    raw: bytes = b""


def _validation_message(error: ValidationError) -> str:
    parts = []
    for item in error.errors(include_input=False, include_url=False)[:3]:
        if item["type"] == "extra_forbidden":  # never echo a name the client made up
            parts.append("unexpected field (not part of this endpoint's schema)")
            continue
        where = ".".join(str(p) for p in item["loc"]) or "body"
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)[:300]


def read_body() -> bytes:
    """The whole request body: never one cut short, never one over the endpoint's limit.

    Servers such as gunicorn mark their input as terminated, so werkzeug returns whatever
    arrived when a client disconnects half-way through its body, and stops reading a chunked
    body at the limit without a word. Either would be taken for a whole body (and a blob
    stored truncated), so both are checked here.
    """
    data = request.get_data(cache=False)
    declared = request.content_length
    if declared is not None:
        if len(data) != declared:
            raise E.InvalidRequestError(
                "the request body ended before its declared length (the connection was cut); "
                "send it again")
    elif request.environ["wsgi.input"].read(1):  # more than the limit, chunked
        raise RequestEntityTooLarge()
    return data


def _parse_json(spec: RouteSpec) -> Any:
    mimetype = request.mimetype
    if mimetype != "application/json":
        raise E.UnsupportedMediaTypeError("send the body as application/json")
    data = read_body()
    try:
        # Numbers with a fraction part or exponent are read exactly (see schemas.BodyInt).
        document = json.loads(data, parse_float=Decimal)
    except (ValueError, RecursionError):
        raise E.InvalidJsonError("the body is not valid JSON") from None
    if not isinstance(document, dict):
        raise E.InvalidRequestError("the body must be a JSON object")
    assert isinstance(spec.body, type)
    try:
        return spec.body.model_validate(document)
    except ValidationError as error:
        raise E.InvalidRequestError(_validation_message(error)) from None


def _parse_query(spec: RouteSpec) -> Any:
    if spec.query is None:
        if request.args:
            raise E.InvalidRequestError("this endpoint takes no query parameters")
        return None
    try:
        return spec.query.model_validate(request.args.to_dict(flat=True))
    except ValidationError as error:
        raise E.InvalidRequestError(_validation_message(error)) from None


def api_route(
    bp: Blueprint,
    rule: str,
    method: str,
    *,
    summary: str,
    responses: dict[int, type[BaseModel] | str],
    auth: AuthKind = "member",
    body: type[BaseModel] | str | None = None,
    query: type[BaseModel] | None = None,
    max_body: int = DEFAULT_MAX_BODY,
    rate: str = "default",
    autocommit: bool = False,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare a route. *autocommit*: the handler writes, if at all, in single statements
    (atomic by themselves), so on PostgreSQL it runs in autocommit mode like every GET."""
    def decorate(handler: Callable[..., Any]) -> Callable[..., Any]:
        spec = RouteSpec(
            rule=(bp.url_prefix or "") + rule,
            method=method,
            endpoint=f"{bp.name}.{handler.__name__}",
            summary=summary,
            tag=bp.name,
            auth=auth,
            body=body,
            query=query,
            responses=responses,
            max_body=max_body,
            rate=rate,
            autocommit=autocommit or method == "GET",
            path_params=re.findall(r"<(?:\w+:)?(\w+)>", rule),
        )
        REGISTRY.append(spec)

        @functools.wraps(handler)
        def view(**kwargs: Any) -> Any:
            check_rate(spec.rate)
            # (a session holding a pass: the handler reads only if it must)
            on_pass = spec.auth == "member_waiting" and services().passes.live(
                bearer_token_hash(), now_ms())
            if spec.autocommit and spec.auth != "none" and not on_pass:
                autocommit_request()
            if spec.auth == "member_waiting" and not on_pass:
                require_session(SESSION_AND_COUNTER)  # (the pass is issued from it)
            elif spec.auth in SESSION_REQUIRED:
                require_session()
            limit = spec.max_body
            if spec.body == RAW:
                limit = services().settings.max_blob_bytes
            request.max_content_length = limit
            call = Call(query=_parse_query(spec))
            if spec.body == RAW:
                if request.mimetype != "application/octet-stream":
                    raise E.UnsupportedMediaTypeError("send the body as application/octet-stream")
                call.raw = read_body()
            elif spec.body is not None:
                call.body = _parse_json(spec)
            elif request.content_length:
                raise E.InvalidRequestError("this endpoint takes no request body")
            result = handler(call, **kwargs)
            if isinstance(result, Response):
                return result
            body, status = result
            # A response model, or (on hot paths) a plain dict already in the model's shape.
            response = jsonify(body if isinstance(body, dict) else body.model_dump(mode="json"))
            response.status_code = status
            return response

        bp.add_url_rule(rule, endpoint=handler.__name__, view_func=view, methods=[method])
        return view

    return decorate
