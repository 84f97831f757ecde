"""Turning verified core objects into the public result types, and the values people pass
in (ids, durations, attachments) into what the core takes."""

from __future__ import annotations

import mimetypes
import os
from collections.abc import Sequence
from datetime import timedelta

from vault.crypto.encoding import b64decode, b64encode
from vault.crypto.errors import DecryptionError, MalformedError, MetadataError, VaultError
from vault.crypto.metadata import GroupMetadata, open_group_metadata, open_member_profile
from vault.crypto.timeline import VisiblePost, thread_view
from vault_client._internal.sync import GroupView
from vault_client.types import AttachmentInfo, MemberInfo, PostView, Thread

AttachmentInput = tuple[bytes, str] | str | os.PathLike[str]


def to_bytes(value: object, size: int, what: str) -> bytes:
    """An id given as raw bytes, base64url text, or an object with the id."""
    for attr in ("post_id", "member_id", "group_id", "attachment_id", "joiner"):
        if not isinstance(value, str | bytes) and hasattr(value, attr):
            value = getattr(value, attr)
            break
    if isinstance(value, bytes) and len(value) == size:
        return value
    if isinstance(value, str):
        try:
            raw = b64decode(value.strip(), what)
        except MalformedError:
            raw = b""
        if len(raw) == size:
            return raw
    raise ValueError(f"not a valid {what}: give its base64url id or the object carrying it")


def duration_ms(value: timedelta | float | int | None) -> int | None:
    """A duration given as a timedelta or seconds, in milliseconds (None stays None)."""
    if value is None:
        return None
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if seconds <= 0:
        raise ValueError("a duration must be positive")
    return int(seconds * 1000)


def read_attachment(item: AttachmentInput) -> tuple[bytes, str]:
    if isinstance(item, tuple):
        data, media_type = item
        return bytes(data), media_type
    path = os.fspath(item)
    media_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
    with open(path, "rb") as handle:
        return handle.read(), media_type


def group_metadata(view: GroupView) -> GroupMetadata | None:
    state = view.state
    if state is None or state.group_metadata is None:
        return None
    body = state.group_metadata
    key = view.keys.get(body.epoch)
    if key is None:
        return None
    try:
        return open_group_metadata(body.ciphertext, key, state.group_id, body.epoch)
    except (DecryptionError, MetadataError, MalformedError):
        return None


def display_name(view: GroupView, sign_pk: bytes) -> str | None:
    state = view.state
    if state is None:
        return None
    body = state.profiles.get(sign_pk)
    if body is None:
        return None
    cache_key = (sign_pk, body.ciphertext)
    if cache_key in view.names:
        return view.names[cache_key]
    key = view.keys.get(body.epoch)
    if key is None:
        return None
    name: str | None
    try:
        name = open_member_profile(body.ciphertext, key, state.group_id, body.epoch,
                                   sign_pk).display_name
    except VaultError:
        name = None
    view.names[cache_key] = name
    return name


def members(view: GroupView) -> list[MemberInfo]:
    assert view.state is not None
    me = view.me.sign_pk
    return [
        MemberInfo(b64encode(pk), display_name(view, pk), m.role, m.identity.short_fingerprint(),
                   m.joined_seq, pk == me)
        for pk, m in sorted(view.state.members.items(), key=lambda kv: kv[1].joined_seq)
    ]


def _post_view(view: GroupView, post: VisiblePost, expires: int | None) -> PostView:
    gid = view.gid
    return PostView(
        post_id=b64encode(post.post_id),
        group_id=gid,
        author=b64encode(post.author),
        author_name=display_name(view, post.author),
        kind="reply" if post.reply_to is not None else "post",
        reply_to=None if post.reply_to is None else b64encode(post.reply_to),
        text=post.text,
        content_warning=post.content_warning,
        attachments=tuple(AttachmentInfo(b64encode(a.blob_id), a.media_type, a.size, a)
                          for a in post.attachments),
        created_at_ms=post.timestamp_ms,
        edited_at_ms=post.edited_at_ms,
        deleted=post.deleted,
        reactions=tuple((text, tuple(b64encode(pk) for pk in who))
                        for text, who in post.reactions),
        expires_at_ms=expires,
        is_mine=post.author == view.me.sign_pk,
    )


def post_views(view: GroupView, now_ms: int) -> list[PostView]:
    assert view.state is not None
    result = thread_view(view.timeline, view.state)
    out: list[PostView] = []
    for post in result.posts:
        opened = view.timeline.get(post.post_id)
        expires = None if opened is None else opened.body.expires_at_ms
        if expires is not None and expires <= now_ms:
            continue
        out.append(_post_view(view, post, expires))
    return out


def threads(posts: Sequence[PostView]) -> list[Thread]:
    by_id = {p.post_id: p for p in posts}
    roots: dict[str, list[PostView]] = {}
    order: list[str] = []

    def root_of(post: PostView) -> str:
        seen = set()
        current = post
        while current.reply_to is not None and current.reply_to in by_id \
                and current.post_id not in seen:
            seen.add(current.post_id)
            current = by_id[current.reply_to]
        return current.post_id

    for post in posts:
        root = root_of(post)
        if root == post.post_id:
            order.append(root)
            roots.setdefault(root, [])
        else:
            roots.setdefault(root, []).append(post)
    return [Thread(by_id[r], tuple(roots.get(r, ()))) for r in order]
