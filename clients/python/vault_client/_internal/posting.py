"""Writing to a group: posts, replies, reactions, edits and deletions (each a post), and
fetching attachments."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from vault.crypto.attachments import Attachment, decrypt_attachment
from vault.crypto.encoding import b64encode
from vault.crypto.errors import (
    ForbiddenError,
    NotAMemberError,
    NotFoundError,
    NotPermittedError,
    RelayUnavailableError,
)
from vault.crypto.log import Role
from vault.crypto.posts import PostKind
from vault.crypto.timeline import VisiblePost, thread_view
from vault_client import events as ev
from vault_client._internal import outbox
from vault_client._internal import views as V
from vault_client._internal.device import Device
from vault_client._internal.log_io import sync_log
from vault_client._internal.rotation import rotate
from vault_client._internal.sync import GroupView
from vault_client._internal.sync_io import refresh_keys, sync_grants
from vault_client.types import Posted


def publish(device: Device, view: GroupView, kind: PostKind, refs: tuple[bytes, ...],
            text: str, warning: str | None, expires_in: timedelta | float | None,
            attachments: Sequence[V.AttachmentInput],
            kept: Sequence[Attachment] = ()) -> Posted:
    """Seal and keep the post, then send what waits in the outbox. It is delivered when
    the relay accepted it; not when the relay could not be reached (it goes out with the
    next sync) or refused it (an :class:`~vault_client.events.UndeliverablePost` warning
    says why)."""
    _freshen(device, view)
    post_id = outbox.queue(device, view, kind, refs, text, warning, expires_in, attachments,
                           kept)
    try:
        refused = outbox.flush(device, view, [], refresh=lambda: refresh_keys(device, view))
    except RelayUnavailableError:
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
    except RelayUnavailableError:
        pass
    for warning in warnings:
        device.warn(warning)
    if view.status != "member":
        raise NotAMemberError("this device is no longer a member of that group")


def editable(view: GroupView, post_id: bytes) -> VisiblePost:
    """The post as it reads now, if this member may edit it (their own post or reply)."""
    assert view.state is not None
    found = next((p for p in thread_view(view.timeline, view.state).posts
                  if p.post_id == post_id), None)
    if found is None:
        raise NotFoundError("there is no such post on this device (sync first, or check the "
                            "post's id)")
    if found.author != view.me.sign_pk:
        raise NotPermittedError("you can only edit your own posts")
    if found.deleted:
        raise NotPermittedError("that post was deleted; it cannot be edited")
    return found


def check_delete(view: GroupView, post_id: bytes) -> None:
    """Refuse, before anything is written, a delete this member may not make."""
    state = view.state
    assert state is not None
    target = view.timeline.get(post_id)
    if target is None:
        raise NotFoundError("there is no such post on this device (sync first, or check the "
                            "post's id)")
    if target.body.kind in (PostKind.EDIT, PostKind.DELETE):
        raise NotPermittedError("edits and deletions cannot be deleted; delete the post itself")
    if target.author == view.me.sign_pk:
        return
    role = state.role_of(view.me.sign_pk)
    if role is None or role < Role.MODERATOR:
        raise NotPermittedError("only moderators and admins can delete other members' posts; "
                                "you can delete your own")


def erase(device: Device, view: GroupView, post_id: bytes) -> None:
    """Ask the relay to erase a deleted post's ciphertext, its edits' and (with them) their
    attachments (best effort: the deletion post already tells members' clients to drop
    it; the relay may refuse what this member did not upload)."""
    edits = [post.post_id for post in view.timeline.ordered()
             if post.body.kind is PostKind.EDIT and post.body.refs[0] == post_id]
    transport = device.transport(view.relay_url)
    for pid in (post_id, *edits):
        with contextlib.suppress(NotFoundError, ForbiddenError, RelayUnavailableError):
            transport.delete_post(device.auth(view), pid)


def attachment(device: Device, view: GroupView, attachment: Any) -> bytes:
    """Download and decrypt an attachment (an :class:`AttachmentInfo` from a post)."""
    ref = attachment.ref
    blob = device.transport(view.relay_url).get_blob(device.auth(view), ref.blob_id)
    return decrypt_attachment(ref, blob)
