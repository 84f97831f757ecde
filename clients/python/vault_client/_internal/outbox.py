"""The outbox: a post is sealed and kept on this device (with its attachments) before it
is sent, and leaves the outbox only when the relay acknowledged or refused it; a post the
relay could not be reached for goes out with the next sync, exactly once."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from vault.crypto.attachments import make_attachment
from vault.crypto.encoding import b64encode
from vault.crypto.errors import (
    MalformedError,
    PostConflictError,
    PostDeletedError,
    PostRejectedError,
    TooLargeError,
)
from vault.crypto.localstore import encode_stored_post, record_id
from vault.crypto.posts import PostBody, PostKind, check_can_post, open_post, seal_post
from vault.crypto.primitives import default_random
from vault_client import events as ev
from vault_client._internal import views as V
from vault_client._internal.device import Device
from vault_client._internal.sync import GroupView


def queue(device: Device, view: GroupView, kind: PostKind, refs: tuple[bytes, ...], text: str,
          warning: str | None, expires_in: timedelta | float | None,
          attachments: Sequence[V.AttachmentInput]) -> bytes:
    """Seal a post under the current epoch's key and keep it, in one local transaction, in
    the outbox and among the group's posts; returns its post id. (The caller has brought
    the log and keys up to date first.)"""
    state = view.state
    assert state is not None
    check_can_post(state, state.epoch, author=view.me.sign_pk)
    key = device.key_for(view, state.epoch)
    now = max(device.now(), state.timestamp_ms)
    expires_ms = V.duration_ms(expires_in)
    expires = None if expires_ms is None else now + expires_ms
    made = [make_attachment(*V.read_attachment(a)) for a in attachments]
    gid = view.group_id
    post_id = default_random(16)
    with device.store.tx() as db:
        seq = device.store.take_author_seq(db, gid)
        body = PostBody(
            author=view.me.sign_pk, group_id=gid, epoch=state.epoch, post_id=post_id,
            author_seq=seq, log_seq=state.seq, log_head=state.head, timestamp_ms=now,
            kind=kind, refs=refs, text=text, content_warning=warning,
            attachments=tuple(a for a, _ in made), expires_at_ms=expires)
        envelope = seal_post(view.me, key, body)
        opened = open_post(envelope, key, state)
        blobs = [(a.blob_id, device.seal("outbox-blob", record_id(gid, a.blob_id), blob))
                 for a, blob in made]
        device.store.queue(db, gid, post_id, now,
                           device.seal("outbox-post", record_id(gid, post_id),
                                       envelope.encode()), blobs)
        device.store.save_posts(db, gid, [(
            post_id, None, state.epoch, expires,
            device.seal("post", record_id(gid, post_id), encode_stored_post(opened)))])
    view.timeline.add(opened)
    if expires is not None:
        view.expiring[opened.post_id] = expires
    return post_id


def flush(device: Device, view: GroupView, warnings: list[ev.SyncWarning]) -> set[bytes]:
    """Send the posts waiting on this device. Returns the ids of those the relay refused:
    they leave the outbox too, each with an :class:`~vault_client.events.UndeliverablePost`
    warning. Raises :class:`RelayUnreachableError` when the relay cannot be reached (what
    was not acknowledged stays in the outbox)."""
    gid = view.group_id
    transport = device.transport(view.relay_url)
    auth = device.auth(view)
    refused: set[bytes] = set()
    for post_id, sealed, blobs in device.store.outbox(gid):
        for blob_id, sealed_blob in blobs:
            blob = device.unseal("outbox-blob", record_id(gid, blob_id), sealed_blob)
            transport.put_blob(auth, blob_id, blob)
            device.store.blob_sent(gid, blob_id)
        envelope = device.unseal("outbox-post", record_id(gid, post_id), sealed)
        try:
            cursor: str | None = transport.put_post(auth, post_id, envelope)
        except (PostConflictError, PostDeletedError, PostRejectedError, MalformedError,
                TooLargeError) as error:
            warning = ev.UndeliverablePost(view.gid, f"a post could not be delivered and "
                                           f"was dropped: {error.message}",
                                           b64encode(post_id), error.code)
            warnings.append(warning)
            device.warn(warning)
            cursor = None
            refused.add(post_id)
        device.store.sent(gid, post_id, cursor)
    return refused
