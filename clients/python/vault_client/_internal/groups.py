"""Groups: creating one, its encrypted name, description and rules, this device's history
policy for it, and the :class:`GroupInfo` a client shows."""

from __future__ import annotations

import contextlib
from dataclasses import replace

from vault.crypto.encoding import b64decode, b64encode
from vault.crypto.epochs import new_epoch_key
from vault.crypto.errors import LogError, RelayUnavailableError, VaultError
from vault.crypto.identity import Identity
from vault.crypto.localstore import record_id
from vault.crypto.log import create_group, group_id_of
from vault.crypto.log_entries import MetadataBody
from vault.crypto.log_verify import verify_log
from vault.crypto.metadata import (
    GroupMetadata,
    MemberProfile,
    open_group_metadata,
    seal_metadata,
)
from vault.crypto.rules_card import metadata_ref, rules_ref
from vault.crypto.safety import group_code as core_group_code
from vault_client._internal import rules as rules_io
from vault_client._internal import views as V
from vault_client._internal.device import Device, check_policy, policy_text, status
from vault_client._internal.group_view import GroupView, history_body
from vault_client._internal.log_io import append, sync_log
from vault_client._internal.rotation import edit_group_metadata, issue
from vault_client.errors import InvalidArgumentError, NotPermittedError
from vault_client.types import GroupInfo, HistoryPolicy


def info(device: Device, view: GroupView) -> GroupInfo:
    state = view.state
    meta = V.group_metadata(view)
    if meta is None and view.status == "creating":
        meta = _kept_metadata(device, view)
    me = view.me.sign_pk
    return GroupInfo(
        group_id=view.gid,
        relay_url=view.relay_url,
        status=status(view.status),
        name=None if meta is None else meta.name,
        description="" if meta is None else meta.description,
        rules="" if meta is None else meta.rules,
        my_member_id=b64encode(me),
        my_role=None if state is None else state.role_of(me),
        epoch=0 if state is None else state.epoch,
        member_count=0 if state is None else len(state.members),
        log_seq=-1 if state is None else state.seq,
        log_head="" if state is None else b64encode(state.head),
        rotation_pending=False if state is None else state.rotation_pending,
        history_policy=view.policy,
        unsent_posts=device.store.outbox_count(view.group_id),
        number=view.number,
        group_code="" if state is None else group_code(view, None),
        rules_to_accept=state is not None and view.status == "member"
        and rules_io.to_accept(view),
        rules_id="" if state is None else b64encode(rules_ref(state)),
    )


def group_code(view: GroupView, at_seq: int | None) -> str:
    """The group code at log entry *at_seq* (default: the last this device verified)."""
    state = view.state
    if state is None:
        raise LogError("this device has not verified the group's log yet; sync first")
    seq = state.seq if at_seq is None else at_seq
    head = state.hash_at(seq)
    if head is None:
        raise LogError(f"this device has verified the log up to entry {state.seq} only; "
                       "compare the code at an entry both of you have")
    return core_group_code(state.group_id, seq, head, state.epoch_at(seq))


def create(device: Device, name: str, description: str, rules: str, *, relay_url: str | None,
           display_name: str | None, history_policy: HistoryPolicy) -> GroupView:
    """A new group on *relay_url*, owned by a fresh identity; its metadata (and the owner's
    profile) sealed under the first epoch key.

    Everything is kept on this device first (keys, the genesis entry, the sealed name), with
    the group's status ``creating``; then it is created on the relay. When the relay cannot
    be reached the group stays ``creating`` and the next sync finishes it
    (:func:`finish_create`): nothing is half-made, and nothing blocks other groups."""
    relay = V.relay_address(relay_url or _no_relay())
    metadata = GroupMetadata(name, description, rules)
    policy = check_policy(history_policy)
    identity = Identity.generate()
    key0 = new_epoch_key()
    now = device.now()
    genesis = create_group(identity, key0, now_ms=now)
    gid = group_id_of(genesis)
    # Keys first: a crash after the relay took the group must not lose its owner.
    device.keys.add_identity(gid, identity)
    device.store.add_group(gid, relay, "creating", policy_text(policy), now)
    state = verify_log(gid, [genesis.raw])
    device.store.replace_log(gid, [genesis.raw], state.checkpoint().encode())
    view = device.view(gid)
    device.save_key(view, 0, key0)
    view.keys[0] = key0
    sealed = seal_metadata(key0, gid, 0, None, metadata)
    _keep(device, gid, "metadata", sealed)
    # The creator accepts the rules they wrote: their first profile names them.
    accepted = metadata_ref(gid, MetadataBody(None, 0, sealed)) if rules.strip() else None
    profile = None if display_name is None and accepted is None \
        else MemberProfile(display_name or "", accepted)
    if profile is not None:
        _keep(device, gid, "profile", seal_metadata(key0, gid, 0, identity.sign_pk, profile))
    with contextlib.suppress(RelayUnavailableError):
        finish_create(device, view)
    return view


def finish_create(device: Device, view: GroupView) -> None:
    """Create on the relay a group made on this device (idempotent: each step is done only
    if the log does not show it yet), then make it an ordinary group here."""
    gid = view.group_id
    device.transport(view.relay_url).create_group(view.entries[0])
    metadata = _kept(device, gid, "metadata")
    if metadata is not None and (view.state is None or view.state.group_metadata is None):
        append(device, view, lambda s: MetadataBody(None, 0, metadata))
    if (0, view.me.sign_pk) not in view.issued:
        issue(device, view, 0, [view.me.public])  # recoverable after an identity import
    profile = _kept(device, gid, "profile")
    assert view.state is not None
    if profile is not None and view.me.sign_pk not in view.state.profiles:
        append(device, view, lambda s: MetadataBody(view.me.sign_pk, 0, profile))
    assert view.state is not None
    chosen = view.local_policy
    if chosen != "none" and view.state.history is None:
        # The creator chose to share history: said in the log, for every admin's device.
        # ("none", the default, needs no entry: every device admits by it without one.)
        append(device, view, lambda s: history_body(chosen))
    view.status = "member"
    device.store.update_group(gid, status="member")
    for what in ("metadata", "profile"):
        device.store.delete_meta(_kept_key(gid, what))


def _kept_metadata(device: Device, view: GroupView) -> GroupMetadata | None:
    """The name of a group made here and not yet on the relay (sealed under epoch 0)."""
    kept = _kept(device, view.group_id, "metadata")
    key = view.keys.get(0)
    if kept is None or key is None:
        return None
    return open_group_metadata(kept, key, view.group_id, 0)


def _kept_key(gid: bytes, what: str) -> str:
    return f"create/{b64encode(gid)}/{what}"


def _keep(device: Device, gid: bytes, what: str, envelope: bytes) -> None:
    sealed = device.seal("create-" + what, record_id(gid), envelope)
    device.store.set_meta(_kept_key(gid, what), b64encode(sealed))


def _kept(device: Device, gid: bytes, what: str) -> bytes | None:
    saved = device.store.meta(_kept_key(gid, what))
    if saved is None:
        return None
    return device.unseal("create-" + what, record_id(gid), b64decode(saved))


def update(device: Device, view: GroupView, *, name: str | None, description: str | None,
           rules: str | None) -> None:
    """Change what is given of the group's metadata, keeping the rest (its channels too), on
    the newest metadata in the log."""
    def edit(current: GroupMetadata) -> GroupMetadata:
        return replace(current, name=current.name if name is None else name,
                       description=current.description if description is None else description,
                       rules=current.rules if rules is None else rules)

    written = edit_group_metadata(device, view, edit)
    if written is None:
        return
    current, metadata = written
    if metadata.rules != current.rules and metadata.rules.strip():
        # Whoever sets the rules accepts them; members are asked to (rules.to_accept).
        with contextlib.suppress(VaultError):  # (their profile follows at a later try)
            rules_io.accept(device, view)
    rules_io.publish_cards(device, view)


def set_history_policy(device: Device, view: GroupView, policy: HistoryPolicy) -> None:
    """Set what new members may read, for the whole group (admins): a HISTORY entry that
    every admin's device admits by. Nothing is written when the log already says so."""
    chosen = check_policy(policy)
    sync_log(device, view, [], [])
    state = view.state
    assert state is not None
    if not state.is_admin(view.me.sign_pk):
        raise NotPermittedError("only admins set what new members may read")
    if state.history is not None and view.policy == chosen:
        return
    append(device, view, lambda s: history_body(chosen))
    view.local_policy = chosen
    device.store.update_group(view.group_id, history_policy=policy_text(chosen))


def _no_relay() -> str:
    raise InvalidArgumentError("no relay to create the group on: pass relay_url to "
                               "Client(...) or to create_group(...)")
