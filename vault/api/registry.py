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
from typing import Any, Literal

from flask import Blueprint, Response, current_app, jsonify, request
from pydantic import BaseModel, ValidationError

from vault.api.ratelimit import check_rate
from vault.crypto import errors as E

AuthKind = Literal["none", "member", "member_or_invite"]
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


def _parse_json(spec: RouteSpec) -> Any:
    mimetype = request.mimetype
    if mimetype != "application/json":
        raise E.UnsupportedMediaTypeError("send the body as application/json")
    data = request.get_data(cache=False)
    try:
        document = json.loads(data)
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
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
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
            path_params=re.findall(r"<(?:\w+:)?(\w+)>", rule),
        )
        REGISTRY.append(spec)

        @functools.wraps(handler)
        def view(**kwargs: Any) -> Any:
            check_rate(spec.rate)
            limit = spec.max_body
            if spec.body == RAW:
                limit = int(current_app.config["VAULT_MAX_BLOB_BYTES"])
            request.max_content_length = limit
            call = Call(query=_parse_query(spec))
            if spec.body == RAW:
                if request.mimetype != "application/octet-stream":
                    raise E.UnsupportedMediaTypeError("send the body as application/octet-stream")
                call.raw = request.get_data(cache=False)
            elif spec.body is not None:
                call.body = _parse_json(spec)
            elif request.content_length:
                raise E.InvalidRequestError("this endpoint takes no request body")
            result = handler(call, **kwargs)
            if isinstance(result, Response):
                return result
            model, status = result
            response = jsonify(model.model_dump(mode="json"))
            response.status_code = status
            return response

        bp.add_url_rule(rule, endpoint=handler.__name__, view_func=view, methods=[method])
        return view

    return decorate
