"""The outbox: a post is sealed and kept on this device (with its attachments) before it
is sent, and leaves the outbox only when the relay acknowledged or refused it; a post the
relay could not be reached for goes out with the next sync, exactly once.

A waiting post whose epoch the group has left since it was sealed (a rotation or removal
happened while it waited, or the relay says so: ``epoch_stale``) is sealed again under the
current epoch, with the same post id and number, before it is sent: members who left
meanwhile must not be able to read it. It waits while that cannot be done yet (no key for
the new epoch, or a rotation is pending)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import timedelta

from vault.crypto.attachments import Attachment, make_attachment
from vault.crypto.encoding import b64encode
from vault.crypto.errors import (
    EpochStaleError,
    MalformedError,
    NotAMemberError,
    PostConflictError,
    PostDeletedError,
    PostRejectedError,
    RotationPendingError,
    TooLargeError,
    VaultError,
)
from vault.crypto.freshness import Arrival
from vault.crypto.localstore import encode_stored_post, record_id
from vault.crypto.posts import (
    PostBody,
    PostEnvelope,
    PostKind,
    check_can_post,
    open_post,
    seal_post,
)
from vault.crypto.primitives import default_random
from vault_client import events as ev
from vault_client._internal import views as V
from vault_client._internal.device import Device
from vault_client._internal.sync import GroupView, replace_own_post


def queue(device: Device, view: GroupView, kind: PostKind, refs: tuple[bytes, ...], text: str,
          warning: str | None, expires_in: timedelta | float | None,
          attachments: Sequence[V.AttachmentInput], kept: Sequence[Attachment] = ()) -> bytes:
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
            attachments=(*kept, *(a for a, _ in made)), expires_at_ms=expires)
        envelope = seal_post(view.me, key, body)
        opened = open_post(envelope, key, state)
        blobs = [(a.blob_id, device.seal("outbox-blob", record_id(gid, a.blob_id), blob))
                 for a, blob in made]
        device.store.queue(db, gid, post_id, now,
                           device.seal("outbox-post", record_id(gid, post_id),
                                       envelope.encode()), blobs)
        device.store.save_posts(db, gid, [(
            post_id, None, state.epoch, expires,
            device.seal("post", record_id(gid, post_id), encode_stored_post(opened)),
            state.seq, -1)])
    view.timeline.add(opened)
    view.arrivals[post_id] = Arrival(state.seq)
    if expires is not None:
        view.expiring[opened.post_id] = expires
    return post_id


def flush(device: Device, view: GroupView, warnings: list[ev.SyncWarning], *,
          refresh: Callable[[], None] | None = None) -> set[bytes]:
    """Send the posts waiting on this device. Returns the ids of those the relay refused:
    they leave the outbox too, each with an :class:`~vault_client.events.UndeliverablePost`
    warning. Raises :class:`RelayUnreachableError` when the relay cannot be reached (what
    was not acknowledged stays in the outbox). *refresh* brings the log and keys up to date
    when the relay says the group has moved to a newer epoch."""
    gid = view.group_id
    transport = device.transport(view.relay_url)
    auth = device.auth(view)
    refused: set[bytes] = set()
    for post_id, sealed, blobs in device.store.outbox(gid):
        original = device.unseal("outbox-post", record_id(gid, post_id), sealed)
        envelope = _current(device, view, post_id, original)
        if envelope is None:
            continue  # waits for the new epoch's key, or for a rotation
        # Every blob again, before the post (idempotent): the relay purges blobs whose post
        # never arrives, so none may be taken for sent before its post is.
        for blob_id, sealed_blob in blobs:
            blob = device.unseal("outbox-blob", record_id(gid, blob_id), sealed_blob)
            transport.put_blob(auth, blob_id, blob, post_id)
        try:
            try:
                cursor: str | None = transport.put_post(auth, post_id, envelope)
            except EpochStaleError:
                if refresh is None:
                    continue
                refresh()  # the relay knows a newer epoch: learn it, seal again, send
                envelope = _current(device, view, post_id, envelope)
                if envelope is None:
                    continue
                cursor = transport.put_post(auth, post_id, envelope)
        except EpochStaleError:
            continue  # still behind the relay: the next sync tries again
        except PostConflictError as error:
            if envelope == original:
                _refuse(view, post_id, error, warnings, device)
                refused.add(post_id)
            else:
                # The relay holds another version under this id: the first one, sent before
                # the epoch changed and acknowledged by an answer that was lost. That one
                # was delivered; this device keeps it as it is.
                _restore(device, view, post_id, original)
            cursor = None
        except (PostDeletedError, PostRejectedError, MalformedError, TooLargeError) as error:
            _refuse(view, post_id, error, warnings, device)
            cursor = None
            refused.add(post_id)
        device.store.sent(gid, post_id, cursor)
    return refused


def _refuse(view: GroupView, post_id: bytes, error: VaultError,
            warnings: list[ev.SyncWarning], device: Device) -> None:
    warning = ev.UndeliverablePost(view.gid, f"a post could not be delivered and was "
                                   f"dropped: {error.message}", b64encode(post_id), error.code)
    warnings.append(warning)
    device.warn(warning)


def _restore(device: Device, view: GroupView, post_id: bytes, raw: bytes) -> None:
    """Keep *raw* (this device's first envelope of a post) as the post's stored version."""
    envelope = PostEnvelope.decode(raw)
    key = view.keys.get(envelope.epoch)
    state = view.state
    if key is None or state is None:
        return
    opened = open_post(envelope, key, state)
    gid = view.group_id
    with device.store.tx() as db:
        device.store.replace_post(db, gid, post_id, envelope.epoch,
                                  device.seal("post", record_id(gid, post_id),
                                              encode_stored_post(opened)), envelope.log_seq)
    replace_own_post(view, opened)
    view.arrivals[post_id] = Arrival(envelope.log_seq)


def _current(device: Device, view: GroupView, post_id: bytes, raw: bytes) -> bytes | None:
    """The envelope to send: *raw*, or the same post sealed again under the current epoch
    when the group has left the one it was sealed for (None: it must wait)."""
    state = view.state
    assert state is not None
    envelope = PostEnvelope.decode(raw)
    if envelope.epoch == state.epoch and not state.rotation_pending:
        return raw
    opened = view.timeline.get(post_id)
    key = view.keys.get(state.epoch)
    if opened is None or key is None:
        return None
    try:
        check_can_post(state, state.epoch, author=view.me.sign_pk)
    except (EpochStaleError, RotationPendingError, NotAMemberError):
        return None
    if envelope.epoch == state.epoch:
        return raw  # sealed for the current epoch; it waited only for the rotation
    body = replace(opened.body, epoch=state.epoch, log_seq=state.seq, log_head=state.head)
    resealed = seal_post(view.me, key, body)
    reopened = open_post(resealed, key, state)
    gid = view.group_id
    encoded = resealed.encode()
    with device.store.tx() as db:
        device.store.requeue(db, gid, post_id,
                             device.seal("outbox-post", record_id(gid, post_id), encoded))
        device.store.replace_post(db, gid, post_id, state.epoch,
                                  device.seal("post", record_id(gid, post_id),
                                              encode_stored_post(reopened)), state.seq)
    replace_own_post(view, reopened)
    view.arrivals[post_id] = Arrival(state.seq)
    return encoded
