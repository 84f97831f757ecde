"""Request and response bodies: pydantic models that validate requests and feed OpenAPI.

Binary values travel as unpadded base64url (``vault.crypto.encoding.b64encode``); the
models bound their text length and alphabet, and the handlers decode them with the core's
strict ``b64decode`` (which also checks canonical form).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

MAX_DB_INT = 2**62  # every integer a client sends fits a signed 64-bit column
B64_PATTERN = r"^[A-Za-z0-9_-]*$"
CURSOR_PATTERN = r"^[0-9]{1,18}$"


def b64_text(max_bytes: int, min_bytes: int = 1) -> Any:
    return Annotated[
        str,
        StringConstraints(
            pattern=B64_PATTERN,
            min_length=(min_bytes * 4) // 3,
            max_length=(max_bytes * 4 + 2) // 3,
        ),
    ]


B64Key = b64_text(32, 32)
B64Id16 = b64_text(16, 16)
B64Sig = b64_text(64, 64)
Cursor = Annotated[
    str, StringConstraints(pattern=CURSOR_PATTERN), Field(description="opaque cursor")
]
BoundedInt = Annotated[int, Field(ge=0, le=MAX_DB_INT)]

MAX_ENTRY_BYTES = 64 * 1024 + 1024
MAX_JOIN_REQUEST_BYTES = 4 * 1024
MAX_GRANT_BYTES = 512
MAX_GRANTS = 10_000
MAX_ENVELOPE_BYTES = 70 * 1024

EntryB64 = b64_text(MAX_ENTRY_BYTES)
JoinRequestB64 = b64_text(MAX_JOIN_REQUEST_BYTES)
GrantB64 = b64_text(MAX_GRANT_BYTES)
EnvelopeB64 = b64_text(MAX_ENVELOPE_BYTES)


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Query(BaseModel):
    """Query strings arrive as text, so these are validated in lax mode."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# --- errors and health -------------------------------------------------------------------


class ErrorBody(Body):
    code: str = Field(description="stable machine-readable code (a VaultError code)")
    message: str = Field(description="what went wrong, for a person")


class ErrorResponse(Body):
    error: ErrorBody


class HealthResponse(Body):
    status: Literal["ok"]
    database: Literal["ok"]
    version: str


# --- auth ----------------------------------------------------------------------------------


class ChallengeRequest(Body):
    member: B64Key | None = Field(None, description="member sign_pk (a member session)")
    invite_id: B64Id16 | None = Field(None, description="invite id (a joiner's read session)")


class ChallengeResponse(Body):
    challenge: str
    expires_at_ms: int


class SessionRequest(Body):
    member: B64Key | None = None
    invite_id: B64Id16 | None = None
    challenge: B64Key
    signature: B64Sig


class SessionResponse(Body):
    token: str
    expires_at_ms: int


# --- groups and the log ----------------------------------------------------------------------


class CreateGroupRequest(Body):
    genesis: EntryB64


class GroupResponse(Body):
    group_id: str
    head_seq: int


class LogQuery(Query):
    from_: BoundedInt = Field(0, alias="from")
    limit: Annotated[int, Field(ge=1, le=1000)] = 500


class LogResponse(Body):
    entries: list[str]
    head_seq: int


class AppendRequest(Body):
    entry: EntryB64


class AppendResponse(Body):
    seq: int
    head: str
    cursor: str


# --- invites -------------------------------------------------------------------------------


class JoinRequestBody(Body):
    request: JoinRequestB64


class JoinRequestStatus(Body):
    joiner: str
    invite_id: str
    status: Literal["pending", "approved", "denied"]


class JoinRequestItem(Body):
    joiner: str
    invite_id: str
    request: str
    created_at_ms: int


class JoinRequestList(Body):
    requests: list[JoinRequestItem]


# --- grants --------------------------------------------------------------------------------


class GrantsUpload(Body):
    epoch: BoundedInt
    grants: Annotated[
        list[GrantB64],
        Field(min_length=1, max_length=MAX_GRANTS),
    ]


class GrantsStored(Body):
    epoch: int
    stored: int


class GrantsQuery(Query):
    epoch: BoundedInt | None = None


class GrantItem(Body):
    epoch: int
    grant: str


class GrantsResponse(Body):
    grants: list[GrantItem]


# --- posts ---------------------------------------------------------------------------------


class PutPostRequest(Body):
    envelope: EnvelopeB64


class PostStored(Body):
    post_id: str
    cursor: str


class PostsQuery(Query):
    after: Cursor | None = None
    newest: Annotated[int, Field(ge=1, le=100)] | None = None
    limit: Annotated[int, Field(ge=1, le=100)] = 50


class PostItem(Body):
    post_id: str
    cursor: str
    envelope: str | None = Field(description="null once deleted (a tombstone)")
    deleted: bool
    created_at_ms: int
    expires_at_ms: int | None


class PostsPage(Body):
    posts: list[PostItem]
    cursor: str | None = Field(description="pass as ?after= for the next page")
    more: bool


class PostDeleted(Body):
    post_id: str
    cursor: str
    deleted: Literal[True]


# --- events --------------------------------------------------------------------------------


class EventsQuery(Query):
    after: Cursor = "0"
    timeout: Annotated[int, Field(ge=0, le=30)] = 25


class EventItem(Body):
    cursor: str
    type: Literal["post", "log"]
    post: PostItem | None = None
    seq: int | None = None
    entry: str | None = None


class EventsResponse(Body):
    events: list[EventItem]
    cursor: str
    more: bool


# --- blobs ---------------------------------------------------------------------------------


class BlobStored(Body):
    blob_id: str
    size: int
