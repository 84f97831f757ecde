"""Writing to a group: posts, replies, reactions, edits and deletions (each a post), and
fetching attachments."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from vault.crypto.attachments import decrypt_attachment
from vault.crypto.encoding import b64encode
from vault.crypto.errors import (
    ForbiddenError,
    NotAMemberError,
    NotFoundError,
    RelayUnreachableError,
)
from vault.crypto.posts import PostKind
from vault_client import events as ev
from vault_client._internal import outbox
from vault_client._internal import views as V
from vault_client._internal.device import Device
from vault_client._internal.log_io import sync_log
from vault_client._internal.rotation import rotate
from vault_client._internal.sync import GroupView
from vault_client._internal.sync_io import sync_grants
from vault_client.types import Posted


def publish(device: Device, view: GroupView, kind: PostKind, refs: tuple[bytes, ...],
            text: str, warning: str | None, expires_in: timedelta | float | None,
            attachments: Sequence[V.AttachmentInput]) -> Posted:
    """Seal and keep the post, then send what waits in the outbox. It is delivered when
    the relay accepted it; not when the relay could not be reached (it goes out with the
    next sync) or refused it (an :class:`~vault_client.events.UndeliverablePost` warning
    says why)."""
    _freshen(device, view)
    post_id = outbox.queue(device, view, kind, refs, text, warning, expires_in, attachments)
    try:
        refused = outbox.flush(device, view, [])
    except RelayUnreachableError:
        return Posted(view.gid, b64encode(post_id), False)
    return Posted(view.gid, b64encode(post_id), post_id not in refused)


def _freshen(device: Device, view: GroupView) -> None:
    """Before writing: the latest log (so nothing goes out under a key a removed member
    holds), a rotation this admin owes, and the current key. Offline, the local state
    is used and the post waits in the outbox."""
    events: list[ev.Event] = []
    warnings: list[ev.SyncWarning] = []
    try:
        changed = sync_log(device, view, events, warnings)
        state = view.state
        assert state is not None
        if state.rotation_pending and state.is_admin(view.me.sign_pk):
            rotate(device, view, events)
        elif changed or state.epoch not in view.keys:
            sync_grants(device, view, events, warnings, force=True)
    except RelayUnreachableError:
        pass
    for warning in warnings:
        device.warn(warning)
    if view.status != "member":
        raise NotAMemberError("this device is no longer a member of that group")


def erase(device: Device, view: GroupView, post_id: bytes) -> None:
    """Ask the relay to erase a deleted post's ciphertext (best effort: the deletion post
    already tells members' clients to drop it)."""
    with contextlib.suppress(NotFoundError, ForbiddenError, RelayUnreachableError):
        device.transport(view.relay_url).delete_post(device.auth(view), post_id)


def attachment(device: Device, view: GroupView, attachment: Any) -> bytes:
    """Download and decrypt an attachment (an :class:`AttachmentInfo` from a post)."""
    ref = attachment.ref
    blob = device.transport(view.relay_url).get_blob(device.auth(view), ref.blob_id)
    return decrypt_attachment(ref, blob)
