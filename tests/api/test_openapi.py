"""The OpenAPI document and the Flask routes describe the same API."""

from __future__ import annotations

import random
import re
import string

from tests.api.helpers import Api
from vault.api import schemas
from vault.crypto.encoding import b64decode, b64encode
from vault.crypto.errors import MalformedError


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


def test_base64url_patterns_admit_exactly_canonical_text() -> None:
    """The document's patterns hold a field to what the core's strict b64decode accepts."""
    rng = random.Random(7)
    alphabet = string.ascii_letters + string.digits + "-_"
    general = re.compile(schemas.B64_PATTERN)
    for size in range(70):
        exact = re.compile(schemas.b64_pattern(size))
        text = b64encode(rng.randbytes(size))
        assert len(text) == schemas.b64_chars(size)
        assert general.fullmatch(text) and exact.fullmatch(text), (size, text)
        for _ in range(30):  # random text of that length: matches iff it decodes canonically
            candidate = "".join(rng.choice(alphabet) for _ in range(len(text)))
            try:
                b64decode(candidate)
                canonical = True
            except MalformedError:
                canonical = False
            assert bool(general.fullmatch(candidate)) == canonical, candidate
            assert bool(exact.fullmatch(candidate)) == canonical, candidate
        for wrong in (text + "A", text[:-1]):  # other lengths never match the exact pattern
            if wrong:
                assert not exact.fullmatch(wrong)
