"""This member's display name: taken only when no other member looks the same, and kept
for later when it cannot be set yet (a join waiting for approval, or for the group's key);
a newcomer's first profile, with the rules they accepted before joining."""

from __future__ import annotations

from vault.crypto.encoding import b64decode, b64encode
from vault.crypto.localstore import record_id
from vault.crypto.metadata import MemberProfile
from vault_client import events as ev
from vault_client._internal import rules
from vault_client._internal import views as V
from vault_client._internal.device import Device
from vault_client._internal.group_view import GroupView
from vault_client._internal.names import looks_like_label, name_key
from vault_client._internal.rotation import publish_profile
from vault_client.errors import EpochKeyMissingError, NameTakenError


def set_display_name(device: Device, view: GroupView, name: str, *,
                     accepted_rules: bytes | None = None) -> None:
    """Publish this member's name, unless another current member's looks the same; with
    the rules they accepted before (or *accepted_rules*)."""
    if accepted_rules is None:
        mine = rules.own_profile(view)  # refused while unreadable: nothing of it is dropped
        accepted_rules = None if mine is None else mine.accepted_rules
    # the protocol's rules first (length, characters, NFC)
    profile = MemberProfile(name, accepted_rules)
    assert view.state is not None
    if looks_like_label(profile.display_name):
        raise NameTakenError("a name cannot look like the labels Vault gives members (a "
                             "fingerprint in brackets, or 'member' and a fingerprint)")
    key = name_key(profile.display_name)
    shown = V.labels(view)
    for pk in view.state.members:
        other = V.display_name(view, pk)
        if pk == view.me.sign_pk:
            continue
        if (other is not None and name_key(other) == key) or name_key(shown[pk][0]) == key:
            raise NameTakenError(
                f"another member is already shown as {shown[pk][0]!r}, which looks the same; "
                "choose a name others can tell apart (add an initial, for instance)")
    publish_profile(device, view, profile)


def _wanted_key(gid: bytes) -> str:
    return f"wanted-name/{b64encode(gid)}"


def keep_wanted(device: Device, gid: bytes, name: str) -> None:
    """Remember the name a joiner chose, to set once it can be (sealed: it is theirs)."""
    MemberProfile(name)  # refused now if the protocol refuses it
    device.store.set_meta(_wanted_key(gid), b64encode(
        device.seal("wanted-name", record_id(gid), name.encode("utf-8"))))


def wanted(device: Device, gid: bytes) -> str | None:
    saved = device.store.meta(_wanted_key(gid))
    if saved is None:
        return None
    return device.unseal("wanted-name", record_id(gid), b64decode(saved)).decode("utf-8")


def drop_wanted(device: Device, gid: bytes) -> None:
    device.store.delete_meta(_wanted_key(gid))


def write_first_profile(device: Device, view: GroupView, events: list[ev.Event],
                        warnings: list[ev.SyncWarning]) -> None:
    """A newcomer's first profile, once they can write one: the name they chose when joining
    and the rules they accepted before (both kept until then); a name set meanwhile stays.
    Nothing is written while this device cannot read its own profile (the next sync)."""
    wanted_name = wanted(device, view.group_id)
    accepted = rules.first_profile_ref(device, view)
    if wanted_name is None and accepted is None:
        return
    try:
        own = rules.own_profile(view)
    except EpochKeyMissingError:
        return
    kept_name = "" if own is None else own.display_name
    try:
        if wanted_name is not None:
            set_display_name(device, view, wanted_name, accepted_rules=accepted)
        else:
            publish_profile(device, view, MemberProfile(kept_name, accepted))
        events.append(ev.ProfileUpdated(view.gid, b64encode(view.me.sign_pk)))
    except NameTakenError as error:
        warnings.append(ev.NameNotSet(view.gid, f"the name you chose when joining was not "
                                      f"set: {error.message}"))
        if accepted is not None:
            publish_profile(device, view, MemberProfile(kept_name, accepted))
    drop_wanted(device, view.group_id)
    rules.drop_acceptance(device, view.group_id)
