"""Join requests: a joiner redeems an invite with its join proof; admins list and deny.

POST   /v1/groups/<gid>/join-requests            (no session: the request is self-signed
                                                  and carries the invite proof; with the
                                                  joiner's signed acceptance of the rules)
GET    /v1/groups/<gid>/join-requests            admins: pending requests
DELETE /v1/groups/<gid>/join-requests/<joiner>   admins: deny
PUT    /v1/groups/<gid>/invites/<iid>/card       admins: publish the invite's rules card
GET    /v1/groups/<gid>/invites/<iid>/card       that invite's session, or a member

Approval is an ADD entry on the log (which marks the request approved); revocation is an
INVITE_REVOKE entry. Redemptions are counted with one conditional UPDATE, so concurrent
requests never exceed the invite's max uses. A new request under an invite that is used up
(by the verified log, or by the requests accepted so far) is refused (invite_exhausted); a
request already recorded is answered with its status all the same (its own redemption may be
what used the invite up).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from vault.api.authn import authenticate
from vault.api.blueprints.common import NO_SYNC, get_group, group_id_param, lock_live_group
from vault.api.db import affected, db, write_txn
from vault.api.models import InviteRow, JoinRequestRow, MemberRow
from vault.api.registry import Call, api_route
from vault.api.schemas import (
    MAX_JOIN_REQUEST_BYTES,
    JoinRequestBody,
    JoinRequestItem,
    JoinRequestList,
    JoinRequestStatus,
    RulesCardBody,
    RulesCardResponse,
    json_body_limit,
)
from vault.api.state import REQUEST_DENIED, REQUEST_PENDING
from vault.api.util import MAX_PAST_SKEW_MS, decode_b64, decode_id, now_ms
from vault.crypto.encoding import b64encode
from vault.crypto.errors import (
    AlreadyMemberError,
    ForbiddenError,
    InvalidRequestError,
    InviteExhaustedError,
    InviteExpiredError,
    InviteRevokedError,
    JoinRequestStaleError,
    NotFoundError,
    UnknownInviteError,
)
from vault.crypto.invites import JoinRequest
from vault.crypto.limits import MAX_FUTURE_SKEW_MS
from vault.crypto.log_entries import Role
from vault.crypto.rules_card import MAX_CARD_ENVELOPE_SIZE, RulesAcceptance, check_card_envelope

bp = Blueprint("invites", __name__, url_prefix="/v1/groups")

STATUS_NAMES = {0: "pending", 1: "approved", 2: "denied"}
CARD_BODY_LIMIT = json_body_limit(MAX_CARD_ENVELOPE_SIZE)
MAX_LISTED = 500


def _status(row: JoinRequestRow) -> JoinRequestStatus:
    return JoinRequestStatus(joiner=b64encode(row.joiner_pk), invite_id=b64encode(row.invite_id),
                             status=STATUS_NAMES[row.status])  # type: ignore[arg-type]


def _check_fresh(request: JoinRequest, now: int) -> None:
    """A new join request must be dated within 5 minutes of the relay's clock, either way."""
    if request.requested_at_ms < now - MAX_PAST_SKEW_MS:
        raise JoinRequestStaleError(
            "this join request is dated more than 5 minutes before the relay's clock; "
            "make a new one (and check this device's clock)"
        )
    if request.requested_at_ms > now + MAX_FUTURE_SKEW_MS:
        raise JoinRequestStaleError(
            "this join request is dated more than 5 minutes after the relay's clock; "
            "correct this device's clock and make a new one"
        )


def _acceptance(text: str | None, group_id: bytes, joiner: bytes) -> bytes | None:
    """The joiner's own acceptance of the rules (signed by the request's joiner, for this
    group), kept beside the request for admins; which rules it names is theirs to judge."""
    if text is None:
        return None
    raw = decode_b64(text, "rules acceptance", RulesAcceptance.ENCODED_SIZE)
    acceptance = RulesAcceptance.decode(raw)  # malformed / bad_signature
    if acceptance.group_id != group_id or acceptance.member != joiner:
        raise InvalidRequestError("this acceptance of the rules is not this joiner's for "
                                  "this group")
    return raw


def _live_invite(invite: InviteRow | None, now: int) -> InviteRow:
    if invite is None:
        raise UnknownInviteError("no such invite in this group")
    if invite.revoked:
        raise InviteRevokedError("this invite was revoked")
    if invite.expires_at_ms <= now:
        raise InviteExpiredError("this invite has expired")
    return invite


@api_route(bp, "/<gid>/join-requests", "POST", auth="none", rate="expensive",
           body=JoinRequestBody, summary="Redeem an invite: submit a signed join request",
           responses={201: JoinRequestStatus, 200: JoinRequestStatus})
def submit(call: Call, gid: str) -> Any:
    group_id = group_id_param(gid)
    raw = decode_b64(call.body.request, "join request", MAX_JOIN_REQUEST_BYTES)
    request = JoinRequest.decode(raw)  # checks the joiner's signature and key binding
    if request.group_id != group_id:
        raise InvalidRequestError("this join request is for another group")
    get_group(group_id)
    now = now_ms()
    invite = _live_invite(db.session.get(InviteRow, (group_id, request.invite_id)), now)
    request.verify(invite.invite_pk)  # the joiner holds the invite secret
    joiner = request.joiner.sign_pk
    acceptance = _acceptance(call.body.acceptance, group_id, joiner)
    member = db.session.get(MemberRow, (group_id, joiner))
    if member is not None:
        if member.removed_seq is None:
            raise AlreadyMemberError("this key is already a member of the group")
        raise ForbiddenError("this key left or was removed; join with a fresh identity")
    for _attempt in range(2):
        existing = db.session.get(JoinRequestRow, (group_id, joiner))
        if existing is not None:  # a retry: never counts a second redemption
            if (acceptance is not None and existing.acceptance is None
                    and existing.status == REQUEST_PENDING):
                _add_acceptance(group_id, joiner, acceptance)  # accepted after asking
            return _status(existing), 200
        _check_fresh(request, now)  # only a request not yet recorded must be fresh
        try:
            with write_txn() as tx:
                lock_live_group(tx, group_id)
                taken = affected(tx.execute(
                    update(InviteRow)
                    .where(
                        InviteRow.group_id == group_id,
                        InviteRow.invite_id == request.invite_id,
                        InviteRow.redemptions < InviteRow.max_uses,
                        InviteRow.uses < InviteRow.max_uses,
                        InviteRow.revoked.is_(False),
                        InviteRow.expires_at_ms > now,
                    )
                    .values(redemptions=InviteRow.redemptions + 1),
                    execution_options=NO_SYNC,
                ))
                if taken != 1:
                    raise InviteExhaustedError("this invite has been used as often as allowed")
                row = JoinRequestRow(group_id=group_id, joiner_pk=joiner,
                                     invite_id=request.invite_id, raw=raw,
                                     acceptance=acceptance, status=REQUEST_PENDING,
                                     created_at_ms=now)
                tx.add(row)
                tx.flush()
                result = _status(row)
            return result, 201
        except IntegrityError:
            continue  # the same joiner raced itself; the next pass returns its request
    raise InvalidRequestError("could not record the join request; retry")


def _add_acceptance(group_id: bytes, joiner: bytes, acceptance: bytes) -> None:
    """A joiner who accepted the rules after asking sends the request again with the
    acceptance (checked like one sent with it): kept while the request waits, once."""
    with write_txn() as tx:
        lock_live_group(tx, group_id)
        row = tx.get(JoinRequestRow, (group_id, joiner))
        if row is not None and row.acceptance is None and row.status == REQUEST_PENDING:
            row.acceptance = acceptance


@api_route(bp, "/<gid>/join-requests", "GET", summary="Pending join requests (admins)",
           responses={200: JoinRequestList})
def pending(call: Call, gid: str) -> Any:
    group_id = group_id_param(gid)
    caller = authenticate(group_id)
    caller.require_role(Role.ADMIN, "listing join requests")
    rows = db.session.scalars(
        select(JoinRequestRow)
        .where(JoinRequestRow.group_id == group_id, JoinRequestRow.status == REQUEST_PENDING)
        .order_by(JoinRequestRow.created_at_ms)
        .limit(MAX_LISTED)
    )
    items = [
        JoinRequestItem(joiner=b64encode(r.joiner_pk), invite_id=b64encode(r.invite_id),
                        request=b64encode(r.raw), created_at_ms=r.created_at_ms,
                        acceptance=None if r.acceptance is None else b64encode(r.acceptance))
        for r in rows
    ]
    return JoinRequestList(requests=items), 200


@api_route(bp, "/<gid>/join-requests/<joiner>", "DELETE",
           summary="Deny a pending join request (admins)", responses={200: JoinRequestStatus})
def deny(call: Call, gid: str, joiner: str) -> Any:
    group_id = group_id_param(gid)
    joiner_pk = decode_id(joiner, 32, "joiner")
    caller = authenticate(group_id)
    caller.require_role(Role.ADMIN, "denying join requests")
    with write_txn() as tx:
        lock_live_group(tx, group_id)
        row = tx.get(JoinRequestRow, (group_id, joiner_pk))
        if row is None or row.status != REQUEST_PENDING:
            raise NotFoundError("no pending join request from this key")
        row.status = REQUEST_DENIED
        result = _status(row)
    return result, 200


@api_route(bp, "/<gid>/invites/<iid>/card", "PUT", body=RulesCardBody,
           max_body=CARD_BODY_LIMIT, summary="Publish an invite's rules card (admins)",
           responses={200: RulesCardResponse})
def put_card(call: Call, gid: str, iid: str) -> Any:
    """The card is ciphertext under a key only the invite's holder derives: the relay checks
    its shape (a padded CardEnvelope) and who publishes it, and replaces the one before."""
    group_id = group_id_param(gid)
    invite_id = decode_id(iid, 16, "invite id")
    caller = authenticate(group_id)
    caller.require_role(Role.ADMIN, "publishing an invite's rules card")
    envelope = decode_b64(call.body.card, "rules card", MAX_CARD_ENVELOPE_SIZE)
    check_card_envelope(envelope)
    with write_txn() as tx:
        lock_live_group(tx, group_id)
        invite = tx.get(InviteRow, (group_id, invite_id))
        if invite is None:
            raise UnknownInviteError("no such invite in this group")
        if invite.revoked:
            raise InviteRevokedError("this invite was revoked")
        invite.card = envelope
    return RulesCardResponse(invite_id=b64encode(invite_id), card=b64encode(envelope)), 200


@api_route(bp, "/<gid>/invites/<iid>/card", "GET", auth="member_or_invite",
           summary="An invite's rules card", responses={200: RulesCardResponse})
def get_card(call: Call, gid: str, iid: str) -> Any:
    """For that invite's session (a joiner before asking to join) or a member."""
    group_id = group_id_param(gid)
    invite_id = decode_id(iid, 16, "invite id")
    caller = authenticate(group_id, allow_invite=True)
    if not caller.is_member and caller.subject != invite_id:
        raise ForbiddenError("an invite session may read only its own invite's card")
    invite = db.session.get(InviteRow, (group_id, invite_id))
    if invite is None or invite.card is None:
        raise NotFoundError("no rules card was published for this invite")
    return RulesCardResponse(invite_id=b64encode(invite_id), card=b64encode(invite.card)), 200
