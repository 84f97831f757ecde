"""Helpers the blueprints share."""

from __future__ import annotations

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from vault.api.db import db
from vault.api.models import Group
from vault.api.util import decode_id
from vault.crypto.errors import GroupDeletedError, NotFoundError

GROUP_ID_SIZE = 32
ID16 = 16
NO_SYNC = {"synchronize_session": False}


def group_id_param(text: str) -> bytes:
    return decode_id(text, GROUP_ID_SIZE, "group id")


def get_group(group_id: bytes) -> Group:
    """The group (``not_found`` if this relay never held it, ``group_deleted`` if an owner
    deleted it)."""
    group = db.session.get(Group, group_id)
    if group is None:
        raise NotFoundError("no group with this id on this relay")
    if group.deleted_at_ms is not None:
        raise deleted_error()
    return group


# Shared lock on PostgreSQL (SQLite's writers are already one at a time: BEGIN IMMEDIATE).
_LIVE_GROUP = (select(Group.deleted_at_ms).where(Group.group_id == bindparam("gid"))
               .with_for_update(read=True))


def lock_live_group(tx: Session, group_id: bytes) -> None:
    """First thing in a write transaction about a group: hold its row until the commit,
    so an owner's deletion (which updates that row before it purges) cannot purge between
    this check and the writes after it; ``group_deleted`` or ``not_found`` otherwise."""
    row = tx.execute(_LIVE_GROUP, {"gid": group_id}).first()
    if row is None:
        raise NotFoundError("no group with this id on this relay")
    if row.deleted_at_ms is not None:
        raise deleted_error()


def deleted_error() -> GroupDeletedError:
    return GroupDeletedError(
        "an owner deleted this group: this relay no longer holds anything of it; "
        "GET /v1/groups/<gid>/deletion shows the entry that deleted it")


def next_event(session: Session, group_id: bytes) -> int:
    """Take the group's next event sequence number (locks the group row until commit, so
    numbers become visible in order)."""
    value = session.execute(
        update(Group)
        .where(Group.group_id == group_id, Group.deleted_at_ms.is_(None))
        .values(event_seq=Group.event_seq + 1)
        .returning(Group.event_seq),
        execution_options=NO_SYNC,
    ).scalar_one_or_none()
    if value is None:
        get_group(group_id)  # says whether it never was or was deleted
        raise NotFoundError("no group with this id on this relay")
    return int(value)
