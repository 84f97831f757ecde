"""Who is calling: a session token bound to one group and one member (or one invite).

Membership is checked on every request against the ``members`` table (derived from the
verified log), so a member removed after its session was issued is refused at once. The one
exception is reading the log (``allow_former``): a former member (removed, or left) may read
it up to the entry that ended its membership, so that its device learns of it. An invite
session is refused once its invite is revoked, expired or used up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import g, request
from sqlalchemy import and_, bindparam, select

from vault.api.db import db, run
from vault.api.models import Group, InviteRow, MemberRow, SessionRow
from vault.api.passes import Pass
from vault.api.services import services
from vault.api.util import now_ms
from vault.crypto.auth import TOKEN_SIZE, AuthSubject, session_token_hash
from vault.crypto.encoding import b64decode
from vault.crypto.errors import (
    AuthError,
    ForbiddenError,
    InviteExhaustedError,
    MalformedError,
    NotAMemberError,
    NotFoundError,
    SessionExpiredError,
    VaultError,
)
from vault.crypto.log_entries import Role


@dataclass(frozen=True)
class Caller:
    group_id: bytes
    kind: AuthSubject
    subject: bytes  # member sign_pk, or invite id for an invite session
    role: Role | None  # None for invite sessions and former members
    removed_seq: int | None = None  # a former member's: the entry that ended its membership

    @property
    def is_member(self) -> bool:
        return self.kind is AuthSubject.MEMBER

    def require_role(self, role: Role, action: str) -> None:
        if self.role is None or self.role < role:
            raise ForbiddenError(f"{action} needs the {role.name.lower()} role or higher")


def _bearer_token() -> bytes:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value:
        raise AuthError("this endpoint needs 'Authorization: Bearer <session token>'")
    try:
        token = b64decode(value.strip(), "session token", max_len=TOKEN_SIZE)
    except MalformedError:
        raise AuthError("the session token is not valid") from None
    if len(token) != TOKEN_SIZE:
        raise AuthError("the session token is not valid")
    return token


# Every authenticated request runs this: built once, with the token hash bound per call.
SESSION_LOOKUP = (
    select(
        SessionRow.group_id,
        SessionRow.kind,
        SessionRow.subject,
        SessionRow.expires_at_ms,
        MemberRow.role,
        MemberRow.removed_seq,
    )
    .outerjoin(
        MemberRow,
        and_(
            MemberRow.group_id == SessionRow.group_id,
            MemberRow.sign_pk == SessionRow.subject,
        ),
    )
    .where(SessionRow.token_hash == bindparam("token_hash"))
)
# A waiter after its wake: the same, and the group's event counter, in one statement.
SESSION_AND_COUNTER = (SESSION_LOOKUP.add_columns(Group.event_seq)
                       .outerjoin(Group, Group.group_id == SessionRow.group_id))


def bearer_token_hash() -> bytes:
    """The hash of this request's bearer token (401 without a well-formed one; nothing is
    read): what sessions and passes are found by."""
    token_hash = g.get("vault_token_hash")
    if token_hash is None:
        token_hash = g.vault_token_hash = session_token_hash(_bearer_token())
    return bytes(token_hash)


def _session(lookup: Any = SESSION_LOOKUP) -> Any:
    """The session behind this request's bearer token (with the member row, if any)."""
    token_hash = bearer_token_hash()
    row = run(lookup, {"token_hash": token_hash}).first()
    if row is None:
        raise AuthError("the session token is not valid; sign a new challenge")
    if row.expires_at_ms <= now_ms():
        raise SessionExpiredError("the session has expired; sign a new challenge")
    return row


def require_session(lookup: Any = SESSION_LOOKUP) -> None:
    """Refuse a request without a live session before any of its input is parsed (401).

    The registry calls this first for endpoints that need a session; the handler's
    :func:`authenticate` (or, with ``SESSION_AND_COUNTER``, :func:`authenticate_with_counter`)
    then checks the session against the group in the URL, reusing the row read here.
    """
    g.vault_session = _session(lookup)


def authenticate(group_id: bytes, *, allow_invite: bool = False, allow_former: bool = False,
                 fresh: bool = False) -> Caller:
    """Who is calling, as a member (or invite holder) of *group_id*; raises otherwise.

    ``allow_former`` admits a former member too (``Caller.removed_seq`` set, no role): only
    the log read uses it. ``fresh`` re-reads the session and membership (a long-poll
    re-checks after waiting).
    """
    row = None if fresh else g.pop("vault_session", None)
    if row is None:
        row = _session()
    return _caller(row, group_id, allow_invite=allow_invite, allow_former=allow_former)


def authenticate_with_counter(group_id: bytes, *, fresh: bool) -> tuple[Caller, int]:
    """:func:`authenticate` as a member (not an invite holder or a former member), and
    *group_id*'s event counter read in the same statement: what a waiter needs, for one
    round trip instead of two. *fresh*: read now (after a wait), else reuse the registry's
    read of ``SESSION_AND_COUNTER`` when it made one. The session's pass
    (vault/api/passes.py) is issued from that one statement."""
    row = None if fresh else g.pop("vault_session", None)
    if row is None:
        row = _session(SESSION_AND_COUNTER)
    try:
        caller = _caller(row, group_id, allow_invite=False, allow_former=False)
    except VaultError:
        # Refused (removed, another group's session...): a pass it holds goes, so that its
        # next request is read, and refused, before any of its input is.
        services().passes.drop(bearer_token_hash())
        raise
    if row.event_seq is None:  # (a session outlives its group only in a corrupt database)
        raise NotFoundError("no group with this id on this relay")
    seq = int(row.event_seq)
    services().passes.issue(bearer_token_hash(), Pass(group_id, int(row.expires_at_ms), seq),
                            now_ms())
    return caller, seq


def _caller(row: Any, group_id: bytes, *, allow_invite: bool, allow_former: bool) -> Caller:
    if row.group_id != group_id:
        raise AuthError("this session belongs to another group")
    kind = AuthSubject(row.kind)
    if kind is AuthSubject.INVITE:
        if not allow_invite:
            raise ForbiddenError(
                "an invite session may only read the log and submit a join request"
            )
        invite = db.session.get(InviteRow, (group_id, row.subject))
        if invite is None or invite.revoked or invite.expires_at_ms <= now_ms():
            raise ForbiddenError("the invite behind this session is revoked or expired")
        if invite.used_up:
            raise InviteExhaustedError(
                "the invite behind this session has been used as often as it allows"
            )
        return Caller(group_id, kind, row.subject, None)
    if row.role is None or (row.removed_seq is not None and not allow_former):
        raise NotAMemberError(
            "this key is not a member of the group (it was removed or left)"
        )
    if row.removed_seq is not None:
        return Caller(group_id, kind, row.subject, None, removed_seq=int(row.removed_seq))
    return Caller(group_id, kind, row.subject, Role(row.role))
