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
    moderators_at,
    open_item,
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
    envelope = seal_item(view.me, state, kind, text, thread=thread, post=post,
                         subject=subject, to=to, outcome=outcome, now_ms=device.now())
    device.transport(view.relay_url).put_inbox_item(device.auth(view), envelope.item_id,
                                                    envelope.encode())
    view.inbox[envelope.item_id] = open_item(envelope, view.me, state)
    return b64encode(envelope.item_id)


def fetch(device: Device, view: GroupView) -> None:
    """Read the items sealed to this member since the last read, open and check each; one
    that fails is not kept and is warned once (:class:`~vault_client.events.InvalidInboxItem`)."""
    sync_log(device, view, [], [])
    state = view.state
    assert state is not None
    transport = device.transport(view.relay_url)
    auth = device.auth(view)
    while True:
        items, following = transport.inbox(auth, view.inbox_cursor)
        for item_id, cursor, raw in items:
            if item_id not in view.inbox:
                try:
                    envelope = InboxEnvelope.decode(raw)
                    if envelope.item_id != item_id:
                        raise InboxError("the relay served an inbox item under another id")
                    view.inbox[item_id] = open_item(envelope, view.me, state)
                except (InboxError, MalformedError, TooLargeError) as error:
                    device.warn(ev.InvalidInboxItem(
                        view.gid, f"an item of the moderators' inbox is not shown: "
                        f"{error.message}", b64encode(item_id), error.code))
            view.inbox_cursor = cursor
        if following is None or not items:
            return


def threads(view: GroupView) -> list[InboxThread]:
    """The threads of the items this device holds, oldest first."""
    roots: dict[bytes, OpenedItem] = {}
    replies: dict[bytes, list[OpenedItem]] = {}
    for item in sorted(view.inbox.values(), key=lambda i: i.message.timestamp_ms):
        message = item.message
        if message.thread is None:
            roots[message.item_id] = item
        else:
            replies.setdefault(message.thread, []).append(item)
    out = []
    for thread_id, root in roots.items():
        chain = [root, *replies.get(thread_id, [])]
        out.append(_thread(view, root, chain))
    return out


def _thread(view: GroupView, root: OpenedItem, chain: list[OpenedItem]) -> InboxThread:
    first = root.message
    resolved = False
    outcome: OutcomeName | None = None
    for item in chain:
        message = item.message
        if message.kind is InboxKind.RESOLUTION:
            resolved, outcome = True, _NAMES[message.outcome]  # type: ignore[assignment]
        elif message.kind is not InboxKind.REPLY:
            resolved = False  # the member wrote again
    subject = first.subject
    return InboxThread(
        thread_id=b64encode(first.item_id),
        kind="report" if first.kind is InboxKind.REPORT else "support",
        started_by=b64encode(first.sender), started_by_name=V.name_or_id(view, first.sender),
        post_id=None if first.post is None else b64encode(first.post),
        subject=None if subject is None else b64encode(subject),
        subject_name=None if subject is None else V.name_or_id(view, subject),
        items=tuple(_item(view, item) for item in chain), resolved=resolved, outcome=outcome)


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
    found = view.inbox.get(raw)
    if found is None or found.message.thread is not None:
        raise UnknownReferenceError("there is no such thread in your inbox (it may not have "
                                    "reached this device yet)")
    return found


def moderators_besides(device: Device, view: GroupView, subject: bytes) -> list[bytes]:
    """The moderators and admins of the log read now, other than *subject*: who would read
    a report about *subject* (besides its sender)."""
    sync_log(device, view, [], [])
    state = view.state
    assert state is not None
    return [pk for pk in moderators_at(state, state.seq)
            if pk not in (subject, view.me.sign_pk)]


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
