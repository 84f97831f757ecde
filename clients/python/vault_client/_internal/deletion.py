"""Deleting a group (an owner's device). Learning of a deletion is :mod:`.gone`.

A deletion once sent cannot be taken back: the signed entry may be at the relay even when
no answer came. So the device remembers that it is deleting the group (``deleting/<gid>``
in ``meta``) before it sends, refuses every other write to the group from then on, and
sends the deletion again at each sync until it lands. An owner is never told "nothing
changed" while a relay may hold a deletion it could show members later (a lagging member's
device would accept it, protocol §4.9).
"""

from __future__ import annotations

import contextlib

from vault.crypto.encoding import b64encode
from vault.crypto.errors import GroupDeletedError, RelayUnavailableError, VaultError
from vault.crypto.log_entries import DeleteGroupBody, EntryKind
from vault_client._internal import gone, outbox
from vault_client._internal.device import Device, deleting_key
from vault_client._internal.group_view import GroupView
from vault_client._internal.log_io import append
from vault_client.errors import NotPermittedError, RelayUnreachableError
from vault_client.types import DeletedGroupInfo


def delete_group(device: Device, view: GroupView, *, discard_unsent: bool) -> DeletedGroupInfo:
    """Delete the group for everyone (its owners only): what waits in the outbox goes out
    first; refused, changing nothing, while posts still wait (unless *discard_unsent*).
    Once the deletion may have been sent, it is finished at the next sync if this call
    cannot finish it (:class:`RelayUnreachableError` says so)."""
    state = view.state
    assert state is not None
    if not state.can(view.me.sign_pk, EntryKind.DELETE_GROUP):
        raise NotPermittedError("only an owner of the group can delete it")
    key = deleting_key(view.group_id)
    try:
        if device.store.meta(key) is None:
            with contextlib.suppress(RelayUnavailableError):  # (unreachable too)
                outbox.flush(device, view, [])  # what could not go out is counted below
            waiting = len(view.unsent)
            if waiting and not discard_unsent:
                raise NotPermittedError(
                    f"{waiting} of your posts in this group are still waiting to be sent; "
                    "sync when they can go out, or delete the group anyway and lose them")
            device.store.set_meta(key, b64encode(view.group_id))
        entry = append(device, view, lambda _state: DeleteGroupBody())
    except GroupDeletedError:  # another owner was first, or an earlier attempt landed
        return gone.info(gone.learn(device, view))
    except NotPermittedError:
        raise
    except VaultError as error:
        if device.store.meta(key) is None:
            raise
        raise RelayUnreachableError(
            "the relay did not confirm the deletion, and it may already have it: this "
            "device now treats the group as being deleted (nothing more can be written to "
            f"it) and sends the deletion again at every sync until it lands ({error.message})"
        ) from None
    return gone.info(gone.drop(device, view, entry))


def finish_pending(device: Device, view: GroupView) -> DeletedGroupInfo | None:
    """At a sync: send again a deletion this device started (None if it started none)."""
    if device.store.meta(deleting_key(view.group_id)) is None:
        return None
    return delete_group(device, view, discard_unsent=True)
