"""Rules cards and acceptances through a hostile relay (protocol §8.7): a relay that swaps an
invite's card for another invite's, alters it, serves an out-of-date one, or strips or
substitutes a joiner's acceptance is caught — the joiner's device refuses the card with a
typed error, and the admin's device shows no acceptance it cannot check. The relay never
reads the rules (the canary fixture scans its traffic and database)."""

from __future__ import annotations

import json
from collections.abc import Callable
from types import SimpleNamespace

import httpx
import pytest
from vault_client.errors import RulesCardError

from tests.adversarial.hostile import HostileRelay
from vault.crypto.encoding import b64decode, b64encode
from vault.crypto.identity import Identity
from vault.crypto.invites import parse_invite_uri
from vault.crypto.log_verify import verify_log
from vault.crypto.rules_card import accept_rules, rules_ref


def serve_card(hostile: HostileRelay, name: str, invite_uri: str,
               card: Callable[[bytes], bytes]) -> None:
    """The relay answers *name*'s reads of that invite's card with ``card(real card)``."""
    path = f"/invites/{b64encode(parse_invite_uri(invite_uri).invite_id)}/card"

    def respond(request: httpx.Request, real: httpx.Response) -> httpx.Response:
        if request.method != "GET" or not request.url.path.endswith(path):
            return real
        body = real.json()
        body["card"] = b64encode(card(b64decode(body["card"])))
        return httpx.Response(200, json=body)

    hostile.view(name).respond = respond


def rewrite_requests(hostile: HostileRelay, name: str,
                     change: Callable[[dict[str, object]], None]) -> None:
    """The relay rewrites every join request it lists to *name*."""
    def respond(request: httpx.Request, real: httpx.Response) -> httpx.Response:
        if request.method != "GET" or not request.url.path.endswith("/join-requests"):
            return real
        body = json.loads(real.read())
        for item in body["requests"]:
            change(item)
        return httpx.Response(200, json=body)

    hostile.view(name).respond = respond


def group_with_rules(canary: Callable[[str], str], owner: object) -> tuple[str, str]:
    rules = canary("rules")
    gid = owner.create_group(canary("group name"), canary("description"),  # type: ignore[attr-defined]
                             rules, display_name=canary("owner's name")).group_id
    return gid, rules


def test_relay_swaps_the_card_for_another_invites(people: SimpleNamespace,
                                                  hostile: HostileRelay,
                                                  canary: Callable[[str], str]) -> None:
    """Two invites of one group: the relay shows Eve the other invite's card (a real card,
    an admin's signature). It does not open with her invite's secret: RulesCardError, from
    the preview and from a join that accepts, and her device keeps nothing."""
    ann, eve = people.ann, people.eve
    gid, _rules = group_with_rules(canary, ann)
    mine, other = ann.create_invite(gid), ann.create_invite(gid)
    seen: dict[str, bytes] = {}

    def keep(real: bytes) -> bytes:
        seen["other"] = real
        return real

    serve_card(hostile, "eve", other.uri, keep)
    eve.preview_invite(other.uri)
    serve_card(hostile, "eve", mine.uri, lambda real: seen["other"])
    with pytest.raises(RulesCardError) as refused:
        eve.preview_invite(mine.uri)
    assert refused.value.code == "rules_card_invalid"
    hostile.view("eve").respond = None
    rules_id = eve.preview_invite(mine.uri).rules_id
    serve_card(hostile, "eve", mine.uri, lambda real: seen["other"])
    with pytest.raises(RulesCardError):
        eve.join(mine.uri, accept_rules=rules_id)
    assert eve.groups() == []


def test_relay_alters_or_serves_an_out_of_date_card(people: SimpleNamespace,
                                                    hostile: HostileRelay,
                                                    canary: Callable[[str], str]) -> None:
    """A flipped byte: RulesCardError. The card as it was before the group's rules changed
    (the relay kept a copy; Ann's device published the new one): shown as out of date (never
    as the group's current rules), and if Eve accepts it, Ann's device says she accepted
    rules that are not the group's."""
    ann, eve = people.ann, people.eve
    gid, rules = group_with_rules(canary, ann)
    invite = ann.create_invite(gid)
    kept: dict[str, bytes] = {}

    def remember(real: bytes) -> bytes:
        kept["old"] = real
        return real

    serve_card(hostile, "eve", invite.uri, remember)
    assert eve.preview_invite(invite.uri).up_to_date
    serve_card(hostile, "eve", invite.uri,
               lambda real: real[:-1] + bytes((real[-1] ^ 1,)))
    with pytest.raises(RulesCardError) as altered:
        eve.preview_invite(invite.uri)
    assert altered.value.code == "rules_card_invalid"
    ann.update_group(gid, rules=canary("new rules"))
    serve_card(hostile, "eve", invite.uri, lambda real: kept["old"])
    old = eve.preview_invite(invite.uri)
    assert not old.up_to_date and old.rules == rules
    eve.join(invite.uri, accept_rules=old.rules_id)
    (request,) = ann.pending_requests(gid)
    assert request.accepted_rules == "earlier"


def test_relay_strips_or_substitutes_an_acceptance(people: SimpleNamespace,
                                                   hostile: HostileRelay,
                                                   canary: Callable[[str], str]) -> None:
    """Eve accepts the rules and asks to join. The relay shows Ann the request without the
    acceptance, then with one signed by another key (a valid acceptance of the same rules,
    not Eve's): Ann's device says she accepted nothing. Honest, it says she accepted."""
    ann, eve = people.ann, people.eve
    gid, _rules = group_with_rules(canary, ann)
    invite = ann.create_invite(gid)
    preview = eve.preview_invite(invite.uri)
    eve.join(invite.uri, accept_rules=preview.rules_id)
    (honest,) = ann.pending_requests(gid)
    assert honest.accepted_rules == "current"

    rewrite_requests(hostile, "ann", lambda item: item.pop("acceptance", None))
    assert [r.accepted_rules for r in ann.pending_requests(gid)] == ["none"]
    someone = Identity.generate()
    ref = rules_ref(verify_log(b64decode(gid), hostile.log(b64decode(gid))))
    forged = accept_rules(someone, b64decode(gid), ref, preview.rules or "", bytes(32))
    rewrite_requests(hostile, "ann",
                     lambda item: item.__setitem__("acceptance", b64encode(forged.raw)))
    assert [r.accepted_rules for r in ann.pending_requests(gid)] == ["none"]
    tampered = bytearray(b64decode(ann_acceptance(hostile, gid)))
    tampered[70] ^= 1  # the rules ref: the signature no longer holds
    rewrite_requests(hostile, "ann",
                     lambda item: item.__setitem__("acceptance", b64encode(bytes(tampered))))
    assert [r.accepted_rules for r in ann.pending_requests(gid)] == ["none"]


def ann_acceptance(hostile: HostileRelay, gid: str) -> str:
    """The acceptance the relay stored with the group's (one) join request."""
    import sqlite3

    with sqlite3.connect(hostile.database) as conn:
        (raw,) = conn.execute("SELECT acceptance FROM join_requests WHERE group_id = ?",
                              (b64decode(gid),)).fetchone()
    return b64encode(bytes(raw))
