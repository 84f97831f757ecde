"""The group's rules before and after joining: invites' rules cards (published by the admin
who made the invite, brought up to date when the group's metadata changes), what a joiner
reads and accepts, and who among the members has accepted the rules in force."""

from __future__ import annotations

import hmac
from typing import Literal

from vault.crypto import labels
from vault.crypto.encoding import b64decode, b64encode
from vault.crypto.errors import (
    InviteExhaustedError,
    InviteExpiredError,
    InviteRevokedError,
    RateLimitedError,
    RelayUnavailableError,
    RulesCardError,
    RulesCardStaleError,
    UnknownInviteError,
    VaultError,
)
from vault.crypto.group_state import GroupState, InviteState
from vault.crypto.invites import InviteLink, invite_keypair, parse_invite_uri
from vault.crypto.localstore import record_id
from vault.crypto.log import LogEntry
from vault.crypto.log_entries import EntryKind, MetadataBody, Role
from vault.crypto.metadata import MemberProfile
from vault.crypto.primitives import labelled_hash
from vault.crypto.rules_card import (
    RulesAcceptance,
    RulesCard,
    check_rules_card,
    digest_key,
    make_rules_card,
    metadata_ref,
    open_rules_card,
    rules_digest,
    rules_ref,
    seal_rules_card,
)
from vault_client._internal import views as V
from vault_client._internal.device import Device
from vault_client._internal.group_view import GroupView, policy_of
from vault_client._internal.log_io import fetch_log
from vault_client._internal.rotation import publish_profile
from vault_client._internal.transport import InviteAuth, Transport
from vault_client.errors import EpochKeyMissingError, RelayUnreachableError
from vault_client.types import InvitePreview

RulesStatus = Literal["current", "earlier", "none", "unknown"]

# --- an admin's invites' cards -------------------------------------------------------------


def _card_key(gid: bytes, invite_id: bytes) -> str:
    return f"invite-card/{b64encode(gid)}/{b64encode(invite_id)}"


def keep_secret(device: Device, view: GroupView, invite_id: bytes, secret: bytes) -> None:
    """Keep an invite's secret (sealed) on the device that made it, so its card can be
    sealed again when the group's metadata changes; the rules ref last published follows."""
    device.store.set_meta(_card_key(view.group_id, invite_id), b64encode(
        device.seal("invite-card", record_id(view.group_id, invite_id), secret)))


def publish_cards(device: Device, view: GroupView) -> None:
    """Publish the card of every usable invite this device made whose card does not state
    the group's metadata in force (new, or the metadata changed since); forget the secrets
    of invites that no longer admit anyone. Raises nothing for the relay's answers or this
    device's records: what the relay refuses, or cannot take now, is tried again at the
    next sync (the admission or removal that called this has happened whatever becomes of
    a card)."""
    state = view.state
    if state is None or state.role_of(view.me.sign_pk) is None:
        return
    prefix = f"invite-card/{b64encode(view.group_id)}/"
    kept = device.store.meta_prefix(prefix)
    if not kept:
        return
    metadata = V.group_metadata(view)
    body = state.group_metadata
    epoch_key = None if body is None else view.keys.get(body.epoch)
    ref = b64encode(rules_ref(state))
    for key, value in kept:
        invite_id = b64decode(key.removeprefix(prefix), "invite id")
        sealed, _, published = value.partition(" ")
        invite = state.invites.get(invite_id)
        if invite is None or not usable(state, invite, device.now()):
            device.store.delete_meta(key)
            continue
        if published == ref or metadata is None or epoch_key is None \
                or not state.can(view.me.sign_pk, EntryKind.INVITE):
            continue
        try:
            secret = device.unseal("invite-card", record_id(view.group_id, invite_id),
                                   b64decode(sealed, "sealed secret"))
            card = make_rules_card(view.me, state, invite_id, metadata, epoch_key,
                                   now_ms=device.now())
            device.transport(view.relay_url).put_card(device.auth(view), invite_id,
                                                      seal_rules_card(card, secret))
        except (RelayUnreachableError, RelayUnavailableError, RateLimitedError):
            return  # the relay is away or busy: the next sync tries again
        except VaultError:
            continue  # refused (revoked meanwhile...), or unreadable here: the others go
        device.store.set_meta(key, f"{sealed} {ref}")


def usable(state: GroupState, invite: InviteState, now: int) -> bool:
    """Whether the invite still admits anyone (not revoked, expired or used up, and its
    creator still an admin, I3)."""
    creator = state.role_of(invite.created_by)
    return (not invite.revoked and invite.expires_at_ms > now
            and invite.uses < invite.max_uses and creator is not None
            and creator >= Role.ADMIN)


# --- a joiner's side ---------------------------------------------------------------------


def check_invite(state: GroupState, link: InviteLink, now: int) -> InviteState:
    """The invite as the verified log holds it, if it still admits someone."""
    invite = state.invites.get(link.invite_id)
    if invite is None or invite.invite_pk != invite_keypair(link.secret)[1]:
        raise UnknownInviteError("this group has no such invite; ask for a new one")
    creator = state.role_of(invite.created_by)
    if invite.revoked or creator is None or creator < Role.ADMIN:  # (I2, I3)
        raise InviteRevokedError("this invite was revoked; ask for a new one")
    if invite.expires_at_ms <= now:
        raise InviteExpiredError("this invite has expired; ask for a new one")
    if invite.uses >= invite.max_uses:
        raise InviteExhaustedError("this invite has been used up; ask for a new one")
    return invite


def preview(device: Device, uri: str) -> InvitePreview:
    """What the invite says of the group, checked against the group's verified log: the card
    (CARD-1 … CARD-6; one that fails only CARD-6 is shown as possibly out of date) and the
    history policy. Nothing is kept on this device."""
    device.check_open()
    link = parse_invite_uri(uri)
    transport = device.transport(link.relay_url)
    invite_sk, _pk = invite_keypair(link.secret)
    reader = InviteAuth(link.group_id, link.invite_id, invite_sk)
    state, _entries = fetch_log(device, transport, reader, link.group_id)
    invite = check_invite(state, link, device.now())
    policy = None if state.history is None else policy_of(state.history)
    found = read_card(transport, reader, link, state)
    if found is None:
        return InvitePreview(b64encode(link.group_id), link.relay_url, False, None, None, None,
                             None, policy, invite.requires_approval, None)
    card, up_to_date = found
    signer = state.member_record(card.signer)
    assert signer is not None  # CARD-5: a current admin
    return InvitePreview(b64encode(link.group_id), link.relay_url, True, card.metadata.name,
                         card.metadata.description, card.metadata.rules,
                         text_id(card.metadata.rules), policy,
                         invite.requires_approval, signer.identity.short_fingerprint(),
                         up_to_date)


def read_card(transport: Transport, reader: InviteAuth, link: InviteLink,
              state: GroupState) -> tuple[RulesCard, bool] | None:
    """The invite's card, checked against the verified log, and whether it states the
    metadata in force (False: it failed only CARD-6); None when none was published."""
    envelope = transport.card(reader, link.invite_id)
    if envelope is None:
        return None
    card = open_rules_card(envelope, link.secret, link.group_id, link.invite_id)
    try:
        check_rules_card(card, state)
    except RulesCardStaleError:  # (CARD-5, a current admin's, passed first)
        return card, False
    return card, True


def text_id(rules: str) -> str:
    """What a preview's ``rules_id`` is: a hash of the rules text shown, compared on this
    device only (never sent), so that the same rules in a renewed card are accepted."""
    return b64encode(labelled_hash(labels.RULES_TEXT, rules.encode("utf-8")))


def accepted_card(transport: Transport, reader: InviteAuth, link: InviteLink,
                  state: GroupState, accepted: str) -> RulesCard:
    """The card the relay holds for the invite now, if its rules are the text the joiner
    read and accepted (*accepted*: the preview's ``rules_id``, the digest of that text; a
    card renewed since for the same rules will do)."""
    found = read_card(transport, reader, link, state)
    if found is None:
        raise RulesCardError("the relay no longer shows this invite's description; read it "
                             "again before asking to join")
    if not hmac.compare_digest(text_id(found[0].metadata.rules), accepted):
        raise RulesCardStaleError("the group's rules changed since you read them; read them "
                                  "again before asking to join")
    return found[0]


def _acceptance_key(gid: bytes) -> str:
    return f"accepted-rules/{b64encode(gid)}"


def keep_acceptance(device: Device, gid: bytes, acceptance: RulesAcceptance,
                    rules_text: str) -> None:
    """Until admitted: sent again with the request, then written into the first profile.
    The rules' text is kept too (sealed): a newcomer who may read nothing from before they
    joined cannot open the metadata they accepted, only compare its text with the rules
    in force once admitted."""
    sealed = device.seal("accepted-rules", record_id(gid), rules_text.encode("utf-8"))
    device.store.set_meta(_acceptance_key(gid),
                          f"{b64encode(acceptance.raw)} {b64encode(sealed)}")


def _kept(device: Device, gid: bytes) -> tuple[RulesAcceptance, str] | None:
    """The acceptance kept until admission, and the rules text it was for."""
    saved = device.store.meta(_acceptance_key(gid))
    if saved is None:
        return None
    raw, _, sealed = saved.partition(" ")
    text = device.unseal("accepted-rules", record_id(gid), b64decode(sealed, "accepted rules"))
    return RulesAcceptance.decode(b64decode(raw, "acceptance")), text.decode("utf-8")


def kept_acceptance(device: Device, gid: bytes) -> RulesAcceptance | None:
    kept = _kept(device, gid)
    return None if kept is None else kept[0]


def first_profile_ref(device: Device, view: GroupView) -> bytes | None:
    """The rules ref a newcomer's first profile names: the rules in force when their text
    is the one they accepted before joining, else what they accepted (None: nothing)."""
    kept = _kept(device, view.group_id)
    if kept is None:
        return None
    accepted, text = kept[0].rules_ref, kept[1]
    current = V.group_metadata(view)
    assert view.state is not None
    if current is not None and current.rules == text:
        return rules_ref(view.state)
    if _metadata_at(view, accepted)[0] == text:
        return accepted  # earlier rules, truly those they read: they are asked again
    return None  # the card's text was not what the group's entry held: nothing accepted


def drop_acceptance(device: Device, gid: bytes) -> None:
    device.store.delete_meta(_acceptance_key(gid))


# --- members' acceptances ------------------------------------------------------------------


def _metadata_at(view: GroupView, ref: bytes) -> tuple[str | None, int | None]:
    """The rules text (None: unreadable here) and epoch of the group METADATA entry at
    *ref*, (None, None) when the log holds none. Read from the log only when an acceptance
    names other than the metadata in force (a rotation seals the same metadata again, under
    a new ref), and kept on the view until the log grows."""
    state = view.state
    assert state is not None
    cached = view.rules_texts
    if cached is None or cached[0] != len(view.entries):
        found: dict[bytes, tuple[str | None, int]] = {}
        for raw in view.entries:
            body = LogEntry.decode(raw).body
            if isinstance(body, MetadataBody) and body.subject is None:
                meta = V.group_metadata(view, body)
                found[metadata_ref(state.group_id, body)] = \
                    (None if meta is None else meta.rules, body.epoch)
        view.rules_texts = cached = (len(view.entries), found)
    return cached[1].get(ref, (None, None))


def status_of(view: GroupView, accepted: bytes | None) -> RulesStatus:
    """``current``: *accepted* names the metadata in force, or one whose rules text is the
    current one; ``earlier``: other rules; ``none``: nothing accepted."""
    state = view.state
    assert state is not None
    if accepted is None:
        return "none"
    if accepted == rules_ref(state):
        return "current"
    current = V.group_metadata(view)
    if current is not None and _metadata_at(view, accepted)[0] == current.rules:
        return "current"
    return "earlier"


def accepted_by(view: GroupView) -> dict[bytes, RulesStatus]:
    """Each current member's acceptance of the rules in force (what admins see)."""
    state = view.state
    assert state is not None
    out: dict[bytes, RulesStatus] = {}
    for pk in state.members:
        profile = V.member_profile(view, pk)
        out[pk] = status_of(view, None if profile is None else profile.accepted_rules)
    return out


def resealed(view: GroupView, profile: MemberProfile) -> MemberProfile:
    """This member's profile sealed again for a new epoch: when it names rules whose text is
    the current rules', it names the metadata in force instead, so that members who cannot
    open earlier epochs (newcomers under history "none") see the acceptance too."""
    state = view.state
    assert state is not None
    accepted = profile.accepted_rules
    if accepted is None or accepted == rules_ref(state) or status_of(view, accepted) != "current":
        return profile
    return MemberProfile(profile.display_name, rules_ref(state))


def to_accept(view: GroupView) -> bool:
    """Whether this member has rules to read and accept: the group has rules, and what they
    accepted (if anything) is not them."""
    current = V.group_metadata(view)
    if current is None or not current.rules.strip():
        return False
    mine = V.member_profile(view, view.me.sign_pk)
    return status_of(view, None if mine is None else mine.accepted_rules) != "current"


def accept(device: Device, view: GroupView, rules_id: str | None = None) -> None:
    """Accept the rules in force: this member's profile, with the same name, names them
    (nothing is written when it already names these rules, or the same rules text). With
    *rules_id* (:attr:`GroupInfo.rules_id` of the rules the person read), refused when the
    rules changed since (:class:`RulesCardStaleError`)."""
    state = view.state
    assert state is not None
    if rules_id is not None and status_of(view, b64decode(rules_id, "rules id")) != "current":
        raise RulesCardStaleError("the group's rules changed since you read them; read them "
                                  "again")
    mine = own_profile(view)
    if status_of(view, None if mine is None else mine.accepted_rules) == "current":
        return
    name = "" if mine is None else mine.display_name
    publish_profile(device, view, MemberProfile(name, rules_ref(state)))


def own_profile(view: GroupView) -> MemberProfile | None:
    """This member's profile (None: none yet); refused while this device cannot open it, so
    that writing a new one never drops the name or the acceptance it holds."""
    assert view.state is not None
    mine = V.member_profile(view, view.me.sign_pk)
    if mine is None and view.me.sign_pk in view.state.profiles:
        raise EpochKeyMissingError("this device cannot read your profile in this group yet "
                                   "(the group's key has not arrived): sync, then try again")
    return mine


def request_status(view: GroupView, joiner: bytes, raw: bytes | None) -> RulesStatus:
    """What a join request's acceptance says, once checked (signed by the joiner, for this
    group; anything else counts as none): whether the text the joiner read is the rules in
    force (``rules_digest``: the joiner took the card's word for what the entry holds)."""
    if raw is None:
        return "none"
    try:
        acceptance = RulesAcceptance.decode(raw)
    except VaultError:
        return "none"
    if acceptance.group_id != view.group_id or acceptance.member != joiner:
        return "none"
    current = V.group_metadata(view)
    epoch = _metadata_at(view, acceptance.rules_ref)[1]
    key = None if epoch is None else view.keys.get(epoch)
    if current is None or epoch is None or key is None:
        return "unknown"  # the rules in force, or the epoch the card was for, unreadable here
    expected = rules_digest(digest_key(key, view.group_id, epoch), current.rules)
    return "current" if hmac.compare_digest(acceptance.rules_digest, expected) else "earlier"


