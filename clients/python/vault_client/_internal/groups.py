"""Groups: creating one, its encrypted name, description and rules, this device's history
policy for it, and the :class:`GroupInfo` a client shows."""

from __future__ import annotations

from vault.crypto.encoding import b64encode
from vault.crypto.epochs import new_epoch_key
from vault.crypto.errors import LogError
from vault.crypto.group_state import verify_log
from vault.crypto.identity import Identity
from vault.crypto.invites import normalize_relay_url
from vault.crypto.log import MetadataBody, create_group, group_id_of
from vault.crypto.metadata import GroupMetadata, MemberProfile, seal_metadata
from vault.crypto.safety import group_code as core_group_code
from vault_client._internal import views as V
from vault_client._internal.device import Device, check_policy, policy_text, status
from vault_client._internal.log_io import append
from vault_client._internal.rotation import issue, publish_group_metadata, publish_profile
from vault_client._internal.sync import GroupView
from vault_client.types import GroupInfo, HistoryPolicy


def info(device: Device, view: GroupView) -> GroupInfo:
    state = view.state
    meta = V.group_metadata(view)
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
        group_code="" if state is None else group_code(view, None),
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
    profile) sealed under the first epoch key."""
    relay = normalize_relay_url(relay_url or _no_relay())
    metadata = GroupMetadata(name, description, rules)
    policy = check_policy(history_policy)
    profile = None if display_name is None else MemberProfile(display_name)
    identity = Identity.generate()
    key0 = new_epoch_key()
    now = device.now()
    genesis = create_group(identity, key0, now_ms=now)
    gid = group_id_of(genesis)
    # Keys first: a crash after the relay took the group must not lose its owner.
    device.keys.add_identity(gid, identity)
    device.store.add_group(gid, relay, "member", policy_text(policy), now)
    state = verify_log(gid, [genesis.raw])
    device.store.replace_log(gid, [genesis.raw], state.checkpoint().encode())
    view = device.view(gid)
    device.save_key(view, 0, key0)
    view.keys[0] = key0
    device.transport(relay).create_group(genesis.raw)
    sealed = seal_metadata(key0, gid, 0, None, metadata)
    append(device, view, lambda s: MetadataBody(None, s.epoch, sealed))
    issue(device, view, 0, [identity.public])  # recoverable after an identity import
    if profile is not None:
        publish_profile(device, view, profile)
    return view


def update(device: Device, view: GroupView, *, name: str | None, description: str | None,
           rules: str | None) -> None:
    """Change what is given of the group's metadata, keeping the rest."""
    current = V.group_metadata(view) or GroupMetadata("")
    metadata = GroupMetadata(current.name if name is None else name,
                             current.description if description is None else description,
                             current.rules if rules is None else rules)
    publish_group_metadata(device, view, metadata)


def set_history_policy(device: Device, view: GroupView, policy: HistoryPolicy) -> None:
    view.policy = check_policy(policy)
    device.store.update_group(view.group_id, history_policy=policy_text(view.policy))


def _no_relay() -> str:
    raise ValueError("no relay: pass relay_url to Client(...) or to create_group(...)")
