"""GET /v1/health and GET /v1/openapi.json."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify
from sqlalchemy import text

import vault
from vault.api.db import db
from vault.api.registry import Call, api_route
from vault.api.schemas import HealthResponse

bp = Blueprint("health", __name__, url_prefix="/v1")


@api_route(bp, "/health", "GET", auth="none", summary="Liveness and database check",
           responses={200: HealthResponse})
def health(call: Call) -> Any:
    db.session.execute(text("SELECT 1"))
    return HealthResponse(status="ok", database="ok", version=vault.__version__), 200


@api_route(bp, "/openapi.json", "GET", auth="none", summary="This API's OpenAPI 3.1 document",
           responses={200: "json"})
def openapi(call: Call) -> Any:
    from vault.api.openapi import build_document

    return jsonify(build_document())
