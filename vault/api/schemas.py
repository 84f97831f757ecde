"""Request and response bodies: pydantic models that validate requests and feed OpenAPI.

Binary values travel as unpadded base64url (``vault.crypto.encoding.b64encode``); the
models bound their text length and hold it to :data:`B64_PATTERN`, which admits exactly the
canonical unpadded base64url texts (so a text the document allows is one the core's strict
``b64decode`` accepts), and the handlers decode them with that ``b64decode``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
    model_validator,
)
from pydantic.config import JsonDict

from vault.crypto.inbox import MAX_INBOX_ENVELOPE_SIZE
from vault.crypto.limits import (
    MAX_ENVELOPE_SIZE,
    MAX_GRANT_SIZE,
    MAX_JOIN_REQUEST_SIZE,
    MAX_LOG_ENTRY_SIZE,
)
from vault.crypto.rules_card import MAX_CARD_ENVELOPE_SIZE, RulesAcceptance

MAX_DB_INT = 2**62  # every integer a client sends fits a signed 64-bit column
_B64 = "[A-Za-z0-9_-]"
# Canonical unpadded base64url: whole quads, then an optional 2- or 3-character tail whose
# last character carries no stray bits (1 trailing byte: 4 zero bits; 2 bytes: 2 zero bits).
B64_PATTERN = rf"^(?:{_B64}{{4}})*(?:{_B64}[AQgw]|{_B64}{{2}}[AEIMQUYcgkosw048])?$"
CURSOR_PATTERN = r"^[0-9]{1,18}$"


def b64_chars(size: int) -> int:
    """Length of the unpadded base64url text of *size* bytes."""
    return -(-size * 4 // 3)


def b64_pattern(size: int) -> str:
    """The canonical unpadded base64url texts of exactly *size* bytes (a pattern that fixes
    the length itself, so generators of matching text need not filter on length)."""
    quads, rest = divmod(size, 3)
    tail = ("", f"{_B64}[AQgw]", f"{_B64}{{2}}[AEIMQUYcgkosw048]")[rest]
    return f"^{_B64}{{{4 * quads}}}{tail}$"


def b64_text(max_bytes: int, min_bytes: int = 1) -> StringConstraints:
    """Constraints of a base64url field of *min_bytes* to *max_bytes* bytes:
    ``Annotated[str, b64_text(32, 32)]``."""
    return StringConstraints(
        pattern=b64_pattern(max_bytes) if min_bytes == max_bytes else B64_PATTERN,
        min_length=b64_chars(min_bytes),
        max_length=b64_chars(max_bytes),
    )


def b64_out(max_bytes: int, min_bytes: int = 1) -> WithJsonSchema:
    """A response field's format, for the document (and the SDK's contract test) only: the
    relay makes these texts itself, and checking them on the way out would cost time on its
    hottest paths."""
    constraints = b64_text(max_bytes, min_bytes)
    return WithJsonSchema({"type": "string", "pattern": constraints.pattern,
                           "minLength": constraints.min_length,
                           "maxLength": constraints.max_length})


def _exact_integer(value: Any) -> Any:
    """JSON does not tell 1 from 1.0 (JSON Schema's ``integer`` admits both): the request
    parser reads numbers with a fraction part as exact Decimals, and an integral one is
    accepted as the integer it denotes. Everything else reaches strict validation unchanged
    (so ``true``, ``"1"`` and ``1.5`` are still refused)."""
    if (isinstance(value, Decimal) and value.is_finite() and value.adjusted() < 20
            and value == value.to_integral_value()):
        return int(value)  # (adjusted() bounds the work: "1e999999999" stays a Decimal)
    return value


B64Key = Annotated[str, b64_text(32, 32)]
B64Id16 = Annotated[str, b64_text(16, 16)]
B64Sig = Annotated[str, b64_text(64, 64)]
Cursor = Annotated[
    str, StringConstraints(pattern=CURSOR_PATTERN), Field(description="opaque cursor")
]
BoundedInt = Annotated[int, Field(ge=0, le=MAX_DB_INT)]
# An integer in a JSON body (query strings are parsed separately, in lax mode).
BodyInt = Annotated[int, Field(ge=0, le=MAX_DB_INT), BeforeValidator(_exact_integer)]

# A field holds at most the protocol's largest object of its kind (vault.crypto.limits): a
# longer one could not be valid, so it is refused by its length (400 invalid_request), before
# it is decoded.
MAX_ENTRY_BYTES = MAX_LOG_ENTRY_SIZE
MAX_JOIN_REQUEST_BYTES = MAX_JOIN_REQUEST_SIZE
MAX_GRANT_BYTES = MAX_GRANT_SIZE
MAX_ENVELOPE_BYTES = MAX_ENVELOPE_SIZE
MAX_GRANTS = 10_000  # grants in one upload (a relay bound, not a protocol one)
JSON_SLACK = 1024  # the field's name, quotes, braces and whitespace around one base64 value


def json_body_limit(max_bytes: int) -> int:
    """The largest JSON body of one base64url field of at most *max_bytes* bytes."""
    return b64_chars(max_bytes) + JSON_SLACK


# The largest grants upload the schema allows (every grant at its maximum, JSON quoting and
# commas, the epoch and braces) must fit the endpoint's byte limit.
GRANTS_MAX_BODY = MAX_GRANTS * (b64_chars(MAX_GRANT_BYTES) + 3) + 4 * JSON_SLACK

EntryB64 = Annotated[str, b64_text(MAX_ENTRY_BYTES)]
JoinRequestB64 = Annotated[str, b64_text(MAX_JOIN_REQUEST_BYTES)]
AcceptanceB64 = Annotated[str, b64_text(RulesAcceptance.ENCODED_SIZE,
                                        RulesAcceptance.ENCODED_SIZE)]
CardB64 = Annotated[str, b64_text(MAX_CARD_ENVELOPE_SIZE)]
GrantB64 = Annotated[str, b64_text(MAX_GRANT_BYTES)]
EnvelopeB64 = Annotated[str, b64_text(MAX_ENVELOPE_BYTES)]

# The same formats in responses (documented, not checked: see b64_out).
Out32 = Annotated[str, b64_out(32, 32)]  # keys, group ids, hashes, challenges, tokens
OutId16 = Annotated[str, b64_out(16, 16)]  # post, blob and invite ids
OutEntry = Annotated[str, b64_out(MAX_ENTRY_BYTES)]
OutJoinRequest = Annotated[str, b64_out(MAX_JOIN_REQUEST_BYTES)]
OutAcceptance = Annotated[str, b64_out(RulesAcceptance.ENCODED_SIZE,
                                       RulesAcceptance.ENCODED_SIZE)]
OutCard = Annotated[str, b64_out(MAX_CARD_ENVELOPE_SIZE)]
InboxB64 = Annotated[str, b64_text(MAX_INBOX_ENVELOPE_SIZE)]
OutInbox = Annotated[str, b64_out(MAX_INBOX_ENVELOPE_SIZE)]
OutGrant = Annotated[str, b64_out(MAX_GRANT_BYTES)]
OutEnvelope = Annotated[str, b64_out(MAX_ENVELOPE_BYTES)]
OutCursor = Annotated[str, WithJsonSchema(
    {"type": "string", "pattern": CURSOR_PATTERN, "description": "opaque cursor"})]


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


def _one_subject(model: Any) -> Any:
    if (model.member is None) == (model.invite_id is None):
        raise ValueError("give exactly one of 'member' and 'invite_id'")
    return model


# In the document: exactly one of the two is a string (the other absent or null).
ONE_SUBJECT_SCHEMA: JsonDict = {"oneOf": [
    {"required": ["member"], "properties": {"member": {"type": "string"}}},
    {"required": ["invite_id"], "properties": {"invite_id": {"type": "string"}}},
]}


class ChallengeRequest(Body):
    model_config = ConfigDict(json_schema_extra=ONE_SUBJECT_SCHEMA)

    member: B64Key | None = Field(None, description="member sign_pk (a member session)")
    invite_id: B64Id16 | None = Field(None, description="invite id (a joiner's read session)")

    _one_subject = model_validator(mode="after")(_one_subject)


class ChallengeResponse(Body):
    challenge: Out32
    expires_at_ms: int


class SessionRequest(Body):
    model_config = ConfigDict(json_schema_extra=ONE_SUBJECT_SCHEMA)

    member: B64Key | None = None
    invite_id: B64Id16 | None = None
    challenge: B64Key
    signature: B64Sig

    _one_subject = model_validator(mode="after")(_one_subject)


class SessionResponse(Body):
    token: Out32
    expires_at_ms: int


# --- groups and the log ----------------------------------------------------------------------


class CreateGroupRequest(Body):
    genesis: EntryB64


class GroupResponse(Body):
    group_id: Out32
    head_seq: int


class LogQuery(Query):
    from_: BoundedInt = Field(0, alias="from")
    limit: Annotated[int, Field(ge=1, le=1000)] = 500


class LogResponse(Body):
    entries: list[OutEntry]
    head_seq: int


class DeletionResponse(Body):
    """The entry that deleted a group (what its members' devices check, protocol §4.9)."""

    seq: int
    entry: OutEntry


class AppendRequest(Body):
    entry: EntryB64


class AppendResponse(Body):
    seq: int
    head: Out32
    cursor: OutCursor


# --- invites -------------------------------------------------------------------------------


class JoinRequestBody(Body):
    request: JoinRequestB64
    acceptance: AcceptanceB64 | None = None
    """The joiner's signed RulesAcceptance (protocol §8.7), when they accepted the rules."""


class JoinRequestStatus(Body):
    joiner: Out32
    invite_id: OutId16
    status: Literal["pending", "approved", "denied"]


class JoinRequestItem(Body):
    joiner: Out32
    invite_id: OutId16
    request: OutJoinRequest
    created_at_ms: int
    acceptance: OutAcceptance | None = None


class RulesCardBody(Body):
    card: CardB64
    """A CardEnvelope (protocol §8.7): ciphertext under a key only the invite's holder has."""


class RulesCardResponse(Body):
    invite_id: OutId16
    card: OutCard


class JoinRequestList(Body):
    requests: list[JoinRequestItem]


# --- the moderators' inbox ----------------------------------------------------------------


class PutInboxRequest(Body):
    envelope: InboxB64
    """An InboxEnvelope (protocol §8.8): ciphertext sealed to each recipient it lists."""


class InboxStored(Body):
    item_id: OutId16
    cursor: OutCursor


MAX_INBOX_PAGE = 200


class InboxQuery(Query):
    after: Cursor | None = None
    limit: Annotated[int, Field(ge=1, le=MAX_INBOX_PAGE)] = 100


class InboxItem(Body):
    item_id: OutId16
    cursor: OutCursor
    sender: Out32
    envelope: OutInbox
    created_at_ms: int


class InboxPage(Body):
    items: list[InboxItem]
    next_cursor: OutCursor | None = Field(
        description="pass as ?after= for the next page; null when this page is the last")


# --- grants --------------------------------------------------------------------------------


class GrantsUpload(Body):
    epoch: BodyInt
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
    grant: OutGrant


class GrantsResponse(Body):
    grants: list[GrantItem]


# --- posts ---------------------------------------------------------------------------------


class PutPostRequest(Body):
    envelope: EnvelopeB64


class PostStored(Body):
    post_id: OutId16
    cursor: OutCursor


MAX_POSTS_PAGE = 250
"""The most posts one read after a cursor returns (a page also stops at 4 MiB): a new
member's first sync of 10,000 posts takes 40 requests, not 100 (benchmarks/cold_sync.py)."""


class PostsQuery(Query):
    after: Cursor | None = None
    newest: Annotated[int, Field(ge=1, le=100)] | None = None
    limit: Annotated[int, Field(ge=1, le=MAX_POSTS_PAGE)] = 50


class PostItem(Body):
    post_id: OutId16
    cursor: OutCursor
    envelope: OutEnvelope | None = Field(description="null once deleted (a tombstone)")
    deleted: bool
    created_at_ms: int
    expires_at_ms: int | None


class PostsPage(Body):
    posts: list[PostItem]
    cursor: OutCursor | None = Field(description="pass as ?after= for the next page")
    more: bool


class PostDeleted(Body):
    post_id: OutId16
    cursor: OutCursor
    deleted: Literal[True]


# --- events --------------------------------------------------------------------------------


class EventsQuery(Query):
    after: Cursor = "0"
    timeout: Annotated[int, Field(ge=0, le=30)] = 25


class EventStreamQuery(Query):
    after: Cursor = Field("0", description="opaque cursor; a Last-Event-ID header, sent when "
                                           "resuming a stream, takes its place")


class EventItem(Body):
    cursor: OutCursor
    type: Literal["post", "log"]
    post: PostItem | None = None
    seq: int | None = None
    entry: OutEntry | None = None


class EventsResponse(Body):
    events: list[EventItem]
    cursor: OutCursor
    more: bool


# --- blobs ---------------------------------------------------------------------------------


class BlobQuery(Query):
    post_id: B64Id16 = Field(
        description="id of the post this attachment belongs to (16 bytes, unpadded base64url): "
                    "the attachment is deleted with that post, and as an orphan if no such "
                    "post is stored within 24 hours of the upload",
    )


class BlobStored(Body):
    blob_id: OutId16
    size: int
