"""Rules cards and acceptances at the relay (SQLite and PostgreSQL): only an admin publishes an
invite's card, and only a well-formed CardEnvelope; that invite's session (a joiner before
asking) or a member reads it back; a join request may carry the joiner's own signed acceptance,
which admins get with the request; a deleted group keeps no card."""

from __future__ import annotations

from tests.api.helpers import Api, RelayGroup, code, join_request, real_invite
from vault.crypto.encoding import b64encode
from vault.crypto.metadata import GroupMetadata
from vault.crypto.rules_card import accept_rules, make_rules_card, rules_ref, seal_rules_card

RULES = "Be kind."


def card_for(g: RelayGroup, link: object) -> str:
    if g.f.state.group_metadata is None:  # a card states the group's metadata
        g.f.set_metadata()
        g.sync()
    card = make_rules_card(g.owner, g.f.state, link.invite_id,  # type: ignore[attr-defined]
                           GroupMetadata("Circle", "", RULES), g.f.epoch_keys[g.f.state.epoch],
                           now_ms=g.f.now_ms)
    return b64encode(seal_rules_card(card, link.secret))  # type: ignore[attr-defined]


KEY = bytes(32)  # the acceptances' digest key: the relay cannot check it, and does not


def test_admins_publish_a_card_that_the_invites_holder_reads(api: Api) -> None:
    g = RelayGroup(api)
    member = g.f.add_member()
    g.sync()
    link, ticket = real_invite(g)
    other, other_ticket = real_invite(g)
    path = f"{g.base}/invites/{b64encode(link.invite_id)}/card"
    holder = g.invite_token(ticket.invite_id, ticket.invite_sk)
    missing = api.get(path, token=holder)
    assert missing.status_code == 404 and code(missing) == "not_found"

    card = card_for(g, link)
    refused = api.put(path, json={"card": card}, token=g.token(member))
    assert refused.status_code == 403 and code(refused) == "forbidden"
    assert api.put(path, json={"card": card[:-4]}, token=g.token(g.owner)).status_code == 400
    put = api.put(path, json={"card": card}, token=g.token(g.owner))
    assert put.status_code == 200 and put.get_json()["card"] == card
    assert api.get(path, token=holder).get_json() == {"invite_id": b64encode(link.invite_id),
                                                      "card": card}
    assert api.get(path, token=g.token(member)).status_code == 200
    # Another invite's session reads only its own invite's card.
    stranger = g.invite_token(other_ticket.invite_id, other_ticket.invite_sk)
    assert api.get(path, token=stranger).status_code == 403
    unknown = api.put(f"{g.base}/invites/{b64encode(bytes(16))}/card", json={"card": card},
                      token=g.token(g.owner))
    assert unknown.status_code == 404 and code(unknown) == "invite_unknown"
    other_path = f"{g.base}/invites/{b64encode(other.invite_id)}/card"
    assert api.put(other_path, json={"card": card_for(g, other)},
                   token=g.token(g.owner)).status_code == 200
    g.f.revoke(other_ticket)
    g.sync()
    gone = api.get(other_path, token=g.token(member))  # the revocation dropped its card
    assert gone.status_code == 404 and code(gone) == "not_found"
    revoked = api.put(f"{g.base}/invites/{b64encode(other.invite_id)}/card",
                      json={"card": card_for(g, other)}, token=g.token(g.owner))
    assert code(revoked) == "invite_revoked"


def test_a_join_request_carries_the_joiners_own_acceptance(api: Api) -> None:
    g = RelayGroup(api)
    link, _ticket = real_invite(g)
    joiner = g.f.identity()
    _, request = join_request(g, link, joiner=joiner)
    ref = rules_ref(g.f.state)
    someone = g.f.identity()
    for acceptance, status, error in (
        (accept_rules(someone, g.f.group_id, ref, RULES, KEY), 400, "invalid_request"),  # not his
        (accept_rules(joiner, bytes(32), ref, RULES, KEY), 400, "invalid_request"),  # other group's
    ):
        refused = api.post(f"{g.base}/join-requests",
                           json={"request": request, "acceptance": b64encode(acceptance.raw)})
        assert (refused.status_code, code(refused)) == (status, error)
    flipped = bytearray(accept_rules(joiner, g.f.group_id, ref, RULES, KEY).raw)
    flipped[70] ^= 1
    bad = api.post(f"{g.base}/join-requests",
                   json={"request": request, "acceptance": b64encode(bytes(flipped))})
    assert bad.status_code == 400 and code(bad) == "bad_signature"
    assert api.get(f"{g.base}/join-requests", token=g.token(g.owner)).get_json() == {
        "requests": []}  # nothing was recorded by the refusals

    mine = accept_rules(joiner, g.f.group_id, ref, RULES, KEY)
    ok = api.post(f"{g.base}/join-requests",
                  json={"request": request, "acceptance": b64encode(mine.raw)})
    assert ok.status_code == 201
    (listed,) = api.get(f"{g.base}/join-requests", token=g.token(g.owner)).get_json()["requests"]
    assert listed["acceptance"] == b64encode(mine.raw)


def test_an_acceptance_sent_after_the_request_is_kept_once(api: Api) -> None:
    """A joiner who accepts the rules after asking sends the request again with the
    acceptance: the waiting request keeps it; a later one does not replace it."""
    g = RelayGroup(api)
    link, _ticket = real_invite(g)
    joiner = g.f.identity()
    _, request = join_request(g, link, joiner=joiner)
    assert api.post(f"{g.base}/join-requests", json={"request": request}).status_code == 201
    ref = rules_ref(g.f.state)
    first = accept_rules(joiner, g.f.group_id, ref, RULES, KEY)
    again = api.post(f"{g.base}/join-requests",
                     json={"request": request, "acceptance": b64encode(first.raw)})
    assert again.status_code == 200
    later = accept_rules(joiner, g.f.group_id, ref, RULES + " Be on time.", KEY)
    api.post(f"{g.base}/join-requests",
             json={"request": request, "acceptance": b64encode(later.raw)})
    (listed,) = api.get(f"{g.base}/join-requests", token=g.token(g.owner)).get_json()["requests"]
    assert listed["acceptance"] == b64encode(first.raw)
