"""Invites and joining: making and revoking invites, joining with one (asking an admin, or
admitted by a pre-authorised invite), and an admin's side of join requests."""

from __future__ import annotations

import contextlib
from datetime import timedelta

from vault.crypto.encoding import b64encode
from vault.crypto.errors import (
    AlreadyMemberError,
    GroupDeletedError,
    InviteExhaustedError,
    NotFoundError,
    VaultError,
)
from vault.crypto.group_state import GroupState
from vault.crypto.identity import Identity
from vault.crypto.invites import (
    InviteLink,
    JoinRequest,
    invite_keypair,
    join_proof,
    make_join_request,
    new_invite,
    parse_invite_uri,
)
from vault.crypto.localstore import (
    PendingJoin,
    decode_pending_join,
    encode_pending_join,
    record_id,
)
from vault.crypto.log_entries import (
    AddBody,
    EntryBody,
    EntryKind,
    InviteBody,
    InviteRevokeBody,
    JoinBody,
    Role,
)
from vault.crypto.rules_card import accept_rules as core_accept_rules
from vault.crypto.safety import safety_number as core_safety_number
from vault_client import events as ev
from vault_client._internal import gone, naming, refs, rules
from vault_client._internal import sync as engine
from vault_client._internal import views as V
from vault_client._internal.device import Device, check_policy, status
from vault_client._internal.group_view import GroupView
from vault_client._internal.log_io import append, fetch_log, sync_log
from vault_client._internal.refs import InviteRef, MemberRef
from vault_client._internal.rotation import issue, rotate
from vault_client._internal.sync_io import check_pending, sync_group
from vault_client._internal.transport import InviteAuth
from vault_client.errors import NotPermittedError, RelayUnreachableError, UnknownGroupError
from vault_client.types import (
    GroupStatus,
    HistoryPolicy,
    Invite,
    InviteInfo,
    JoinRequestInfo,
    JoinResult,
    MemberInfo,
    RulesAcceptanceStatus,
)

# --- invites ---------------------------------------------------------------------------------


def create_invite(device: Device, view: GroupView, *, max_uses: int,
                  expires_in: timedelta | float, require_approval: bool) -> Invite:
    expires_ms = V.duration_ms(expires_in)
    assert expires_ms is not None
    invite_id, secret = new_invite()
    _sk, invite_pk = invite_keypair(secret)
    holder: dict[str, int] = {}

    def build(state: GroupState) -> EntryBody:
        holder["expires"] = max(device.now(), state.timestamp_ms) + expires_ms
        return InviteBody(invite_id, invite_pk, max_uses, holder["expires"], require_approval)

    append(device, view, build)
    rules.keep_secret(device, view, invite_id, secret)
    rules.publish_cards(device, view)  # (what the relay does not take now, the next sync does)
    link = InviteLink(view.relay_url, view.group_id, invite_id, secret)
    return Invite(view.gid, b64encode(invite_id), link.to_uri(), max_uses, holder["expires"],
                  require_approval)


def invites(device: Device, view: GroupView) -> list[InviteInfo]:
    """Every invite the group's log holds, newest last, with its uses and whether it still
    admits anyone."""
    state = view.state
    assert state is not None
    now = device.now()
    out = []
    for invite in state.invites.values():
        out.append(InviteInfo(b64encode(invite.invite_id), invite.max_uses, invite.uses,
                              invite.expires_at_ms, invite.requires_approval, invite.revoked,
                              b64encode(invite.created_by), rules.usable(state, invite, now)))
    return out


def revoke_invite(device: Device, view: GroupView, invite_id: InviteRef) -> None:
    iid = refs.invite_id(invite_id)
    append(device, view, lambda s: InviteRevokeBody(iid))


# --- joining ---------------------------------------------------------------------------------


def join(device: Device, uri: str, *, display_name: str | None = None,
         accept_rules: str | None = None) -> JoinResult:
    device.check_open()
    link = parse_invite_uri(uri)
    gid = link.group_id
    if device.store.group(gid) is not None:
        view = device.view(gid)
        if view.status == "pending":
            if accept_rules is not None and rules.kept_acceptance(device, gid) is None:
                _accept_while_pending(device, view, link, accept_rules)
            return _join_result(view, link, "pending")
        if view.status in ("member", "creating"):
            raise AlreadyMemberError("you are already a member of that group")
        # Denied, removed or left: what this device kept goes, and the person asks again
        # with a fresh identity (a key that left can never come back).
        device.forget(view)
    transport = device.transport(link.relay_url)
    invite_sk, _invite_pk = invite_keypair(link.secret)
    reader = InviteAuth(gid, link.invite_id, invite_sk)
    state, entries = fetch_log(device, transport, reader, gid)
    now = device.now()
    invite = rules.check_invite(state, link, now)
    card = None if accept_rules is None \
        else rules.accepted_card(transport, reader, link, state, accept_rules)
    identity = Identity.generate()
    acceptance = None if card is None \
        else core_accept_rules(identity, gid, card.rules_ref, card.metadata.rules,
                               card.digest_key, now_ms=now)
    device.keys.add_identity(gid, identity)
    pending_status = "pending" if invite.requires_approval else "member"
    request = make_join_request(identity, link, now_ms=now) \
        if invite.requires_approval else None
    pending = device.seal("pending-join", record_id(gid),
                          encode_pending_join(PendingJoin(link.to_uri(), request)))
    device.store.add_group(gid, link.relay_url, pending_status, "none", now, pending)
    device.store.replace_log(gid, entries, state.checkpoint().encode())
    if display_name is not None:
        naming.keep_wanted(device, gid, display_name)
    if acceptance is not None and card is not None:
        rules.keep_acceptance(device, gid, acceptance, card.metadata.rules)
    view = device.view(gid)
    try:
        if request is not None:
            with contextlib.suppress(RelayUnreachableError):  # join_status resends it
                transport.submit_join_request(gid, request.encode(),
                                              None if acceptance is None else acceptance.raw)
            return _join_result(view, link, "pending")
        proof = join_proof(link.secret, gid, link.invite_id, identity.public)
        append(device, view, lambda s: JoinBody(link.invite_id, identity.public, proof),
               as_member=False, reader=reader)
    except RelayUnreachableError:
        raise  # it may have landed: keep the identity (sync tells)
    except VaultError:
        device.forget(view)  # refused (used up, revoked...): nothing to keep
        raise
    device.store.update_group(gid, pending=None)
    with contextlib.suppress(RelayUnreachableError):
        sync_group(device, view)
    return _join_result(view, link, "joined")


def _accept_while_pending(device: Device, view: GroupView, link: InviteLink,
                          accept_rules: str) -> None:
    """The person asked to join without accepting the rules, and accepts them now: the
    acceptance is kept (the first profile names the rules) and sent with the request again,
    so admins see it (a relay keeps the first acceptance of a waiting request)."""
    transport = device.transport(link.relay_url)
    invite_sk, _invite_pk = invite_keypair(link.secret)
    reader = InviteAuth(view.group_id, link.invite_id, invite_sk)
    try:
        state, _entries = fetch_log(device, transport, reader, view.group_id)
        card = rules.accepted_card(transport, reader, link, state, accept_rules)
    except InviteExhaustedError:
        raise InviteExhaustedError(
            "your request used this invite up, so its rules cannot be read from it again; "
            "once an admin lets you in, you are asked to accept the group's rules") from None
    acceptance = core_accept_rules(view.me, view.group_id, card.rules_ref, card.metadata.rules,
                                   card.digest_key, now_ms=device.now())
    rules.keep_acceptance(device, view.group_id, acceptance, card.metadata.rules)
    row = device.store.group(view.group_id)
    pending = None if row is None or row.pending is None else decode_pending_join(
        device.unseal("pending-join", record_id(view.group_id), row.pending))
    if pending is not None and pending.request is not None:
        with contextlib.suppress(RelayUnreachableError):  # join_status sends it again
            transport.submit_join_request(view.group_id, pending.request.encode(),
                                          acceptance.raw)


def _join_result(view: GroupView, link: InviteLink, status: str) -> JoinResult:
    assert view.state is not None
    invite = view.state.invites[link.invite_id]
    inviter = view.state.member_record(invite.created_by)
    assert inviter is not None
    number = core_safety_number(view.me.public, inviter.identity)
    return JoinResult(view.gid, "pending" if status == "pending" else "joined",
                      b64encode(view.me.sign_pk), b64encode(invite.created_by), number,
                      view.me.public.short_fingerprint(),
                      V.display_name(view, invite.created_by))


def join_status(device: Device, view: GroupView) -> GroupStatus:
    if view.status == "pending":
        try:
            check_pending(device, view, [])
        except GroupDeletedError:
            gone.learn(device, view)  # (DeletionUnprovenError unless an owner's fits)
            raise UnknownGroupError("an owner deleted the group before your request was "
                                    "answered; this device no longer keeps it") from None
        if view.status == "member":
            sync_group(device, view)
    return status(view.status)


# --- an admin's side -------------------------------------------------------------------------


def pending_requests(device: Device, view: GroupView) -> list[JoinRequestInfo]:
    sync_log(device, view, [], [])
    return [_request_info(view, r, rules.request_status(view, r.joiner.sign_pk, acceptance))
            for r, acceptance in _requests(device, view)]


def _requests(device: Device, view: GroupView) -> list[tuple[JoinRequest, bytes | None]]:
    """The join requests the relay holds that verify against their invite, from people
    who may still join (with the acceptance of the rules the relay shows for each)."""
    assert view.state is not None
    found = []
    for item in device.transport(view.relay_url).join_requests(device.auth(view)):
        try:
            request = JoinRequest.decode(item.request)
            invite = view.state.invites.get(request.invite_id)
            if request.group_id != view.group_id or invite is None:
                continue
            request.verify(invite.invite_pk)
        except VaultError as error:
            device.warn(ev.InvalidPost(view.gid, f"a join request was refused: "
                                       f"{error.message}", b64encode(item.joiner), error.code))
            continue
        if view.state.can(request.joiner.sign_pk, EntryKind.JOIN):  # never a member
            found.append((request, item.acceptance))
    return found


def _request_info(view: GroupView, request: JoinRequest,
                  accepted: RulesAcceptanceStatus) -> JoinRequestInfo:
    return JoinRequestInfo(
        joiner=b64encode(request.joiner.sign_pk),
        invite_id=b64encode(request.invite_id),
        safety_number=core_safety_number(view.me.public, request.joiner),
        fingerprint=request.joiner.short_fingerprint(),
        requested_at_ms=request.requested_at_ms,
        accepted_rules=accepted,
    )


def approve(device: Device, view: GroupView, joiner: MemberRef, *, role: Role,
            share_history: HistoryPolicy | None) -> MemberInfo:
    joiner_pk = refs.member_key(joiner, lambda: [])
    sync_log(device, view, [], [])
    assert view.state is not None
    policy = view.policy if share_history is None else check_policy(share_history)
    if view.state.history is not None and policy != view.policy:
        raise NotPermittedError(
            f"the group's setting is that newcomers read {view.policy!r}; every admin admits "
            "by it. To admit someone otherwise, change the group's setting first")
    matches = [r for r, _ in _requests(device, view) if r.joiner.sign_pk == joiner_pk]
    if not matches:
        raise NotFoundError("no pending join request from this member")
    request = matches[0]
    if policy == "none":
        # One entry admits them and starts a new epoch: whatever fails afterwards, they
        # can only ever be granted keys from their admission on.
        rotate(device, view, [], admit=_add_body(request, role))
    else:
        append(device, view, lambda s: _add_body(request, role))
        assert view.state is not None
        issue(device, view, view.state.epoch, [request.joiner])
        for past in engine.history_epochs(view, policy):
            issue(device, view, past, [request.joiner])
    rules.publish_cards(device, view)  # (an admission under "none" seals the metadata again)
    return next(m for m in V.members(view) if m.member_id == b64encode(joiner_pk))


def deny(device: Device, view: GroupView, joiner: MemberRef) -> None:
    joiner_pk = refs.member_key(joiner, lambda: [])
    try:
        device.transport(view.relay_url).deny(device.auth(view), joiner_pk)
    except GroupDeletedError:
        raise gone.confirmed(device, view) from None


def _add_body(request: JoinRequest, role: Role) -> AddBody:
    return AddBody(request.joiner, Role(role), request.invite_id, request.proof)
