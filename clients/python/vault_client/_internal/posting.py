"""Writing to a group: posts, replies, reactions, edits and deletions (each a post), and
fetching attachments."""

from __future__ import annotations

import contextlib
import unicodedata
from collections.abc import Sequence
from datetime import timedelta

from vault.crypto.attachments import Attachment, decrypt_attachment
from vault.crypto.encoding import b64encode
from vault.crypto.errors import (
    DeletionUnprovenError,
    ForbiddenError,
    GroupDeletedError,
    NotFoundError,
    RelayUnavailableError,
    VaultError,
)
from vault.crypto.limits import MAX_POLL_OPTION, MAX_POLL_OPTIONS
from vault.crypto.log_entries import Role
from vault.crypto.post_body import PostKind
from vault.crypto.timeline import VisiblePost, pins_in_force, thread_view
from vault_client import events as ev
from vault_client._internal import gone, outbox
from vault_client._internal import views as V
from vault_client._internal.device import Device, refuse_while_deleting
from vault_client._internal.group_view import GroupView
from vault_client._internal.log_io import sync_log
from vault_client._internal.rotation import rotate
from vault_client._internal.sync_io import refresh_keys, sync_grants
from vault_client.errors import (
    InvalidArgumentError,
    NotPermittedError,
    UnknownReferenceError,
)
from vault_client.types import AttachmentInfo, Posted

UNREACHABLE = "the relay cannot be reached; it will be sent when the relay is back"
REMOVED = "you are no longer a member of this group, so it was not sent"


def publish(device: Device, view: GroupView, kind: PostKind, refs: tuple[bytes, ...],
            text: str, warning: str | None, expires_in: timedelta | float | None,
            attachments: Sequence[V.AttachmentInput],
            kept: Sequence[Attachment] = (), *, options: Sequence[str] = (),
            closes_in: timedelta | float | None = None, choice: int | None = None,
            at_ms: int | None = None, channel: bytes | None = None) -> Posted:
    """Keep the post on this device first (from then on nothing loses it), then bring the
    log and keys up to date and send what waits in the outbox. The result says whether it
    was delivered, waits (and why), or was refused (and why)."""
    refuse_while_deleting(device, view.group_id)
    post_id = outbox.queue(device, view, kind, refs, text, warning, expires_in, attachments,
                           kept, options=options, closes_in=closes_in, choice=choice,
                           at_ms=at_ms, channel=channel)
    gid, pid = view.gid, b64encode(post_id)
    try:
        _freshen(device, view)
        if view.status != "member":
            outbox.drop(device, view, post_id)
            return Posted(gid, pid, False, "refused", REMOVED)
        done = outbox.flush(device, view, None, refresh=lambda: refresh_keys(device, view))
    except RelayUnavailableError:
        return Posted(gid, pid, False, "queued", UNREACHABLE)
    except GroupDeletedError:
        return _deleted(device, view, gid, pid)
    except DeletionUnprovenError as error:  # the relay's word alone: the post stays here
        return _kept(gid, pid, error)
    except VaultError:
        # This device refuses what the relay served (a rolled-back or forked log...): the
        # command fails, and the post is not kept to go out later into such a group.
        if post_id in view.unsent:
            outbox.drop(device, view, post_id)
        raise
    outcome = done.outcomes.get(post_id, "waiting")
    if outcome == "sent":
        return Posted(gid, pid, True, "delivered", None)
    if outcome == "refused":
        return Posted(gid, pid, False, "refused", done.reasons.get(post_id))
    return Posted(gid, pid, False, "queued", done.reasons.get(post_id, UNREACHABLE))


def _deleted(device: Device, view: GroupView, gid: str, pid: str) -> Posted:
    """The relay says the group was deleted. Proven: the group is gone from this device
    (the post with it, counted in the notice as never sent). Not proven, or not checkable
    now: the post stays here, to go out later."""
    try:
        news = gone.learn(device, view)
    except RelayUnavailableError:
        return Posted(gid, pid, False, "queued", UNREACHABLE)
    except DeletionUnprovenError as error:
        return _kept(gid, pid, error)
    return Posted(gid, pid, False, "refused",
                  f"{news.deleted_by} (an owner) deleted this group, so it was not sent")


def _kept(gid: str, pid: str, unproven: DeletionUnprovenError) -> Posted:
    return Posted(gid, pid, False, "queued", f"it stays on this device: {unproven.message}")


def _freshen(device: Device, view: GroupView) -> None:
    """Before sending: the latest log (so nothing goes out under a key a removed member
    holds), a rotation this admin owes, and the current key."""
    events: list[ev.Event] = []
    warnings: list[ev.SyncWarning] = []
    try:
        changed = sync_log(device, view, events, warnings)
        state = view.state
        assert state is not None
        if view.status == "member":
            if state.rotation_pending and state.is_admin(view.me.sign_pk):
                rotate(device, view, events)
            elif changed or state.epoch not in view.keys:
                sync_grants(device, view, events, warnings, force=True)
    finally:
        for warning in warnings:
            device.warn(warning)


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


def poll_fields(question: str, options: Sequence[str]) -> tuple[str, ...]:
    """A poll's options as given, refused (before anything is written) when members'
    devices would refuse the poll (POST-7), with what to change."""
    if isinstance(options, str):
        raise InvalidArgumentError("give the options as a list of strings")
    chosen = tuple(option.strip() for option in options)
    if not question.strip():
        raise InvalidArgumentError("a poll needs a question")
    for text in (question, *chosen):
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidArgumentError("the poll holds text that is not valid Unicode (an "
                                       "unpaired surrogate)") from None
    if not 2 <= len(chosen) <= MAX_POLL_OPTIONS:
        raise InvalidArgumentError(f"a poll offers 2 to {MAX_POLL_OPTIONS} options; "
                                   f"{len(chosen)} were given")
    for option in chosen:
        if not option.strip():
            raise InvalidArgumentError("a poll option cannot be empty")
        if len(option.encode("utf-8")) > MAX_POLL_OPTION:
            raise InvalidArgumentError(
                f"the option {option[:20]!r} is too long: at most {MAX_POLL_OPTION} bytes "
                "of UTF-8 (100 plain Latin letters, fewer accented or other letters)")
    # Options that read the same (case, Unicode forms) would split one answer in two.
    if len({unicodedata.normalize("NFC", o).casefold() for o in chosen}) != len(chosen):
        raise InvalidArgumentError("a poll lists each option once (two options read the "
                                   "same)")
    return chosen


def _shown(view: GroupView, post_id: bytes) -> VisiblePost:
    """A post as the thread shows it now (NotFoundError when it is not a visible post)."""
    assert view.state is not None
    found = thread_view(view.timeline, view.state, {post_id}).posts
    if not found:
        raise NotFoundError("there is no such post on this device (sync first, or check the "
                            "post's id)")
    return found[0]


def _check_not_gone(view: GroupView, post_id: bytes, now_ms: int, what: str) -> None:
    """Refuse acting on a post that has disappeared (expired, not yet purged here)."""
    held = view.timeline.get(post_id)
    expires = None if held is None else held.body.expires_at_ms
    if expires is not None and expires <= now_ms:
        raise NotPermittedError(f"that {what} has disappeared")


def ballot(view: GroupView, poll_id: bytes, option: int | str, now_ms: int) -> int:
    """The index of *option* in the poll *poll_id*, if this member may vote in it at
    *now_ms* (the time the vote will be dated with): refused before anything is written
    when it is not a poll held here, was deleted or has disappeared, has closed, or has no
    such option."""
    assert view.state is not None
    target = view.timeline.get(poll_id)
    if target is None:
        if poll_id in view.drafts:
            raise NotPermittedError("your poll has not been sent yet; vote once it is")
        raise NotFoundError("there is no such poll on this device (sync first, or check the "
                            "post's id)")
    poll = target.body
    if poll.kind is not PostKind.POLL:
        raise NotPermittedError("that post is not a poll")
    if _shown(view, poll_id).deleted:
        raise NotPermittedError("that poll was deleted")
    _check_not_gone(view, poll_id, now_ms, "poll")
    closes = poll.poll_closes_at_ms
    if closes is not None and now_ms >= closes:
        raise NotPermittedError("that poll has closed; votes are no longer counted")
    options = poll.poll_options
    if isinstance(option, bool):
        raise InvalidArgumentError("give the option as its number (from 0) or its text")
    if isinstance(option, int):
        if not 0 <= option < len(options):
            raise InvalidArgumentError(f"that poll has options 0 to {len(options) - 1}")
        return option
    if option in options:
        return options.index(option)
    raise InvalidArgumentError("that poll has no such option; its options are: "
                               + ", ".join(repr(o) for o in options))


def freshen_for_check(device: Device, view: GroupView) -> None:
    """Bring the log up to date before judging a right the log decides (a moderator's pin,
    unpin or delete): the post is sealed at the log's newest entry, so a role lost there
    must refuse it here, not make it a post every device ignores. Offline, the device's
    own copy decides (the post waits, and is sealed when the relay is back)."""
    with contextlib.suppress(RelayUnavailableError):
        sync_log(device, view, [], [])


def check_pin(view: GroupView, post_id: bytes, now_ms: int) -> None:
    """Refuse, before anything is written, a pin members' devices would ignore (TV-6) or
    one that changes nothing (the post is pinned, or a pin of it waits to be sent)."""
    assert view.state is not None
    role = view.state.role_of(view.me.sign_pk)
    if role is None or role < Role.MODERATOR:
        raise NotPermittedError("only moderators and admins can pin posts")
    shown = _shown(view, post_id)
    if shown.deleted:
        raise NotPermittedError("that post was deleted; it cannot be pinned")
    _check_not_gone(view, post_id, now_ms, "post")
    if shown.pinned_by is not None:
        raise InvalidArgumentError("that post is already pinned")
    if any(draft.kind is PostKind.PIN and draft.refs[0] == post_id
           for draft in view.drafts.values()):
        raise InvalidArgumentError("your pin of that post is waiting to be sent")


def pins_to_undo(view: GroupView, post_id: bytes) -> list[bytes]:
    """The ids of the pins that keep *post_id* pinned (unpinning deletes each), refused up
    front when there are none or this member may not delete one of them (TV-3)."""
    assert view.state is not None
    pins = pins_in_force(view.timeline, view.state, post_id)
    if not pins:
        raise InvalidArgumentError("that post is not pinned")
    role = view.state.role_of(view.me.sign_pk)
    moderates = role is not None and role >= Role.MODERATOR
    if not moderates and any(pin.author != view.me.sign_pk for pin in pins):
        raise NotPermittedError("only moderators and admins can unpin posts")
    return [pin.post_id for pin in pins]


def delete(device: Device, view: GroupView, post_id: bytes) -> Posted:
    """Delete a post: refused before anything is written when this member may not
    (:func:`_check_delete`); else the deletion is published as any post is, then the relay
    is asked to erase the ciphertext (:func:`_erase`). A device the publishing found
    removed gets :class:`NotAMemberError` instead of the erasure."""
    _check_delete(view, post_id)
    posted = publish(device, view, PostKind.DELETE, (post_id,), "", None, None, ())
    _erase(device, device.member_view(view.group_id), post_id)
    return posted


def _check_delete(view: GroupView, post_id: bytes) -> None:
    """Refuse, before anything is written, a delete this member may not make."""
    state = view.state
    assert state is not None
    target = view.timeline.get(post_id)
    if target is None:
        raise NotFoundError("there is no such post on this device (sync first, or check the "
                            "post's id)")
    if target.body.kind in (PostKind.EDIT, PostKind.DELETE):
        raise NotPermittedError("edits and deletions cannot be deleted; delete the post itself")
    if target.body.kind is PostKind.VOTE:
        raise NotPermittedError("a vote cannot be deleted; vote again to change it")
    if target.author == view.me.sign_pk:
        return
    role = state.role_of(view.me.sign_pk)
    if role is None or role < Role.MODERATOR:
        raise NotPermittedError("only moderators and admins can delete other members' posts; "
                                "you can delete your own")


def _erase(device: Device, view: GroupView, post_id: bytes) -> None:
    """Ask the relay to erase a deleted post's ciphertext, its edits' and (with them) their
    attachments (best effort: the deletion post already tells members' clients to drop
    it; the relay may refuse what this member did not upload)."""
    edits = [post.post_id for post in view.timeline.ordered()
             if post.body.kind is PostKind.EDIT and post.body.refs[0] == post_id]
    transport = device.transport(view.relay_url)
    for pid in (post_id, *edits):
        with contextlib.suppress(NotFoundError, ForbiddenError, RelayUnavailableError):
            transport.delete_post(device.auth(view), pid)


def attachment(device: Device, view: GroupView, attachment: AttachmentInfo) -> bytes:
    """Download and decrypt an attachment (an :class:`AttachmentInfo` from a post)."""
    if not isinstance(attachment, AttachmentInfo):
        raise UnknownReferenceError("give an attachment as a post shows it (an AttachmentInfo)")
    ref = attachment.ref
    blob = device.transport(view.relay_url).get_blob(device.auth(view), ref.blob_id)
    return decrypt_attachment(ref, blob)
