"""The moderators' inbox on this device (protocol §8.8): writing a report, a request for
support, a moderator's reply or resolution -- sealed here on the freshly read log and sent at
once (never queued: sent, or refused and nothing kept) -- and reading the items sealed to
this member, grouped into threads."""

from __future__ import annotations

from typing import Final

from vault.crypto.encoding import b64decode, b64encode
from vault.crypto.errors import InboxError, MalformedError, TooLargeError
from vault.crypto.inbox import (
    InboxEnvelope,
    InboxKind,
    OpenedItem,
    Outcome,
    open_item,
    recipients_for,
    seal_item,
)
from vault.crypto.log_entries import Role
from vault_client import events as ev
from vault_client._internal import views as V
from vault_client._internal.device import Device
from vault_client._internal.group_view import GroupView
from vault_client._internal.log_io import sync_log
from vault_client.errors import InvalidArgumentError, NotPermittedError, UnknownReferenceError
from vault_client.types import InboxItemInfo, InboxThread, OutcomeName

OUTCOMES: Final[dict[str, Outcome]] = {
    "dismissed": Outcome.DISMISSED, "post_deleted": Outcome.POST_DELETED,
    "member_removed": Outcome.MEMBER_REMOVED, "answered": Outcome.ANSWERED,
}
_NAMES: Final = {value: name for name, value in OUTCOMES.items()}
_KINDS: Final = {InboxKind.REPORT: "report", InboxKind.SUPPORT: "support",
                 InboxKind.REPLY: "reply", InboxKind.RESOLUTION: "resolution"}


def send(device: Device, view: GroupView, kind: InboxKind, text: str, *,
         thread: bytes | None = None, post: bytes | None = None, subject: bytes | None = None,
         to: bytes | None = None, outcome: Outcome = Outcome.NONE) -> str:
    """Seal an item on the log read now (so it goes to the moderators of now) and store it
    at the relay; returns its id. Nothing is kept on this device: an unreachable relay
    raises, and the item was not sent."""
    sync_log(device, view, [], [])
    state = view.state
    assert state is not None
    me = view.me.sign_pk
    if kind is InboxKind.REPORT and recipients_for(state, state.seq, me, to, subject) == (me,):
        raise InvalidArgumentError("this group has no moderator or admin besides the member "
                                   "you would report: nobody could read it")
    envelope = seal_item(view.me, state, kind, text, thread=thread, post=post,
                         subject=subject, to=to, outcome=outcome, now_ms=device.now())
    device.transport(view.relay_url).put_inbox_item(device.auth(view), envelope.item_id,
                                                    envelope.encode())
    return b64encode(envelope.item_id)


def fetch(device: Device, view: GroupView) -> None:
    """Read the items sealed to this member since the last read, open and check each. One
    written on a log position this device has not reached yet is held and tried again at
    the next read (after the log is read again); one that fails is not kept and is warned
    once (:class:`~vault_client.events.InvalidInboxItem`)."""
    sync_log(device, view, [], [])
    transport = device.transport(view.relay_url)
    auth = device.auth(view)
    waiting = list(view.inbox_held.items())
    view.inbox_held.clear()
    for item_id, (position, raw) in waiting:
        _take(device, view, item_id, position, raw)
    while True:
        items, following = transport.inbox(auth, view.inbox_cursor)
        for item_id, cursor, raw in items:
            if item_id not in view.inbox:
                _take(device, view, item_id, int(cursor), raw)
            view.inbox_cursor = cursor
        if following is None or not items:
            return


def _take(device: Device, view: GroupView, item_id: bytes, cursor: int, raw: bytes) -> None:
    state = view.state
    assert state is not None
    try:
        envelope = InboxEnvelope.decode(raw)
        if envelope.item_id != item_id:
            raise InboxError("the relay served an inbox item under another id")
        if envelope.log_seq > state.seq and view.me.sign_pk in envelope.recipient_keys:
            view.inbox_held[item_id] = (cursor, raw)  # ahead of this device's log: later
            return
        view.inbox[item_id] = (cursor, open_item(envelope, view.me, state))
    except (InboxError, MalformedError, TooLargeError) as error:
        _warn(device, view, item_id, error.message, error.code)


def _warn(device: Device, view: GroupView, item_id: bytes, why: str, code: str) -> None:
    device.warn(ev.InvalidInboxItem(view.gid, f"an item of the moderators' inbox is not "
                                    f"shown: {why}", b64encode(item_id), code))


def threads(device: Device, view: GroupView) -> list[InboxThread]:
    """The threads of the items this device holds, in the relay's order (the first item's).
    Items that break a thread's rules (§8.8: a report's subject is its post's author; a
    later item names the thread's subject; a member's follow-up is by the member who began
    it) are left out, warned once."""
    roots: dict[bytes, OpenedItem] = {}
    later: dict[bytes, list[OpenedItem]] = {}
    for _cursor, item in sorted(view.inbox.values(), key=lambda pair: pair[0]):
        message = item.message
        if message.thread is None:
            roots[message.item_id] = item
        else:
            later.setdefault(message.thread, []).append(item)
    out = []
    for thread_id, root in list(roots.items()):
        problem = _root_problem(view, root)
        if problem is not None:
            _drop(device, view, thread_id, problem)
            continue
        chain = [root]
        for item in later.pop(thread_id, []):
            problem = _follow_up_problem(root, item)
            if problem is None:
                chain.append(item)
            else:
                _drop(device, view, item.message.item_id, problem)
        out.append(_thread(view, chain, complete=True))
    for items in later.values():  # threads begun before this member could read them
        out.append(_thread(view, items, complete=False))
    return out


def _drop(device: Device, view: GroupView, item_id: bytes, why: str) -> None:
    view.inbox.pop(item_id, None)
    _warn(device, view, item_id, why, InboxError.code)


def _root_problem(view: GroupView, root: OpenedItem) -> str | None:
    """A report whose post this device holds names its author as the subject."""
    if root.message.kind is not InboxKind.REPORT:
        return None
    author = verified_subject(view, root)
    if author is not None and author != root.message.subject:
        return "the report names another member than the post's author"
    return None


def _follow_up_problem(root: OpenedItem, item: OpenedItem) -> str | None:
    first, message = root.message, item.message
    if message.subject != first.subject:
        return "it names another member than its thread is about"
    if message.kind is InboxKind.SUPPORT and message.sender != first.sender:
        return "only the member who began a thread writes again in it"
    if message.kind is InboxKind.REPLY and message.to != first.sender:
        return "a reply goes to the member who began the thread"
    return None


def verified_subject(view: GroupView, thread: OpenedItem) -> bytes | None:
    """The member a report is about, as this device can check it: the reported post's
    author (None when the post is not on this device)."""
    post = view.timeline.get(thread.message.post) if thread.message.post else None
    return None if post is None else post.body.author


def _thread(view: GroupView, chain: list[OpenedItem], *, complete: bool) -> InboxThread:
    first = chain[0].message
    resolved = False
    outcome: OutcomeName | None = None
    for item in chain:
        message = item.message
        if message.kind is InboxKind.RESOLUTION:
            resolved, outcome = True, _NAMES[message.outcome]  # type: ignore[assignment]
        elif message.kind is not InboxKind.REPLY:
            resolved = False  # the member wrote again
    subject = first.subject
    if complete:
        thread_id, starter = first.item_id, first.sender
    else:  # what this member can tell of a thread whose first item they cannot read
        assert first.thread is not None
        thread_id = first.thread
        starter = next((i.message.to for i in chain if i.message.to is not None),
                       next((i.message.sender for i in chain
                             if i.message.kind is InboxKind.SUPPORT), first.sender))
    return InboxThread(
        thread_id=b64encode(thread_id),
        kind="report" if subject is not None else "support",
        started_by=b64encode(starter), started_by_name=V.name_or_id(view, starter),
        post_id=None if first.post is None else b64encode(first.post),
        subject=None if subject is None else b64encode(subject),
        subject_name=None if subject is None else V.name_or_id(view, subject),
        items=tuple(_item(view, item) for item in chain), resolved=resolved, outcome=outcome,
        complete=complete)


def _item(view: GroupView, item: OpenedItem) -> InboxItemInfo:
    message = item.message
    return InboxItemInfo(
        item_id=b64encode(message.item_id), kind=_KINDS[message.kind],  # type: ignore[arg-type]
        sender=b64encode(message.sender), sender_name=V.name_or_id(view, message.sender),
        created_at_ms=message.timestamp_ms, text=message.text,
        outcome=_NAMES.get(message.outcome),  # type: ignore[arg-type]
        is_mine=message.sender == view.me.sign_pk)


def find_thread(view: GroupView, thread_id: str) -> OpenedItem:
    """The item that began the thread *thread_id* (fetch first)."""
    try:
        raw = b64decode(thread_id.strip(), "thread id")
    except MalformedError:
        raw = b""
    held = view.inbox.get(raw)
    found = None if held is None else held[1]
    if found is None or found.message.thread is not None:
        raise UnknownReferenceError("there is no such thread in your inbox (it may not have "
                                    "reached this device yet)")
    return found


def require_moderator(device: Device, view: GroupView) -> None:
    """Refuse a member below moderator, on the log read now, before anything is written."""
    sync_log(device, view, [], [])
    state = view.state
    assert state is not None
    role = state.role_of(view.me.sign_pk)
    if role is None or role < Role.MODERATOR:
        raise NotPermittedError("only moderators and admins reply in the inbox and resolve "
                                "reports")


def outcome_of(name: str) -> Outcome:
    try:
        return OUTCOMES[name]
    except KeyError:
        raise InvalidArgumentError(f"an outcome is one of {', '.join(OUTCOMES)}") from None
