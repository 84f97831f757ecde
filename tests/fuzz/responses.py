"""Fuzzed relay answers: genuine response shapes, damaged; garbage bodies; odd statuses.

A hostile relay (or whoever broke into it) can answer any request with anything: any status,
any headers, any body. These strategies produce such answers, starting from the genuine
JSON shape of each endpoint so the damage reaches past the first type check.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from tests.fuzz.corpus import json_scalars, json_values
from vault.crypto.errors import all_error_classes

KNOWN_CODES = sorted(all_error_classes())
STATUSES = [200, 201, 204, 301, 302, 304, 400, 401, 403, 404, 405, 409, 410, 413, 415, 422,
            429, 500, 502, 503, 504, 599, 100]


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"Answer({self.status}, {self.body[:120]!r}{'...' if len(self.body) > 120 else ''}" \
               f", {self.headers})"


@st.composite
def mutated_text_value(draw: st.DrawFn, text: str) -> str:
    op = draw(st.sampled_from(["truncate", "pad", "flip", "nonascii", "huge", "plus",
                               "empty", "digits", "space"]))
    if op == "truncate" and text:
        return text[: draw(st.integers(0, len(text) - 1))]
    if op == "pad":
        return text + "=" * draw(st.integers(1, 2))
    if op == "flip" and text:
        at = draw(st.integers(0, len(text) - 1))
        return text[:at] + draw(st.sampled_from("A_-z9=+/.é\x00")) + text[at + 1:]
    if op == "nonascii":
        return text + draw(st.sampled_from(["é", "\u0660", "²", "\udc80", "\ufeff"]))
    if op == "huge":
        return text * draw(st.integers(50, 400))
    if op == "plus":
        return text.replace("-", "+").replace("_", "/") + "+/"
    if op == "digits":
        return draw(st.sampled_from(["0", "-1", "1" * 18, "1" * 19, "9" * 40, "1e3", "١٢"]))
    if op == "space":
        return f" {text} "
    return ""


@st.composite
def mutated_json(draw: st.DrawFn, value: Any, depth: int = 0) -> Any:
    """*value* with one damage somewhere inside it (or, sometimes, everywhere)."""
    if depth > 6 or draw(st.integers(0, 9)) == 0:
        return draw(json_values)
    if isinstance(value, dict) and value:
        op = draw(st.sampled_from(["drop", "add", "change", "change", "change", "null"]))
        out = dict(value)
        key = draw(st.sampled_from(sorted(out)))
        if op == "drop":
            del out[key]
        elif op == "add":
            out[draw(st.text(max_size=10))] = draw(json_values)
        elif op == "null":
            out[key] = None
        else:
            out[key] = draw(mutated_json(out[key], depth + 1))
        return out
    if isinstance(value, list):
        op = draw(st.sampled_from(["drop", "dup", "append", "change", "change", "many"]))
        out_list = list(value)
        if op == "append" or not out_list:
            out_list.append(draw(json_values))
        elif op == "drop":
            del out_list[draw(st.integers(0, len(out_list) - 1))]
        elif op == "dup":
            out_list += out_list
        elif op == "many":
            out_list = out_list * draw(st.integers(2, 50))
        else:
            at = draw(st.integers(0, len(out_list) - 1))
            out_list[at] = draw(mutated_json(out_list[at], depth + 1))
        return out_list
    if isinstance(value, str):
        return draw(st.one_of(mutated_text_value(value), json_scalars))
    if isinstance(value, bool):
        return draw(st.sampled_from([not value, 0, 1, "true", None]))
    if isinstance(value, int):
        return draw(st.sampled_from([-1, 0, value + 1, value - 1, 2**31, 2**63, 2**64, 10**40,
                                     True, 1.5, float(value), str(value)]))
    return draw(json_values)


GARBAGE_BODIES = [
    b"", b"{", b"[", b"null", b"true", b"0", b'""', b"{}", b"[]", b'{"error": 1}',
    b"\xff\xfe\x00", b"\xef\xbb\xbf{}", b"<html>502 Bad Gateway</html>",
    b"[" * 100_000, b'{"a":' * 50_000, b"1" * 5_000, b"-" + b"9" * 4_400,
    b'{"error": {"code": "' + b"x" * 100_000 + b'", "message": "m"}}',
    '{"x": "\udc80"}'.encode("utf-8", "surrogatepass"),
    json.dumps({"error": {"code": "malformed"}}).encode(),
    b"NaN", b"Infinity", b'{"head_seq": NaN}', b'{"a": 1e999}',
]


@st.composite
def error_body(draw: st.DrawFn) -> bytes:
    code = draw(st.one_of(st.sampled_from(KNOWN_CODES), st.text(max_size=20), json_scalars))
    message = draw(st.one_of(st.text(max_size=50), json_scalars,
                             st.just("m" * 10_000)))
    shape = draw(st.sampled_from(["ok", "flat", "list", "nested"]))
    if shape == "ok":
        doc: Any = {"error": {"code": code, "message": message}}
    elif shape == "flat":
        doc = {"code": code, "message": message}
    elif shape == "list":
        doc = {"error": [code, message]}
    else:
        doc = {"error": {"code": {"code": code}, "message": message}}
    return json.dumps(doc).encode()


def answers(genuine: Any, ok_status: int = 200) -> st.SearchStrategy[Answer]:
    """Answers to a request whose genuine answer is *genuine* (a JSON value or bytes)."""
    if isinstance(genuine, bytes):
        good_body: st.SearchStrategy[bytes] = st.one_of(
            st.binary(max_size=600), st.just(genuine),
            st.just(genuine[:-1]), st.just(genuine + b"\x00"))
    else:
        good_body = st.one_of(
            mutated_json(genuine).map(lambda v: json.dumps(v).encode()),
            st.just(json.dumps(genuine).encode()),
            json_values.map(lambda v: json.dumps(v).encode()),
            st.sampled_from(GARBAGE_BODIES),
            st.binary(max_size=200),
        )
    headers = st.one_of(
        st.just({}),
        st.fixed_dictionaries({"Retry-After": st.sampled_from(
            ["0", "-5", "1e9", "nan", "inf", "-inf", "abc", "", "99999999999999999999",
             "1" * 400])}),
        st.fixed_dictionaries({"Content-Type": st.sampled_from(
            ["text/html", "application/octet-stream", "application/json; charset=utf-16"])}),
    )
    ok = st.builds(Answer, st.just(ok_status), good_body, headers)
    other = st.builds(Answer, st.sampled_from(STATUSES),
                      st.one_of(error_body(), good_body), headers)
    return st.one_of(ok, ok, other)
