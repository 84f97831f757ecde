"""The outbox: what a member writes is kept on this device before anything is sent, and
leaves the outbox only when the relay acknowledged or refused it.

A post is first kept *as written* (its draft: a PostBody, its attachments already
encrypted), in one local transaction that also reserves its id and number: nothing the
relay or the network does can lose it after that. It is sealed for the group when it can
be (this device holds the current epoch's key, and no rotation is pending), then sent,
exactly once, with its attachments.

A waiting post whose epoch the group has left since it was sealed (a rotation or removal
happened while it waited, or the relay says so: ``epoch_stale``) is sealed again under the
current epoch, with the same post id and number, before it is sent: members who left
meanwhile must not be able to read it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Literal

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
from vault.crypto.post_body import PostBody, PostKind
from vault.crypto.posts import PostEnvelope, check_can_post, open_post, seal_post
from vault.crypto.primitives import default_random
from vault_client import events as ev
from vault_client._internal import channels, rights
from vault_client._internal import views as V
from vault_client._internal.device import Device
from vault_client._internal.group_view import GroupView
from vault_client._internal.store import OutboxRow
from vault_client._internal.sync import remove_own_post, replace_own_post

Outcome = Literal["sent", "waiting", "refused"]

WAIT_KEY = ("this device does not have the group's current key yet (an admin's device "
            "shares it when it next syncs); it will be sent then")
WAIT_ROTATION = ("a member left and no admin has changed the group's key yet; it will be "
                 "sent once an admin has")


@dataclass
class Flushed:
    """What a flush did with each waiting post: ``outcomes`` by post id, with why a post
    still waits (``reasons``) or was refused (its warning)."""

    outcomes: dict[bytes, Outcome]
    reasons: dict[bytes, str]


def write_time(device: Device, view: GroupView) -> int:
    """The time a post written now is dated with: this device's clock, or the log's last
    entry's time when that is later (a post is never dated before the log it names)."""
    state = view.state
    assert state is not None
    return max(device.now(), state.timestamp_ms)


def queue(device: Device, view: GroupView, kind: PostKind, refs: tuple[bytes, ...], text: str,
          warning: str | None, expires_in: timedelta | float | None,
          attachments: Sequence[V.AttachmentInput], kept: Sequence[Attachment] = (), *,
          options: Sequence[str] = (), closes_in: timedelta | float | None = None,
          choice: int | None = None, at_ms: int | None = None,
          channel: bytes | None = None) -> bytes:
    """Keep a post as written, with its attachments encrypted, in the outbox (one local
    transaction, which also reserves its id and number); returns its post id. Nothing here
    needs the relay, the group's key or a fresh log: it is sealed when it is sent."""
    state = view.state
    assert state is not None
    if not state.is_member(view.me.sign_pk):
        raise NotAMemberError("this device is no longer a member of that group")
    # (*at_ms*: the time a caller already judged the post by, e.g. a vote before its
    # poll's closing time: the post is dated with that very time.)
    now = write_time(device, view) if at_ms is None else at_ms
    expires_ms = V.duration_ms(expires_in)
    expires = None if expires_ms is None else now + expires_ms
    closes_ms = V.duration_ms(closes_in)
    closes = None if closes_ms is None else now + closes_ms
    if kind in (PostKind.EDIT, PostKind.REACTION, PostKind.DELETE, PostKind.VOTE,
                PostKind.PIN) and expires is None:
        # What acts on a disappearing post disappears with it (an edit holds its words).
        target = view.timeline.get(refs[0])
        ends = None if target is None else target.body.expires_at_ms
        if ends is not None and ends > now:
            expires = ends
    if kind is PostKind.REPLY and channel is None:  # a reply is in its target's channel
        channel = channels.of_target(view, refs[0])
    made = [make_attachment(*V.read_attachment(a)) for a in attachments]
    gid = view.group_id
    post_id = default_random(16)
    with device.store.tx() as db:
        seq = device.store.take_author_seq(db, gid)
        # Epoch and log position are filled in when it is sealed for the group.
        draft = PostBody(
            author=view.me.sign_pk, group_id=gid, epoch=state.epoch, post_id=post_id,
            author_seq=seq, log_seq=state.seq, log_head=state.head, timestamp_ms=now,
            kind=kind, refs=refs, text=text, content_warning=warning,
            attachments=(*kept, *(a for a, _ in made)), expires_at_ms=expires,
            poll_options=tuple(options), poll_closes_at_ms=closes, vote_choice=choice,
            channel=channel)
        blobs = [(a.blob_id, device.seal("outbox-blob", record_id(gid, a.blob_id), blob))
                 for a, blob in made]
        device.store.queue(db, gid, post_id, now,
                           device.seal("outbox-draft", record_id(gid, post_id), draft.encode()),
                           blobs)
    view.drafts[post_id] = draft
    view.unsent.add(post_id)
    return post_id


def flush(device: Device, view: GroupView, warnings: list[ev.SyncWarning] | None, *,
          refresh: Callable[[], None] | None = None) -> Flushed:
    """Seal what can be sealed and send the posts waiting on this device. Those the relay
    refuses (or this device can no longer send) leave the outbox too, each with an
    :class:`~vault_client.events.UndeliverablePost` warning, added to *warnings* for the
    caller to report (a sync's report), or reported here when *warnings* is None. Raises
    :class:`RelayUnreachableError` when the relay cannot be reached (what was not
    acknowledged stays in the outbox). *refresh* brings the log and keys up to date when the
    relay says the group has moved to a newer epoch."""
    found: list[ev.SyncWarning] = [] if warnings is None else warnings
    try:
        with device.sending():
            return _flush(device, view, found, refresh)
    finally:
        if warnings is None:
            for warning in found:
                device.warn(warning)


def _flush(device: Device, view: GroupView, warnings: list[ev.SyncWarning],
           refresh: Callable[[], None] | None) -> Flushed:
    gid = view.group_id
    transport = device.transport(view.relay_url)
    auth = device.auth(view)
    done = Flushed({}, {})
    for row in device.store.outbox(gid):
        post_id = row.post_id
        original = None if not row.sealed else \
            device.unseal("outbox-post", record_id(gid, post_id), row.sealed)
        envelope = _current(device, view, row, original, done, warnings)
        if envelope is None:
            done.outcomes.setdefault(post_id, "waiting")
            continue
        # Every blob again, before the post (idempotent): the relay purges blobs whose post
        # never arrives, so none may be taken for sent before its post is.
        for blob_id, sealed_blob in row.blobs:
            blob = device.unseal("outbox-blob", record_id(gid, blob_id), sealed_blob)
            transport.put_blob(auth, blob_id, blob, post_id)
        try:
            try:
                cursor: str | None = transport.put_post(auth, post_id, envelope)
            except EpochStaleError:
                if refresh is None:
                    raise
                refresh()  # the relay knows a newer epoch: learn it, seal again, send
                envelope = _current(device, view, row, envelope, done, warnings)
                if envelope is None:
                    done.outcomes.setdefault(post_id, "waiting")
                    continue
                cursor = transport.put_post(auth, post_id, envelope)
        except EpochStaleError:
            done.outcomes[post_id] = "waiting"  # still behind the relay: the next sync
            done.reasons[post_id] = WAIT_KEY
            continue
        except PostConflictError as error:
            if original is None or envelope == original:
                _refuse(view, post_id, error, warnings, device, done)
            else:
                # The relay holds another version under this id: the first one, sent before
                # the epoch changed and acknowledged by an answer that was lost. That one
                # was delivered; this device keeps it as it is.
                _restore(device, view, post_id, original)
                done.outcomes[post_id] = "sent"
            cursor = None
        except (PostDeletedError, PostRejectedError, MalformedError, TooLargeError) as error:
            _refuse(view, post_id, error, warnings, device, done)
            cursor = None
        else:
            done.outcomes[post_id] = "sent"
        device.store.sent(gid, post_id, cursor)
        view.drafts.pop(post_id, None)
        view.unsent.discard(post_id)
    return done


def drop(device: Device, view: GroupView, post_id: bytes) -> None:
    """Take a post this device never sent out of the outbox, and out of the group's posts
    here (it was refused before it could go out)."""
    device.store.unqueue(view.group_id, post_id)
    view.drafts.pop(post_id, None)
    view.unsent.discard(post_id)
    view.arrivals.pop(post_id, None)
    view.expiring.pop(post_id, None)
    if post_id in view.timeline:
        remove_own_post(view, post_id)


def _refuse(view: GroupView, post_id: bytes, error: VaultError,
            warnings: list[ev.SyncWarning], device: Device, done: Flushed) -> None:
    message = f"the relay refused a post, so it was not sent: {error.message}"
    warning = ev.UndeliverablePost(view.gid, message, b64encode(post_id), error.code)
    warnings.append(warning)
    device.warn(warning)  # now: the sync that found it may still fail (the post is gone)
    done.outcomes[post_id] = "refused"
    done.reasons[post_id] = message


def _refuse_here(device: Device, view: GroupView, post_id: bytes, why: str,
                 warnings: list[ev.SyncWarning], done: Flushed) -> None:
    """A waiting post its author may no longer write (a right lost since it was queued):
    sealed now, every member's device would refuse it, so it is not sent."""
    message = f"it was not sent: {why}"
    drop(device, view, post_id)
    warning = ev.UndeliverablePost(view.gid, message, b64encode(post_id), "not_permitted")
    warnings.append(warning)
    device.warn(warning)  # now: the sync that found it may still fail (the post is gone)
    done.outcomes[post_id] = "refused"
    done.reasons[post_id] = message


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


def _current(device: Device, view: GroupView, row: OutboxRow, raw: bytes | None,
             done: Flushed, warnings: list[ev.SyncWarning]) -> bytes | None:
    """The envelope to send: *raw*, or the post sealed (again) under the current epoch when
    it was not sealed yet or the group has left the epoch it was sealed for (None: it must
    wait, or it was refused here; ``done`` says which and why)."""
    state = view.state
    assert state is not None
    post_id = row.post_id
    if raw is not None:
        envelope = PostEnvelope.decode(raw)
        if envelope.epoch == state.epoch and not state.rotation_pending:
            return raw
    key = view.keys.get(state.epoch)
    try:
        check_can_post(state, state.epoch, author=view.me.sign_pk)
    except RotationPendingError:
        done.reasons[post_id] = WAIT_ROTATION
        return None
    except (EpochStaleError, NotAMemberError):
        done.reasons[post_id] = WAIT_KEY
        return None
    if key is None:
        done.reasons[post_id] = WAIT_KEY
        return None
    if raw is not None and PostEnvelope.decode(raw).epoch == state.epoch:
        return raw  # sealed for the current epoch; it waited only for the rotation
    written = _written(device, view, row)
    if written is None:
        return None
    refused = rights.why_refused(view, written)
    if refused is not None:
        _refuse_here(device, view, post_id, refused, warnings, done)
        return None
    body = replace(written, epoch=state.epoch, log_seq=state.seq, log_head=state.head)
    sealed = seal_post(view.me, key, body)
    opened = open_post(sealed, key, state)
    gid = view.group_id
    encoded = sealed.encode()
    stored = device.seal("post", record_id(gid, post_id), encode_stored_post(opened))
    with device.store.tx() as db:
        device.store.requeue(db, gid, post_id,
                             device.seal("outbox-post", record_id(gid, post_id), encoded))
        if raw is None:
            device.store.save_posts(db, gid, [(post_id, None, state.epoch, body.expires_at_ms,
                                               stored, state.seq, -1)])
        else:
            device.store.replace_post(db, gid, post_id, state.epoch, stored, state.seq)
    if raw is None:
        view.timeline.add(opened)
        if body.expires_at_ms is not None:
            view.expiring[post_id] = body.expires_at_ms
    else:
        replace_own_post(view, opened)
    view.drafts.pop(post_id, None)
    view.arrivals[post_id] = Arrival(state.seq)
    return encoded


def _written(device: Device, view: GroupView, row: OutboxRow) -> PostBody | None:
    """The post as written: its draft, or (queued by version 2 of the store) the sealed version."""
    if row.draft is not None:
        return PostBody.decode(device.unseal("outbox-draft", record_id(view.group_id,
                                                                       row.post_id), row.draft))
    opened = view.timeline.get(row.post_id)
    return None if opened is None else opened.body
