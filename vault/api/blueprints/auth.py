"""Challenge/response authentication and sessions.

POST /v1/groups/<gid>/auth/challenge  -> 32 random bytes, single use, 60 s
POST /v1/groups/<gid>/auth/session    -> a session token (stored only hashed), 1 h

Subjects: a key that is or was a member (a former member's session reads the log up to the
entry that ended its membership, and nothing else), or an invite that is not revoked,
expired or used up.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from sqlalchemy import delete

from vault.api.blueprints.common import (
    ID16,
    NO_SYNC,
    get_group,
    group_id_param,
    lock_live_group,
)
from vault.api.db import affected, db, write_txn
from vault.api.models import AuthChallenge, InviteRow, MemberRow, SessionRow
from vault.api.registry import Call, api_route
from vault.api.schemas import ChallengeRequest, ChallengeResponse, SessionRequest, SessionResponse
from vault.api.services import services
from vault.api.util import decode_id, now_ms
from vault.crypto.auth import (
    CHALLENGE_SIZE,
    AuthSubject,
    new_challenge,
    new_session_token,
    session_token_hash,
    verify_invite_challenge,
    verify_member_challenge,
)
from vault.crypto.encoding import b64encode
from vault.crypto.errors import (
    AuthError,
    ChallengeExpiredError,
    InvalidRequestError,
    InviteExhaustedError,
    InviteExpiredError,
    InviteRevokedError,
    NotAMemberError,
    SignatureError,
    UnknownInviteError,
)

bp = Blueprint("auth", __name__, url_prefix="/v1/groups")


def _subject(member: str | None, invite_id: str | None) -> tuple[AuthSubject, bytes]:
    if (member is None) == (invite_id is None):
        raise InvalidRequestError("give exactly one of 'member' and 'invite_id'")
    if member is not None:
        return AuthSubject.MEMBER, decode_id(member, 32, "member")
    assert invite_id is not None
    return AuthSubject.INVITE, decode_id(invite_id, ID16, "invite id")


def _check_subject(group_id: bytes, kind: AuthSubject, subject: bytes) -> bytes | None:
    """Raise unless *subject* may hold a session now; return the invite key for invites.

    A former member may (what its session can do is decided per request, in authenticate).
    """
    if kind is AuthSubject.MEMBER:
        if db.session.get(MemberRow, (group_id, subject)) is None:
            raise NotAMemberError("this key is not a member of the group")
        return None
    invite = db.session.get(InviteRow, (group_id, subject))
    if invite is None:
        raise UnknownInviteError("no such invite in this group")
    if invite.revoked:
        raise InviteRevokedError("this invite was revoked")
    if invite.expires_at_ms <= now_ms():
        raise InviteExpiredError("this invite has expired")
    if invite.used_up:
        raise InviteExhaustedError("this invite has been used as often as it allows")
    return invite.invite_pk


@api_route(bp, "/<gid>/auth/challenge", "POST", auth="none", rate="expensive",
           summary="Get a single-use challenge to sign", body=ChallengeRequest,
           responses={201: ChallengeResponse})
def challenge(call: Call, gid: str) -> Any:
    group_id = group_id_param(gid)
    kind, subject = _subject(call.body.member, call.body.invite_id)
    get_group(group_id)
    _check_subject(group_id, kind, subject)
    now = now_ms()
    value = new_challenge()
    expires = now + services().settings.challenge_ttl_s * 1000
    with write_txn() as session:
        lock_live_group(session, group_id)
        session.execute(delete(AuthChallenge).where(AuthChallenge.expires_at_ms <= now),
                        execution_options=NO_SYNC)
        session.add(AuthChallenge(challenge=value, group_id=group_id, kind=int(kind),
                                  subject=subject, expires_at_ms=expires))
    return ChallengeResponse(challenge=b64encode(value), expires_at_ms=expires), 201


@api_route(bp, "/<gid>/auth/session", "POST", auth="none", rate="expensive",
           summary="Exchange a signed challenge for a session token", body=SessionRequest,
           responses={201: SessionResponse})
def session(call: Call, gid: str) -> Any:
    group_id = group_id_param(gid)
    kind, subject = _subject(call.body.member, call.body.invite_id)
    value = decode_id(call.body.challenge, CHALLENGE_SIZE, "challenge")
    signature = decode_id(call.body.signature, 64, "signature")
    get_group(group_id)
    invite_pk = _check_subject(group_id, kind, subject)
    now = now_ms()
    match = (
        AuthChallenge.challenge == value,
        AuthChallenge.group_id == group_id,
        AuthChallenge.kind == int(kind),
        AuthChallenge.subject == subject,
    )
    try:
        if invite_pk is None:
            verify_member_challenge(subject, group_id, value, signature)
        else:
            verify_invite_challenge(invite_pk, group_id, subject, value, signature)
    except SignatureError:
        with write_txn() as tx:  # a wrong answer burns the challenge
            tx.execute(delete(AuthChallenge).where(*match), execution_options=NO_SYNC)
        raise AuthError("the challenge signature does not verify for this key") from None
    token = new_session_token()
    expires = now + services().settings.session_ttl_s * 1000
    with write_txn() as tx:
        lock_live_group(tx, group_id)
        consumed = affected(tx.execute(
            delete(AuthChallenge).where(*match, AuthChallenge.expires_at_ms > now),
            execution_options=NO_SYNC,
        ))
        if consumed != 1:
            raise ChallengeExpiredError(
                "this challenge is unknown, already used or expired; ask for a new one"
            )
        _check_subject(group_id, kind, subject)
        tx.add(SessionRow(token_hash=session_token_hash(token), group_id=group_id,
                          kind=int(kind), subject=subject, expires_at_ms=expires))
    return SessionResponse(token=b64encode(token), expires_at_ms=expires), 201
