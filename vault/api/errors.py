"""Every error leaves the relay as ``{"error": {"code": ..., "message": ...}}``.

The code is the ``code`` of a :class:`vault.crypto.errors.VaultError` subclass, so the SDK
rebuilds the same class. Werkzeug's HTTP errors (404, 405, 413, ...) are mapped to relay
errors too, and a catch-all turns anything unexpected into ``internal`` while logging only
the exception type (never request bodies).

Errors that only the relay raises and no client ever receives are defined here, not in the
core (a code the SDK does not know is rebuilt as their parent, :class:`RelayError`).
"""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, request
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from vault.crypto import errors as E

log = logging.getLogger("vault.relay")


class RelayConfigError(E.RelayError):
    """The relay cannot start with this configuration (data directory, database URL,
    schema...). Raised before anything is served, so it never reaches a client."""

    code = "relay_config"


# First match along the class's MRO wins.
STATUS: dict[type[E.VaultError], int] = {
    E.InvalidJsonError: 400,
    E.UnsupportedMediaTypeError: 415,
    E.InvalidRequestError: 400,
    E.MalformedError: 400,
    E.PayloadTooLargeError: 413,
    E.AuthError: 401,
    E.ForbiddenError: 403,
    E.NotAMemberError: 403,
    E.NotFoundError: 404,
    E.UnknownInviteError: 404,
    E.MethodNotAllowedError: 405,
    E.ConflictError: 409,
    E.PostDeletedError: 410,
    E.GroupDeletedError: 410,
    E.InviteExpiredError: 410,
    E.InviteRevokedError: 410,
    E.InviteExhaustedError: 409,
    E.EpochStaleError: 409,
    E.RateLimitedError: 429,
    E.RelayUnavailableError: 503,
    E.InternalError: 500,
    E.SignatureError: 400,
    E.LogError: 422,
    E.InviteError: 422,
    E.GrantError: 422,
    E.PostRejectedError: 422,
    E.LogEntryStaleError: 422,
    E.JoinRequestStaleError: 422,
    E.TooLargeError: 413,
}


def status_of(error: E.VaultError) -> int:
    for cls in type(error).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


def error_response(error: E.VaultError, status: int | None = None) -> Response:
    response = jsonify({"error": {"code": error.code, "message": error.message}})
    response.status_code = status if status is not None else status_of(error)
    retry_after = getattr(error, "retry_after", None)
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


_HTTP: dict[int, tuple[type[E.VaultError], str]] = {
    400: (E.InvalidRequestError, "the request could not be understood"),
    401: (E.AuthError, "authentication required"),
    403: (E.ForbiddenError, "not allowed"),
    404: (E.NotFoundError, "no such resource"),
    405: (E.MethodNotAllowedError, "method not allowed on this resource"),
    413: (E.PayloadTooLargeError, "request body too large"),
    415: (E.UnsupportedMediaTypeError, "unsupported content type"),
    429: (E.RateLimitedError, "too many requests"),
}


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(E.VaultError)
    def _vault(error: E.VaultError) -> Response:
        return error_response(error)

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException) -> Response:
        status = error.code or 500
        cls, message = _HTTP.get(status, (E.InternalError, "request failed"))
        if status == 413:
            limit = request.max_content_length
            message = f"request body too large (limit {limit} bytes for this endpoint)"
        response = error_response(cls(message), status if status in _HTTP else 500)
        if status == 405 and error.valid_methods:  # type: ignore[attr-defined]
            response.headers["Allow"] = ", ".join(error.valid_methods)  # type: ignore[attr-defined]
        return response

    @app.errorhandler(OperationalError)
    def _db_down(error: OperationalError) -> Response:
        log.error("database error", extra={"vault": {"error_type": type(error.orig).__name__}})
        return error_response(E.RelayUnavailableError("the relay's database is unavailable"))

    @app.errorhandler(Exception)
    def _internal(error: Exception) -> Response:
        # Only the type: messages and tracebacks may carry request data.
        log.error("unhandled error", extra={"vault": {"error_type": type(error).__name__}})
        return error_response(E.InternalError("internal error; nothing was stored"))
