"""Whether a post waiting in the outbox may still be written by its author, on the log this
device holds now: a right lost since it was queued (a moderator demoted, a channel's rule)
would make it a post every member's device refuses (TV-3, TV-6, TV-7), so the outbox does not
send it and says so."""

from __future__ import annotations

from vault.crypto.channels import may_write_in
from vault.crypto.log_entries import Role
from vault.crypto.post_body import PostBody, PostKind
from vault_client._internal.channels import body_here
from vault_client._internal.group_view import GroupView

ANNOUNCEMENTS = ("only moderators and admins can post in an announcements channel, and you "
                 "are not one (any more)")
PINS = "only moderators and admins can pin posts, and you are not one (any more)"
DELETES = ("only moderators and admins can delete other members' posts, and you are not one "
           "(any more)")


def why_refused(view: GroupView, draft: PostBody) -> str | None:
    """Why every device would refuse *draft* sealed at the head of this device's log, or
    None when it would not."""
    state = view.state
    assert state is not None
    role = state.role_of(draft.author)
    moderator = role is not None and role >= Role.MODERATOR
    kind = draft.kind
    if kind in (PostKind.POST, PostKind.POLL, PostKind.REPLY, PostKind.EDIT):
        target = body_here(view, draft.refs[0]) if kind is PostKind.EDIT else draft
        channel = None if target is None else target.channel
        if not may_write_in(state, draft.author, state.seq, channel):
            return ANNOUNCEMENTS
    elif kind is PostKind.PIN and not moderator:
        return PINS
    elif kind is PostKind.DELETE and not moderator:
        target = body_here(view, draft.refs[0])
        if target is not None and target.author != draft.author:
            return DELETES
    return None
