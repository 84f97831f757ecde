"""The relay's configuration: one frozen, typed object, read from the environment.

Every setting is a ``VAULT_*`` environment variable; the mapping passed to
:func:`vault.api.create_app` overrides them key by key (same names). This module is the one
place a setting is named, typed, defaulted and described: the relay reads it through
``services().settings``, and README.md's configuration table is :func:`configuration_table`
(tests/test_docs.py fails, printing the table to paste, when the two differ).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from vault.api.errors import RelayConfigError
from vault.crypto.limits import MAX_BLOB_SIZE

TRUE_WORDS = ("1", "true", "yes", "on")


def _switch(value: Any) -> Any:
    """Unset or empty: None (the relay decides); a word: on for 1/true/yes/on, else off."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value.strip().lower() in TRUE_WORDS
    return bool(value)


def _path_text(value: Any) -> Any:
    return os.fspath(value) if isinstance(value, os.PathLike) else value


def setting(default: Any, name: str, description: str, *, shown: str | None = None,
            note: str | None = None) -> Any:
    """A field read from the environment variable *name*. README shows *shown* as its
    default, else the default's value followed by *note*."""
    extra: dict[str, Any] = {}
    if shown is not None:
        extra["shown"] = shown
    if note is not None:
        extra["note"] = note
    return Field(default, alias=name, description=description, json_schema_extra=extra)


class RelaySettings(BaseSettings):
    """Everything an operator can set. Frozen: read once when the app is built."""

    model_config = SettingsConfigDict(frozen=True, case_sensitive=True, extra="forbid")

    database_url: Annotated[str | None, BeforeValidator(_path_text)] = setting(
        None, "VAULT_DATABASE_URL",
        "`sqlite:////abs/path/relay.db` or `postgresql+psycopg://user:pass@host:5432/db` "
        "(`postgresql://` is accepted too)",
        shown="SQLite file `<VAULT_DATA_DIR>/relay.db`")
    data_dir: Annotated[str, BeforeValidator(_path_text)] = setting(
        "./var/relay", "VAULT_DATA_DIR",
        "where the default SQLite database lives; created if missing, must be writable",
        note="relative to the working directory")
    auto_migrate: Annotated[bool | None, BeforeValidator(_switch)] = setting(
        None, "VAULT_AUTO_MIGRATE",
        "upgrade the schema when the relay starts (`vault relay serve` and `purge`, gunicorn "
        "with `vault.api.gunicorn_conf`); `vault.api.create_app` itself never does",
        shown="on for SQLite, off for PostgreSQL")
    max_blob_bytes: int = setting(
        MAX_BLOB_SIZE, "VAULT_MAX_BLOB_BYTES",
        "largest encrypted attachment (the protocol's maximum; lower it to refuse large "
        "attachments)", note="10 MiB + 40")
    rate_limit: float = setting(
        50.0, "VAULT_RATE_LIMIT",
        "requests per second per client address, **per process**; `0` switches rate "
        "limiting off")
    rate_burst: float = setting(
        200.0, "VAULT_RATE_BURST",
        "requests a client address may make at once before `VAULT_RATE_LIMIT` applies")
    rate_limit_expensive: float = setting(
        2.0, "VAULT_RATE_LIMIT_EXPENSIVE",
        "`VAULT_RATE_LIMIT` for group creation, auth challenges and sessions, join requests")
    rate_burst_expensive: float = setting(
        30.0, "VAULT_RATE_BURST_EXPENSIVE", "`VAULT_RATE_BURST` for the same requests")
    proxy_hops: int = setting(
        0, "VAULT_PROXY_HOPS", "how many trusted reverse proxies sit in front (see below)")
    session_ttl_s: int = setting(3600, "VAULT_SESSION_TTL_S", "session lifetime, in seconds")
    challenge_ttl_s: int = setting(
        60, "VAULT_CHALLENGE_TTL_S", "auth challenge lifetime, in seconds (single use)")
    events_poll_ms: int = setting(
        2000, "VAULT_EVENTS_POLL_MS",
        "how often each relay process re-reads the event counters of the groups it has "
        "members waiting for (one query per 500 groups, not one per member): the safety net "
        "for a lost wake-up signal, which is otherwise delivered at once")
    events_stream_s: int = setting(
        300, "VAULT_EVENTS_STREAM_S",
        "lifetime of an event stream (`GET .../events/stream`), in seconds: then the relay "
        "ends it and the client reconnects with `Last-Event-ID` (`0`: after the first batch)")
    events_heartbeat_s: float = setting(
        15.0, "VAULT_EVENTS_HEARTBEAT_S",
        "an event stream with nothing to send sends a comment line this often, in seconds, so "
        "proxies keep it open and a vanished client is noticed")
    body_timeout_s: float = setting(
        20.0, "VAULT_BODY_TIMEOUT_S",
        "a request body must arrive within this many seconds plus one second per "
        "`VAULT_BODY_MIN_RATE` bytes, else it is cut off (`0` disables)")
    body_min_rate: float = setting(
        4096.0, "VAULT_BODY_MIN_RATE",
        "the slowest upload `VAULT_BODY_TIMEOUT_S` allows for, in bytes per second")
    db_busy_timeout_ms: int = setting(
        10_000, "VAULT_DB_BUSY_TIMEOUT_MS", "SQLite: how long a writer waits for the write lock")
    log_level: str = setting("INFO", "VAULT_LOG_LEVEL", "`WARNING` drops the per-request lines")

    def upgrades_at_start(self, database_url: str) -> bool:
        """Whether a start path upgrades the schema first: as set, else on SQLite only."""
        if self.auto_migrate is None:
            return database_url.startswith("sqlite")
        return self.auto_migrate


KINDS = {"int_parsing": "a whole number", "int_from_float": "a whole number",
         "int_type": "a whole number", "float_parsing": "a number", "float_type": "a number"}


def load_settings(overrides: Mapping[str, Any] | None = None) -> RelaySettings:
    """The environment's settings with *overrides* on top. Raises :class:`RelayConfigError`
    naming the first setting it cannot use (never its value: a URL may hold a password)."""
    try:
        return RelaySettings(**dict(overrides or {}))
    except ValidationError as error:
        problem = error.errors(include_url=False, include_input=False)[0]
        name = str(problem["loc"][0]) if problem["loc"] else "the configuration"
        if problem["type"] == "extra_forbidden":
            raise RelayConfigError(f"{name} is not a relay setting") from None
        kind = KINDS.get(problem["type"])
        if kind is not None:
            raise RelayConfigError(f"{name} must be {kind}") from None
        raise RelayConfigError(f"{name}: {problem['msg']}") from None


def resolve_database_url(settings: RelaySettings) -> str:
    """The SQLAlchemy URL to use, with the data directory (made if missing) checked for
    SQLite."""
    if not settings.database_url:
        data_dir = Path(settings.data_dir).expanduser()
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise RelayConfigError(
                f"cannot create the data directory {data_dir}: {error.strerror}"
            ) from None
        if not os.access(data_dir, os.W_OK | os.X_OK):
            raise RelayConfigError(f"the data directory {data_dir} is not writable")
        return f"sqlite:///{(data_dir / 'relay.db').resolve()}"
    try:
        url = make_url(settings.database_url)
    except ArgumentError:
        raise RelayConfigError(
            "VAULT_DATABASE_URL is not a database URL; use sqlite:///path/relay.db or "
            "postgresql+psycopg://user@host:5432/dbname"
        ) from None
    backend = url.get_backend_name()
    if backend == "postgresql":
        if url.drivername in ("postgresql", "postgres"):
            url = url.set(drivername="postgresql+psycopg")
        elif url.drivername != "postgresql+psycopg":
            raise RelayConfigError("for PostgreSQL use a postgresql+psycopg:// URL")
    elif backend == "sqlite":
        if url.database and url.database != ":memory:":
            parent = Path(url.database).expanduser().resolve().parent
            if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
                raise RelayConfigError(f"the SQLite database directory {parent} is not writable")
    else:
        raise RelayConfigError(
            f"unsupported database '{backend}': the relay runs on SQLite or PostgreSQL"
        )
    return url.render_as_string(hide_password=False)


# --- the README's table ------------------------------------------------------------------------


def _shown_default(field: FieldInfo) -> str:
    extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
    if "shown" in extra:
        return str(extra["shown"])
    value = field.default
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = f"`{value}`"
    return f"{text} ({extra['note']})" if "note" in extra else text


def configuration_table() -> str:
    """README.md's configuration table (markdown), one row per setting."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for field in RelaySettings.model_fields.values():
        rows.append(f"| `{field.alias}` | {_shown_default(field)} | {field.description} |")
    return "\n".join(rows)
