"""Encrypted attachments: raw bytes, members only, idempotent on the blob id.

PUT /v1/groups/<gid>/blobs/<blob_id>   application/octet-stream, up to VAULT_MAX_BLOB_BYTES
GET /v1/groups/<gid>/blobs/<blob_id>
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from vault.api.authn import authenticate
from vault.api.blueprints.common import ID16, get_group, group_id_param
from vault.api.db import db, write_txn
from vault.api.models import BlobRow
from vault.api.registry import RAW, Call, api_route
from vault.api.schemas import BlobStored
from vault.api.util import decode_id, now_ms
from vault.crypto.errors import BlobConflictError, ConflictError, InvalidRequestError, NotFoundError

bp = Blueprint("blobs", __name__, url_prefix="/v1/groups")


@api_route(bp, "/<gid>/blobs/<blob_id>", "PUT", body=RAW,
           summary="Upload an encrypted attachment (idempotent)",
           responses={201: BlobStored, 200: BlobStored})
def put_blob(call: Call, gid: str, blob_id: str) -> Any:
    group_id = group_id_param(gid)
    bid = decode_id(blob_id, ID16, "blob id")
    caller = authenticate(group_id)
    data = call.raw
    if not data:
        raise InvalidRequestError("the blob is empty")
    get_group(group_id)
    for _attempt in range(2):
        try:
            with write_txn() as tx:
                existing = tx.scalar(
                    select(BlobRow.data).where(BlobRow.group_id == group_id,
                                               BlobRow.blob_id == bid)
                )
                if existing is not None:
                    if existing != data:
                        raise BlobConflictError("different bytes are stored under this blob id")
                    status = 200
                else:
                    tx.add(BlobRow(group_id=group_id, blob_id=bid, uploader=caller.subject,
                                   data=data, size=len(data), created_at_ms=now_ms()))
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
