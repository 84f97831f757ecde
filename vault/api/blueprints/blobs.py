"""Encrypted attachments: raw bytes, members only, idempotent on the blob id.

PUT /v1/groups/<gid>/blobs/<blob_id>?post_id=<post id>
                                       application/octet-stream, up to VAULT_MAX_BLOB_BYTES;
                                       the same bytes for the same post again -> 200; other
                                       bytes, or another post -> 409 blob_conflict
GET /v1/groups/<gid>/blobs/<blob_id>

Every blob names the post it belongs to (the client uploads a post's attachments just before
the post), so the relay deletes it with that post (DELETE, expiry) without reading anything,
and the purge deletes orphans: blobs whose post is not stored (or is deleted) 24 hours after
their upload (vault/api/purge.py).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from vault.api.authn import authenticate
from vault.api.blueprints.common import ID16, NO_SYNC, get_group, group_id_param, lock_live_group
from vault.api.db import db, write_txn
from vault.api.models import LEGACY_POST_ID, BlobRow
from vault.api.registry import RAW, Call, api_route
from vault.api.schemas import BlobQuery, BlobStored
from vault.api.util import decode_id, now_ms
from vault.crypto.errors import BlobConflictError, ConflictError, InvalidRequestError, NotFoundError

bp = Blueprint("blobs", __name__, url_prefix="/v1/groups")


@api_route(bp, "/<gid>/blobs/<blob_id>", "PUT", body=RAW, query=BlobQuery,
           summary="Upload an encrypted attachment of a post (idempotent)",
           responses={201: BlobStored, 200: BlobStored})
def put_blob(call: Call, gid: str, blob_id: str) -> Any:
    group_id = group_id_param(gid)
    bid = decode_id(blob_id, ID16, "blob id")
    caller = authenticate(group_id)
    pid = decode_id(call.query.post_id, ID16, "post id")
    data = call.raw
    if not data:
        raise InvalidRequestError("the blob is empty")
    get_group(group_id)
    for _attempt in range(2):
        try:
            with write_txn() as tx:
                lock_live_group(tx, group_id)
                existing = tx.execute(
                    select(BlobRow.data, BlobRow.post_id).where(BlobRow.group_id == group_id,
                                                                BlobRow.blob_id == bid)
                ).first()
                if existing is not None:
                    if existing.data != data:
                        raise BlobConflictError("different bytes are stored under this blob id")
                    if existing.post_id not in (pid, LEGACY_POST_ID):
                        raise BlobConflictError("this blob is stored for another post")
                    # Sent again right before its post: the orphan purge's 24 hours start
                    # again, and a blob stored before blobs named their post now names it.
                    tx.execute(update(BlobRow)
                               .where(BlobRow.group_id == group_id, BlobRow.blob_id == bid)
                               .values(created_at_ms=now_ms(), post_id=pid),
                               execution_options=NO_SYNC)
                    status = 200
                else:
                    tx.add(BlobRow(group_id=group_id, blob_id=bid, uploader=caller.subject,
                                   data=data, size=len(data), created_at_ms=now_ms(),
                                   post_id=pid))
                    status = 201
            return BlobStored(blob_id=blob_id, size=len(data)), status
        except IntegrityError:
            continue
    raise ConflictError("the blob could not be stored because of concurrent uploads; retry")


@api_route(bp, "/<gid>/blobs/<blob_id>", "GET", summary="Download an encrypted attachment",
           responses={200: "binary"})
def get_blob(call: Call, gid: str, blob_id: str) -> Any:
    group_id = group_id_param(gid)
    bid = decode_id(blob_id, ID16, "blob id")
    authenticate(group_id)
    data = db.session.scalar(
        select(BlobRow.data).where(BlobRow.group_id == group_id, BlobRow.blob_id == bid)
    )
    if data is None:
        raise NotFoundError("no blob with this id")
    return Response(bytes(data), mimetype="application/octet-stream")
