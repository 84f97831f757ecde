"""The OpenAPI document and the Flask routes describe the same API."""

from __future__ import annotations

import re

from tests.api.helpers import Api


def test_routes_and_document_agree(api: Api) -> None:
    document = api.get("/v1/openapi.json").get_json()
    assert document["openapi"].startswith("3.1")
    documented = {(path, method.upper()) for path, ops in document["paths"].items()
                  for method in ops}
    routed = set()
    for rule in api.app.url_map.iter_rules():
        if not rule.rule.startswith("/v1"):
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        routed |= {(path, m) for m in (rule.methods or set()) - {"HEAD", "OPTIONS"}}
    assert documented == routed


def test_every_operation_is_complete(api: Api) -> None:
    document = api.get("/v1/openapi.json").get_json()
    schemas = document["components"]["schemas"]
    for path, ops in document["paths"].items():
        for method, op in ops.items():
            assert op["responses"], (path, method)
            assert "default" in op["responses"]
            for name in re.findall(r"{(\w+)}", path):
                assert any(p["name"] == name and p["in"] == "path" for p in op["parameters"])
            text = str(op)
            for ref in re.findall(r"#/components/schemas/(\w+)", text):
                assert ref in schemas, ref
    assert "ErrorResponse" in schemas
