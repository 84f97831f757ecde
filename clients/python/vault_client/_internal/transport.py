"""The HTTP transport: the only place the SDK talks to a relay.

* JSON errors become the same :class:`~vault.crypto.errors.VaultError` subclasses the relay
  raised (looked up by their stable ``code``).
* Requests that are safe to repeat (reads, idempotent uploads of posts, blobs and grants,
  join requests, group creation) are retried with backoff while the relay is unreachable,
  up to a time budget. A request that never left this machine (connection refused) is
  retried whatever it was.
* The log append is not idempotent in general: when it may have reached the relay but no
  answer came back, :class:`AmbiguousAppend` tells the caller to re-read the log to see
  whether the entry landed, instead of sending it blindly again.
* Sessions: a challenge signed by the member's (or the invite's) key gives a token, kept
  per subject and renewed when the relay says it expired.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

import httpx

from vault.crypto.auth import sign_invite_challenge, sign_member_challenge
from vault.crypto.encoding import b64decode, b64encode
from vault.crypto.errors import (
    AuthError,
    InvalidRequestError,
    MalformedError,
    NotFoundError,
    RateLimitedError,
    RelayError,
    VaultError,
)
from vault.crypto.identity import Identity
from vault_client.errors import RelayUnreachableError, all_error_classes
from vault_client.types import RetryNotice

_ERRORS: Final = all_error_classes()
_GATEWAY: Final = frozenset({502, 503, 504})
_NOT_SENT: Final = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
USER_AGENT: Final = "vault-client/0.1"
POSTS_PAGE: Final = 250
"""The most posts a read after a cursor asks for (the relay serves up to 250)."""
OLD_POSTS_PAGE: Final = 100
"""What relays from before pages of 250 serve at most."""


class AmbiguousAppend(Exception):
    """A log append may or may not have reached the relay: re-read the log to find out."""


class Auth(Protocol):
    @property
    def group_id(self) -> bytes: ...

    @property
    def cache_key(self) -> tuple[bytes, str, bytes]: ...

    def subject(self) -> dict[str, str]: ...

    def sign(self, challenge: bytes) -> bytes: ...


@dataclass(frozen=True)
class MemberAuth:
    """Authenticate as a member with its per-group identity."""

    group_id: bytes
    identity: Identity = field(repr=False)

    @property
    def cache_key(self) -> tuple[bytes, str, bytes]:
        return (self.group_id, "member", self.identity.sign_pk)

    def subject(self) -> dict[str, str]:
        return {"member": b64encode(self.identity.sign_pk)}

    def sign(self, challenge: bytes) -> bytes:
        return sign_member_challenge(self.identity, self.group_id, challenge)


@dataclass(frozen=True)
class InviteAuth:
    """Authenticate as the holder of an invite (reads the log before joining)."""

    group_id: bytes
    invite_id: bytes
    invite_sk: bytes = field(repr=False)

    @property
    def cache_key(self) -> tuple[bytes, str, bytes]:
        return (self.group_id, "invite", self.invite_id)

    def subject(self) -> dict[str, str]:
        return {"invite_id": b64encode(self.invite_id)}

    def sign(self, challenge: bytes) -> bytes:
        return sign_invite_challenge(self.invite_sk, self.group_id, self.invite_id, challenge)


# --- response shapes (the relay is untrusted: every field is checked) -------------------------


def _field(obj: Any, name: str, kind: type | tuple[type, ...]) -> Any:
    if not isinstance(obj, dict) or name not in obj or not isinstance(obj[name], kind):
        raise MalformedError(f"relay response: missing or invalid '{name}'")
    value = obj[name]
    if kind is int and isinstance(value, bool):
        raise MalformedError(f"relay response: invalid '{name}'")
    return value


def _opt(obj: Any, name: str, kind: type) -> Any:
    if not isinstance(obj, dict):
        raise MalformedError("relay response: expected an object")
    value = obj.get(name)
    if value is not None and not isinstance(value, kind):
        raise MalformedError(f"relay response: invalid '{name}'")
    return value


def _b64(obj: Any, name: str) -> bytes:
    return b64decode(_field(obj, name, str), f"relay response '{name}'")


def _opt_b64(obj: Any, name: str) -> bytes | None:
    text = _opt(obj, name, str)
    return None if text is None else b64decode(text, f"relay response '{name}'")


@dataclass(frozen=True)
class LogPage:
    entries: list[bytes]
    head_seq: int


@dataclass(frozen=True)
class RelayPost:
    post_id: bytes
    cursor: str
    envelope: bytes | None
    deleted: bool
    expires_at_ms: int | None


@dataclass(frozen=True)
class PostsPage:
    posts: list[RelayPost]
    cursor: str | None
    more: bool


@dataclass(frozen=True)
class EventsPage:
    count: int
    cursor: str
    more: bool
    post_ids: tuple[bytes, ...] = ()
    """The posts (new, or deleted: tombstones) among the events."""
    log_seqs: tuple[int, ...] = ()
    """The log entries among the events."""


@dataclass(frozen=True)
class RelayJoinRequest:
    joiner: bytes
    invite_id: bytes
    request: bytes
    created_at_ms: int
    acceptance: bytes | None = None
    """The joiner's signed RulesAcceptance, as the relay shows it (checked by the caller)."""


def _post(item: Any) -> RelayPost:
    envelope = _opt(item, "envelope", str)
    return RelayPost(
        post_id=_b64(item, "post_id"),
        cursor=_cursor(_field(item, "cursor", str)),
        envelope=None if envelope is None else b64decode(envelope, "relay response 'envelope'"),
        deleted=bool(_field(item, "deleted", bool)),
        expires_at_ms=_opt(item, "expires_at_ms", int),
    )


def _cursor(text: str) -> str:
    if not (text.isascii() and text.isdigit() and len(text) <= 18):
        raise MalformedError("relay response: invalid cursor")
    return text


# --- the transport ----------------------------------------------------------------------------


class Transport:
    """One relay. Synchronous; not for concurrent use by several threads at once."""

    def __init__(
        self,
        relay_url: str,
        *,
        timeout: float = 30.0,
        retry_for: float = 20.0,
        http: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
        on_retry: Callable[[RetryNotice], None] | None = None,
    ) -> None:
        self.relay_url = relay_url
        self.retry_for = retry_for
        self._on_retry = on_retry
        self._timeout = timeout
        self._sleep = sleep
        self._http = http or httpx.Client(
            base_url=relay_url, timeout=timeout, headers={"User-Agent": USER_AGENT},
            follow_redirects=False, transport=transport,
        )
        self._tokens: dict[tuple[bytes, str, bytes], str] = {}
        self._posts_page = POSTS_PAGE

    def close(self) -> None:
        self._http.close()

    def forget_sessions(self, group_id: bytes | None = None) -> None:
        for key in list(self._tokens):
            if group_id is None or key[0] == group_id:
                del self._tokens[key]

    # --- plumbing -----------------------------------------------------------------------------

    def _send(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        content: bytes | None = None,
        params: Mapping[str, str | int] | None = None,
        token: str | None = None,
        idempotent: bool,
        timeout: float | None = None,
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        if content is not None:
            headers["Content-Type"] = "application/octet-stream"
        deadline = time.monotonic() + self.retry_for
        delay = 0.1
        while True:
            try:
                response = self._http.request(
                    method, path, json=json, content=content, params=params, headers=headers,
                    timeout=self._timeout if timeout is None else timeout,
                )
            except httpx.TransportError as error:
                sent = not isinstance(error, _NOT_SENT)
                if sent and not idempotent:
                    raise AmbiguousAppend() from None
                if time.monotonic() + delay > deadline:
                    raise RelayUnreachableError(
                        f"the relay at {self.relay_url} cannot be reached (no connection, "
                        "or it does not answer); check the connection and try again later"
                    ) from None
            else:
                if response.status_code in _GATEWAY:
                    if not idempotent:
                        raise AmbiguousAppend()
                    if time.monotonic() + delay > deadline:
                        raise self._error(response)
                elif response.status_code == 429:
                    wait = _retry_after(response)
                    if time.monotonic() + wait > deadline:
                        raise self._error(response)
                    self._sleep(wait)
                    continue
                else:
                    return response
            if self._on_retry is not None:
                self._on_retry(RetryNotice(self.relay_url, max(0.0, deadline - time.monotonic())))
            self._sleep(delay)
            delay = min(delay * 2, 2.0)

    def _error(self, response: httpx.Response) -> VaultError:
        try:
            body = response.json()
            code = body["error"]["code"]
            message = body["error"]["message"]
            if not isinstance(code, str) or not isinstance(message, str):
                raise TypeError
        except (ValueError, KeyError, TypeError, RecursionError):  # nested too deep: not ours
            if response.status_code in _GATEWAY:
                return RelayUnreachableError(
                    f"the relay at {self.relay_url} is not answering (HTTP "
                    f"{response.status_code}); try again later"
                )
            return RelayError(f"the relay answered HTTP {response.status_code} without a "
                              "Vault error body")
        cls = _ERRORS.get(code, RelayError)
        error = cls(message[:500])
        # Its message is the relay's words, not the SDK's: a user interface should say it
        # in its own (a hostile relay writes what it likes there).
        error.from_relay = True  # type: ignore[attr-defined]
        if isinstance(error, RateLimitedError):
            error.retry_after = _retry_after(response)  # type: ignore[attr-defined]
        return error

    def _json(self, response: httpx.Response, *ok: int) -> Any:
        if response.status_code not in ok:
            raise self._error(response)
        try:
            return response.json()
        except (ValueError, RecursionError):  # RecursionError: arrays nested 100,000 deep
            raise MalformedError("relay response is not JSON") from None

    def _token(self, auth: Auth, *, fresh: bool = False) -> str:
        key = auth.cache_key
        if not fresh and key in self._tokens:
            return self._tokens[key]
        base = f"/v1/groups/{b64encode(auth.group_id)}/auth"
        subject = auth.subject()
        response = self._send("POST", f"{base}/challenge", json=subject, idempotent=True)
        challenge = _b64(self._json(response, 201), "challenge")
        signed = {**subject, "challenge": b64encode(challenge),
                  "signature": b64encode(auth.sign(challenge))}
        response = self._send("POST", f"{base}/session", json=signed, idempotent=True)
        token = _field(self._json(response, 201), "token", str)
        # It goes into a header: only the base64url text the relay makes (not any text).
        b64decode(token, "relay response 'token'", max_len=64)
        self._tokens[key] = token
        return str(token)

    def _authed(self, auth: Auth, method: str, path: str, *, idempotent: bool,
                **kwargs: Any) -> httpx.Response:
        response = self._send(method, path, token=self._token(auth), idempotent=idempotent,
                              **kwargs)
        if response.status_code == 401:
            error = self._error(response)
            if isinstance(error, AuthError):  # expired or unknown session: sign again, once
                response = self._send(method, path, token=self._token(auth, fresh=True),
                                      idempotent=idempotent, **kwargs)
        return response

    @staticmethod
    def _base(group_id: bytes) -> str:
        return f"/v1/groups/{b64encode(group_id)}"

    # --- endpoints ----------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        body = self._json(self._send("GET", "/v1/health", idempotent=True), 200)
        if not isinstance(body, dict):
            raise MalformedError("relay response: expected an object")
        return body

    def create_group(self, genesis: bytes) -> None:
        response = self._send("POST", "/v1/groups", json={"genesis": b64encode(genesis)},
                              idempotent=True)
        self._json(response, 200, 201)

    def read_log(self, auth: Auth, from_seq: int, limit: int = 500) -> LogPage:
        response = self._authed(auth, "GET", f"{self._base(auth.group_id)}/log",
                                params={"from": from_seq, "limit": limit}, idempotent=True)
        body = self._json(response, 200)
        entries = _field(body, "entries", list)
        raw = [b64decode(e, "relay response log entry") if isinstance(e, str) else
               _bad("log entry") for e in entries]
        return LogPage(raw, int(_field(body, "head_seq", int)))

    def append(self, auth: Auth | None, group_id: bytes, entry: bytes) -> None:
        """POST one entry. :class:`AmbiguousAppend` when it is unknown whether it landed."""
        path = f"{self._base(group_id)}/log"
        body = {"entry": b64encode(entry)}
        if auth is None:
            response = self._send("POST", path, json=body, idempotent=False)
        else:
            response = self._authed(auth, "POST", path, json=body, idempotent=False)
        self._json(response, 201)

    def submit_join_request(self, group_id: bytes, request: bytes,
                            acceptance: bytes | None = None) -> str:
        body = {"request": b64encode(request)}
        if acceptance is not None:
            body["acceptance"] = b64encode(acceptance)
        response = self._send("POST", f"{self._base(group_id)}/join-requests",
                              json=body, idempotent=True)
        status = _field(self._json(response, 200, 201), "status", str)
        return str(status)

    def deletion(self, group_id: bytes) -> bytes:
        """The entry that deleted the group, as the relay shows it (checked by the caller,
        vault.crypto.log_verify.check_deletion)."""
        response = self._send("GET", f"{self._base(group_id)}/deletion", idempotent=True)
        return _b64(self._json(response, 200), "entry")

    def join_requests(self, auth: Auth) -> list[RelayJoinRequest]:
        response = self._authed(auth, "GET", f"{self._base(auth.group_id)}/join-requests",
                                idempotent=True)
        items = _field(self._json(response, 200), "requests", list)
        return [RelayJoinRequest(_b64(i, "joiner"), _b64(i, "invite_id"), _b64(i, "request"),
                                 int(_field(i, "created_at_ms", int)), _opt_b64(i, "acceptance"))
                for i in items]

    def put_card(self, auth: Auth, invite_id: bytes, envelope: bytes) -> None:
        """Publish (or replace) an invite's rules card (admins)."""
        response = self._authed(
            auth, "PUT", f"{self._base(auth.group_id)}/invites/{b64encode(invite_id)}/card",
            idempotent=True, json={"card": b64encode(envelope)})
        self._json(response, 200)

    def card(self, auth: Auth, invite_id: bytes) -> bytes | None:
        """The invite's rules card as the relay keeps it, or None when none was published
        (checked by the caller, vault.crypto.rules_card)."""
        response = self._authed(
            auth, "GET", f"{self._base(auth.group_id)}/invites/{b64encode(invite_id)}/card",
            idempotent=True)
        if response.status_code == 404:
            error = self._error(response)
            if isinstance(error, NotFoundError):
                return None
            raise error
        return _b64(self._json(response, 200), "card")

    def put_inbox_item(self, auth: Auth, item_id: bytes, envelope: bytes) -> str:
        """Store an item of the moderators' inbox (idempotent on its id); its cursor."""
        response = self._authed(
            auth, "PUT", f"{self._base(auth.group_id)}/inbox/{b64encode(item_id)}",
            json={"envelope": b64encode(envelope)}, idempotent=True)
        return _cursor(_field(self._json(response, 200, 201), "cursor", str))

    def inbox(self, auth: Auth, after: str | None) -> tuple[list[tuple[bytes, str, bytes]],
                                                             str | None]:
        """One page of the inbox items sealed to this member: ``(item_id, cursor,
        envelope)`` each, and the cursor of the next page (None: the last)."""
        params: dict[str, str] = {} if after is None else {"after": after}
        response = self._authed(auth, "GET", f"{self._base(auth.group_id)}/inbox",
                                params=params, idempotent=True)
        body = self._json(response, 200)
        items = []
        for item in _field(body, "items", list):
            item_id = _b64(item, "item_id")
            if len(item_id) != 16:
                raise MalformedError("relay response: an inbox item id is 16 bytes")
            items.append((item_id, _cursor(_field(item, "cursor", str)),
                          _b64(item, "envelope")))
        following = body.get("next_cursor") if isinstance(body, dict) else None
        if following is not None and not isinstance(following, str):
            raise MalformedError("relay response: invalid 'next_cursor'")
        return items, None if following is None else _cursor(following)

    def deny(self, auth: Auth, joiner: bytes) -> None:
        response = self._authed(
            auth, "DELETE", f"{self._base(auth.group_id)}/join-requests/{b64encode(joiner)}",
            idempotent=True)
        self._json(response, 200)

    def upload_grants(self, auth: Auth, epoch: int, grants: list[bytes]) -> None:
        response = self._authed(
            auth, "POST", f"{self._base(auth.group_id)}/grants", idempotent=True,
            json={"epoch": epoch, "grants": [b64encode(g) for g in grants]},
        )
        self._json(response, 201)

    def grants(self, auth: Auth, epoch: int | None = None) -> list[tuple[int, bytes]]:
        params = {} if epoch is None else {"epoch": epoch}
        response = self._authed(auth, "GET", f"{self._base(auth.group_id)}/grants",
                                params=params, idempotent=True)
        items = _field(self._json(response, 200), "grants", list)
        return [(int(_field(i, "epoch", int)), _b64(i, "grant")) for i in items]

    def put_post(self, auth: Auth, post_id: bytes, envelope: bytes) -> str:
        response = self._authed(
            auth, "PUT", f"{self._base(auth.group_id)}/posts/{b64encode(post_id)}",
            json={"envelope": b64encode(envelope)}, idempotent=True,
        )
        if response.status_code not in (200, 201):
            raise self._error(response)  # the relay's refusal (or its trouble), typed
        try:
            return _cursor(_field(self._json(response, 200, 201), "cursor", str))
        except MalformedError:
            # A success status with an answer that cannot be read (a proxy's error page...):
            # whether the post was stored is unknown. It is not refused: the upload is
            # idempotent, so the caller keeps it and sends it again.
            raise RelayUnreachableError(
                f"the relay at {self.relay_url} answered a post upload with something that "
                "is not a Vault answer; the post will be sent again") from None

    def posts(self, auth: Auth, after: str | None, limit: int = 100) -> PostsPage:
        asked = min(limit, self._posts_page)
        params: dict[str, str | int] = {"limit": asked}
        if after is not None:
            params["after"] = after
        try:
            response = self._authed(auth, "GET", f"{self._base(auth.group_id)}/posts",
                                    params=params, idempotent=True)
            body = self._json(response, 200)
        except InvalidRequestError:
            if asked <= OLD_POSTS_PAGE:
                raise
            # A relay from before pages of 250 refuses more than 100: ask it for 100 from
            # now on (a refusal for another reason comes again, and is raised then).
            self._posts_page = OLD_POSTS_PAGE
            return self.posts(auth, after, limit)
        cursor = _opt(body, "cursor", str)
        page = PostsPage([_post(p) for p in _field(body, "posts", list)],
                         None if cursor is None else _cursor(cursor),
                         bool(_field(body, "more", bool)))
        if page.more and (page.cursor is None or int(page.cursor) <= int(after or "0")):
            # Else a relay serving one page over and over would keep the client paging.
            raise MalformedError("relay response: more posts, but the cursor did not advance")
        return page

    def delete_post(self, auth: Auth, post_id: bytes) -> None:
        response = self._authed(
            auth, "DELETE", f"{self._base(auth.group_id)}/posts/{b64encode(post_id)}",
            idempotent=True)
        self._json(response, 200)

    def events(self, auth: Auth, after: str, timeout: int) -> EventsPage:
        response = self._authed(
            auth, "GET", f"{self._base(auth.group_id)}/events",
            params={"after": after, "timeout": timeout}, idempotent=True,
            timeout=timeout + self._timeout,
        )
        return events_page(self._json(response, 200))

    def session_for(self, auth: Auth, *, fresh: bool = False) -> str:
        """A session token for *auth* (for a request made elsewhere, e.g. an async one)."""
        return self._token(auth, fresh=fresh)

    def error_of(self, response: httpx.Response) -> VaultError:
        """The typed error of a relay's answer (for a request made elsewhere)."""
        return self._error(response)

    def put_blob(self, auth: Auth, blob_id: bytes, data: bytes, post_id: bytes) -> None:
        response = self._authed(
            auth, "PUT", f"{self._base(auth.group_id)}/blobs/{b64encode(blob_id)}",
            content=data, params={"post_id": b64encode(post_id)}, idempotent=True)
        self._json(response, 200, 201)

    def get_blob(self, auth: Auth, blob_id: bytes) -> bytes:
        response = self._authed(
            auth, "GET", f"{self._base(auth.group_id)}/blobs/{b64encode(blob_id)}",
            idempotent=True)
        if response.status_code != 200:
            raise self._error(response)
        return response.content


def events_page(body: Any) -> EventsPage:
    """An answer of ``GET /events``, checked like every answer (the relay is untrusted)."""
    items = _field(body, "events", list)
    post_ids: list[bytes] = []
    log_seqs: list[int] = []
    for item in items:
        kind = _field(item, "type", str)
        if kind == "post":
            post_ids.append(_b64(_field(item, "post", dict), "post_id"))
        elif kind == "log":
            log_seqs.append(int(_field(item, "seq", int)))
        else:
            raise MalformedError("relay response: unknown event type")
    return EventsPage(len(items), _cursor(_field(body, "cursor", str)),
                      bool(_field(body, "more", bool)), tuple(post_ids), tuple(log_seqs))


def _bad(what: str) -> bytes:
    raise MalformedError(f"relay response: invalid {what}")


def _retry_after(response: httpx.Response) -> float:
    try:
        return max(0.1, min(60.0, float(response.headers.get("Retry-After", "1"))))
    except ValueError:
        return 1.0
