"""Epoch-key grants: a whole rotation in one request; each member fetches only its own.

POST /v1/groups/<gid>/grants   admins/owners; all-or-nothing; every recipient a current member
GET  /v1/groups/<gid>/grants   the caller's own grants (?epoch=E for one epoch)
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from flask import Blueprint
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from vault.api.authn import authenticate
from vault.api.blueprints.common import get_group, group_id_param, lock_live_group
from vault.api.db import db, write_txn
from vault.api.models import GrantRow, MemberRow
from vault.api.registry import Call, api_route
from vault.api.schemas import (
    GRANTS_MAX_BODY,
    MAX_GRANT_BYTES,
    GrantItem,
    GrantsQuery,
    GrantsResponse,
    GrantsStored,
    GrantsUpload,
)
from vault.api.util import decode_b64, now_ms
from vault.crypto.encoding import b64encode
from vault.crypto.epochs import EpochGrant
from vault.crypto.errors import (
    ConflictError,
    GrantConflictError,
    GrantError,
    InvalidRequestError,
    MalformedError,
)
from vault.crypto.log_entries import Role

bp = Blueprint("grants", __name__, url_prefix="/v1/groups")

CHUNK = 500
MAX_RETURNED = 1000


def _chunks(items: list[bytes]) -> Iterator[list[bytes]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def _current_members(session: Session, group_id: bytes, keys: list[bytes]) -> set[bytes]:
    found: set[bytes] = set()
    for chunk in _chunks(keys):
        found.update(session.scalars(
            select(MemberRow.sign_pk).where(
                MemberRow.group_id == group_id,
                MemberRow.removed_seq.is_(None),
                MemberRow.sign_pk.in_(chunk),
            )
        ))
    return found


def _existing(session: Session, group_id: bytes, epoch: int,
              keys: Iterable[bytes]) -> dict[bytes, bytes]:
    found: dict[bytes, bytes] = {}
    for chunk in _chunks(list(keys)):
        for recipient, raw in session.execute(
            select(GrantRow.recipient, GrantRow.raw).where(
                GrantRow.group_id == group_id, GrantRow.epoch == epoch,
                GrantRow.recipient.in_(chunk),
            )
        ):
            found[recipient] = raw
    return found


@api_route(bp, "/<gid>/grants", "POST", body=GrantsUpload, max_body=GRANTS_MAX_BODY,
           summary="Upload the grants of one epoch (admins; all or nothing)",
           responses={201: GrantsStored})
def upload(call: Call, gid: str) -> Any:
    group_id = group_id_param(gid)
    caller = authenticate(group_id)
    caller.require_role(Role.ADMIN, "uploading epoch-key grants")
    epoch = call.body.epoch
    group = get_group(group_id)
    if epoch > group.epoch:
        raise GrantError(f"epoch {epoch} does not exist in the log yet (current: {group.epoch})")
    grants: dict[bytes, bytes] = {}
    for index, text in enumerate(call.body.grants):
        try:
            raw = decode_b64(text, "grant", MAX_GRANT_BYTES)
            grant = EpochGrant.decode(raw)
        except MalformedError as error:
            raise MalformedError(f"grants[{index}]: {error.message}") from None
        if grant.group_id != group_id or grant.epoch != epoch:
            raise GrantError(f"grants[{index}] is for another group or epoch")
        if grant.recipient in grants:
            raise InvalidRequestError(f"grants[{index}]: a second grant for one recipient")
        grants[grant.recipient] = raw
    now = now_ms()
    for _attempt in range(2):
        try:
            with write_txn() as tx:
                lock_live_group(tx, group_id)
                members = _current_members(tx, group_id, list(grants))
                if len(members) != len(grants):
                    missing = next(i for i, k in enumerate(grants) if k not in members)
                    raise GrantError(f"grants[{missing}]: the recipient is not a current member")
                existing = _existing(tx, group_id, epoch, grants)
                for index, (recipient, raw) in enumerate(grants.items()):
                    if recipient in existing and existing[recipient] != raw:
                        raise GrantConflictError(
                            f"grants[{index}]: a different grant is already stored for this "
                            "recipient and epoch"
                        )
                rows = [
                    {"group_id": group_id, "recipient": r, "epoch": epoch, "raw": raw,
                     "created_at_ms": now}
                    for r, raw in grants.items() if r not in existing
                ]
                if rows:  # (Core's executemany: the ORM's bulk insert adds ~10 us a row)
                    tx.connection().execute(insert(GrantRow.__table__), rows)
            return GrantsStored(epoch=epoch, stored=len(rows)), 201
        except IntegrityError:
            continue  # a concurrent upload of the same grants: compare again
    raise ConflictError("grants changed concurrently; retry")


@api_route(bp, "/<gid>/grants", "GET", query=GrantsQuery,
           summary="This member's own grants", responses={200: GrantsResponse})
def mine(call: Call, gid: str) -> Any:
    group_id = group_id_param(gid)
    caller = authenticate(group_id)
    query = select(GrantRow.epoch, GrantRow.raw).where(
        GrantRow.group_id == group_id, GrantRow.recipient == caller.subject
    )
    if call.query.epoch is not None:
        query = query.where(GrantRow.epoch == call.query.epoch)
    rows = db.session.execute(query.order_by(GrantRow.epoch.desc()).limit(MAX_RETURNED))
    items = [GrantItem(epoch=epoch, grant=b64encode(raw)) for epoch, raw in rows]
    return GrantsResponse(grants=items), 200
