"""Deleting a group (an owner's device). Learning of a deletion is :mod:`.gone`.

A deletion once sent cannot be taken back: the signed entry may be at the relay even when
no answer came. So when the relay does not answer, the device remembers that it is deleting
the group (``deleting/<gid>`` in ``meta``), refuses every other write to the group from then
on, and sends the deletion again at each sync until it lands, instead of telling the owner
"nothing changed" while the relay may hold a deletion it could show a lagging member later
(protocol §4.9). A deletion this device refuses itself (no longer an owner), or the relay
refuses for good, leaves no such mark: the group goes on, and the owner is told.
"""

from __future__ import annotations

import contextlib

from vault.crypto.encoding import b64encode
from vault.crypto.errors import GroupDeletedError, RelayUnavailableError, VaultError
from vault.crypto.log import LogEntry
from vault.crypto.log_entries import DeleteGroupBody, EntryKind
from vault_client import events as ev
from vault_client._internal import gone, outbox
from vault_client._internal.device import Device, deleting_key
from vault_client._internal.group_view import GroupView
from vault_client._internal.log_io import append, sync_log
from vault_client.errors import NotPermittedError, RelayUnreachableError
from vault_client.types import DeletedGroupInfo


def delete_group(device: Device, view: GroupView, *, discard_unsent: bool) -> DeletedGroupInfo:
    """Delete the group for everyone (its owners only): what waits in the outbox goes out
    first; refused, changing nothing, while posts still wait (unless *discard_unsent*).
    When the relay does not answer, the deletion is finished at the next sync
    (:class:`RelayUnreachableError` says so)."""
    state = view.state
    assert state is not None
    if not state.can(view.me.sign_pk, EntryKind.DELETE_GROUP):
        raise NotPermittedError("only an owner of the group can delete it")
    key = deleting_key(view.group_id)
    if device.store.meta(key) is None:
        with contextlib.suppress(RelayUnavailableError):  # (unreachable too)
            outbox.flush(device, view, None)  # what could not go out is counted below
        waiting = len(view.unsent)
        if waiting and not discard_unsent:
            raise NotPermittedError(
                f"{waiting} of your posts in this group are still waiting to be sent; sync "
                "when they can go out, or delete the group anyway and lose them")

    def mark(_entry: LogEntry) -> None:  # passed this device's checks: it may now be sent
        device.store.set_meta(key, b64encode(view.group_id))

    try:
        entry = append(device, view, lambda _state: DeleteGroupBody(), before_send=mark)
    except GroupDeletedError:  # another owner was first, or an earlier attempt landed
        return gone.info(gone.learn(device, view))
    except RelayUnavailableError as error:  # (unreachable too) it may have landed
        if device.store.meta(key) is None:
            raise
        raise RelayUnreachableError(
            "the relay did not confirm the deletion, and it may already have it: this "
            "device now treats the group as being deleted (nothing more can be written to "
            f"it) and sends the deletion again at every sync until it lands ({error.message})"
        ) from None
    except VaultError:
        device.store.delete_meta(key)  # refused here, or by the relay: the group goes on
        raise
    return gone.info(gone.drop(device, view, entry))


def finish_pending(device: Device, view: GroupView, events: list[ev.Event],
                   warnings: list[ev.SyncWarning]) -> bool:
    """At a sync: send again a deletion this device started. True once the group is gone;
    False when there was none to send, or it can no longer be made (then the group goes
    on, with a :class:`~vault_client.events.DeletionNotCompleted` warning). Raises
    :class:`RelayUnavailableError` while the relay does not answer (the mark stays)."""
    key = deleting_key(view.group_id)
    if device.store.meta(key) is None:
        return False
    sync_log(device, view, events, warnings)  # (a removal or demotion is reported as usual)
    try:
        if view.status != "member":
            raise NotPermittedError("this device is no longer a member of the group")
        delete_group(device, view, discard_unsent=True)
    except RelayUnavailableError:
        raise
    except VaultError as error:
        if isinstance(error, GroupDeletedError):
            raise
        device.store.delete_meta(key)
        warnings.append(ev.DeletionNotCompleted(
            view.gid, f"your deletion of this group could not be made ({error.message}); the "
                      "group goes on. A signed copy of the deletion may still be at the "
                      "relay, which could show it to a member who has not synced for a while"))
        return False
    return True
