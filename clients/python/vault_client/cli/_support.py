"""What every ``vault`` command shares: settings, the passphrase, opening the client,
finding groups, members and posts from what a person types, and printing for people.

Only the SDK's public API (:mod:`vault_client`) is used here.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tomllib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, NoReturn, TypeVar

import click
import platformdirs

from vault_client import (
    Client,
    GroupInfo,
    JoinRequestInfo,
    MemberInfo,
    PostView,
    RetryNotice,
    SyncReport,
    VaultError,
    default_home,
    has_keystore,
    passphrase_strength,
)
from vault_client import events as ev
from vault_client.errors import (
    ForkError,
    KeystoreLockedError,
    NotAMemberError,
    RelayUnreachableError,
    RollbackError,
)

PASSPHRASE_ENV: Final = "VAULT_PASSPHRASE"  # noqa: S105 - a variable name
TRANSFER_PASSPHRASE_ENV: Final = "VAULT_TRANSFER_PASSPHRASE"  # noqa: S105
CONFIG_ENV: Final = "VAULT_CONFIG"
DEBUG_ENV: Final = "VAULT_DEBUG"
PROMPT_ATTEMPTS: Final = 3
SHORT: Final = 8
"""How many characters of an id are shown (and usually enough to type)."""
MIN_PREFIX: Final = 4

_T = TypeVar("_T")


# --- errors ----------------------------------------------------------------------------------


class Failure(click.ClickException):
    """One line on stderr, ``vault: <message>``, and exit status 1."""

    exit_code = 1

    def __init__(self, message: str, *, alarm: bool = False) -> None:
        super().__init__(message)
        self.alarm = alarm

    def show(self, file: Any = None) -> None:
        click.secho(f"vault: {self.message}", err=True, fg="red", bold=self.alarm)


class TimedOut(Failure):
    """Nothing happened in time (``vault wait``): exit status 3, so scripts can tell."""

    exit_code = 3


class Interrupted(Failure):
    """Ctrl-C: a plain line, not an alarm, and exit status 130."""

    exit_code = 130

    def show(self, file: Any = None) -> None:
        click.echo(f"vault: {self.message}", err=True)


class Unavailable(Failure):
    """A part of Vault that is not installed (the relay): exit status 2."""

    exit_code = 2


def fail(message: str) -> NoReturn:
    raise Failure(message)


def from_error(error: BaseException) -> Failure:
    """A :class:`Failure` for an error the SDK (or the system) raised."""
    if isinstance(error, ForkError | RollbackError):
        return Failure(f"SECURITY WARNING: {error.message} Stop trusting this group until you "
                       "have compared safety numbers (vault verify) with other members.",
                       alarm=True)
    if isinstance(error, KeystoreLockedError):
        return Failure("wrong passphrase: it does not open this device's keystore (or the "
                       "keystore file was altered)")
    if isinstance(error, NotAMemberError):
        return Failure(f"this device is not, or no longer, a member of this group "
                       f"({error.message.rstrip('.')}). If an admin removed you, "
                       "`vault forget` deletes what this device kept of the group.")
    if isinstance(error, VaultError):
        return Failure(error.message)
    if isinstance(error, OSError):
        where = f" ({error.filename})" if error.filename else ""
        return Failure(f"{error.strerror or error}{where}")
    if isinstance(error, ValueError):
        return Failure(str(error))
    return Failure(f"something unexpected went wrong ({type(error).__name__}); run again with "
                   f"{DEBUG_ENV}=1 to see the details, and please report it")


class VaultGroup(click.Group):
    """The root command: SDK errors become one ``vault: ...`` line, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except KeyboardInterrupt:
            raise interrupted(ctx.find_object(State)) from None
        except Exception as error:
            if os.environ.get(DEBUG_ENV) and not isinstance(error, VaultError):
                raise
            raise from_error(error) from None


# --- settings --------------------------------------------------------------------------------


def config_path() -> str:
    return os.environ.get(CONFIG_ENV) or os.path.join(
        platformdirs.user_config_dir("vault", appauthor=False), "config.toml")


def read_config(path: str | None = None) -> dict[str, Any]:
    path = path or config_path()
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        return {}
    except tomllib.TOMLDecodeError as error:
        fail(f"the settings file {path} is not valid TOML ({error}); fix or delete it")
    except OSError as error:
        fail(f"the settings file {path} cannot be read ({error.strerror})")
    return data


def write_config(values: dict[str, str], path: str | None = None) -> str:
    path = path or config_path()
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    lines = ["# Vault command line settings (`vault config`)."]
    for key, value in sorted(values.items()):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        lines.append(f'{key} = "{escaped}"')
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    return path


@dataclass
class State:
    """Per-invocation settings and the (lazily opened) client."""

    home: str | None = None
    relay: str | None = None
    client: Client | None = None
    secrets: dict[str, str] = field(default_factory=dict, repr=False)
    warned: int = 0
    """How many of the client's warnings were printed already."""
    retrying: set[str] = field(default_factory=set)
    """Relays already said to be unreachable during this command (said once each)."""
    unsent_at_start: int = -1
    """Posts waiting on this device when the client opened (-1: not known)."""
    _config: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def home_dir(self) -> str:
        return os.path.abspath(self.home or default_home())

    @property
    def config(self) -> dict[str, Any]:
        if self._config is None:
            self._config = read_config()
        return self._config

    def relay_url(self) -> str | None:
        """``--relay``, else ``$VAULT_RELAY``, else ``relay`` in the settings file."""
        if self.relay:
            return self.relay
        value = self.config.get("relay")
        if value is not None and not isinstance(value, str):
            fail(f"'relay' in {config_path()} must be text, like relay = \"https://...\"")
        return value


pass_state = click.make_pass_decorator(State, ensure=True)


# --- passphrases and the client --------------------------------------------------------------


def take_secrets() -> dict[str, str]:
    """The passphrases given in the environment, taken out of it: no program this command
    starts (an editor for a post) inherits them."""
    return {name: os.environ.pop(name) for name in (PASSPHRASE_ENV, TRANSFER_PASSPHRASE_ENV)
            if name in os.environ}


def env_passphrase(name: str) -> str | None:
    state = click.get_current_context().find_object(State)
    value = state.secrets.get(name) if state is not None else os.environ.get(name)
    if value is None:
        return None
    if not value:
        fail(f"{name} is set but empty; set it to the passphrase, or unset it to be asked")
    return value


def ask_new_passphrase(prompt: str) -> str:
    """A new passphrase, typed twice; one too easy to guess is refused with what to do."""
    while True:
        value: str = click.prompt(prompt, hide_input=True, err=True)
        if not value.strip():
            click.echo("The passphrase cannot be empty.", err=True)
            continue
        strength = passphrase_strength(value)
        if not strength.acceptable:
            reason = f" {strength.warning}" if strength.warning else ""
            click.echo(f"That passphrase is too easy to guess: someone who copied this "
                       f"device's files could find it in {strength.crack_time}.{reason} "
                       f"{' '.join(strength.suggestions)} Four or more uncommon words work "
                       "well. Try again.", err=True)
            continue
        click.echo(f"Strength: good (it would take about {strength.crack_time} to guess).",
                   err=True)
        again: str = click.prompt("Repeat for confirmation", hide_input=True, err=True)
        if again == value:
            return value
        click.echo("The two entries differ. Try again.", err=True)


def open_client(state: State, *, create: bool = False) -> Client:
    """The client for this invocation: unlocks the keystore (asking for the passphrase, or
    reading it from $VAULT_PASSPHRASE) the first time a command needs it. Only a command
    that brings the device into a group (*create*) makes a keystore where there is none."""
    if state.client is not None:
        return state.client
    home = state.home_dir
    first = not has_keystore(home)
    if first and not create:
        fail("this device has no Vault keystore yet: create a group (`vault group create "
             "NAME`) or join one (`vault join INVITE`) first")
    from_env = env_passphrase(PASSPHRASE_ENV)
    if first and from_env is None:
        click.echo(f"This device has no Vault keystore yet (in {home}).\n"
                   "Choose a passphrase. It protects your keys and everything Vault keeps "
                   "here; nobody can recover it for you.", err=True)
    attempts = 1 if from_env is not None or first else PROMPT_ATTEMPTS
    for attempt in range(1, attempts + 1):
        source: str | Callable[[], str]
        if from_env is not None:
            source = from_env
        elif first:
            source = _ask_new
        else:
            source = _ask
        try:
            client = Client(source, home=home, retry_for=retry_seconds(),
                            on_retry=lambda n: _say_retrying(state, n))
        except KeystoreLockedError:
            if attempt == attempts:
                raise
            click.echo("That passphrase does not open this device's keystore. Try again.",
                       err=True)
            continue
        state.client = client
        state.unsent_at_start = unsent_total(client)
        click.get_current_context().find_root().call_on_close(lambda: _close(state))
        return client
    raise AssertionError("unreachable")  # pragma: no cover


RETRY_ENV: Final = "VAULT_RETRY_SECONDS"


def retry_seconds() -> float:
    """How long to keep trying an unreachable relay: $VAULT_RETRY_SECONDS, else 20."""
    text = os.environ.get(RETRY_ENV, "").strip()
    if not text:
        return 20.0
    try:
        value = float(text)
    except ValueError:
        fail(f"{RETRY_ENV} is a number of seconds, like 20")
    if not 0 <= value <= 3600:
        fail(f"{RETRY_ENV} is between 0 and 3600 seconds")
    return value


def _say_retrying(state: State, notice: RetryNotice) -> None:
    if notice.relay_url in state.retrying:
        return
    state.retrying.add(notice.relay_url)
    note(f"The relay at {notice.relay_url} cannot be reached; trying again for up to "
         f"{max(1, round(notice.seconds_left))} seconds (Ctrl-C stops; nothing you wrote is "
         "lost).")


def unsent_total(client: Client) -> int:
    """Posts waiting on this device, in every group."""
    try:
        return sum(g.unsent_posts for g in client.groups())
    except VaultError:
        return -1


def interrupted(state: State | None) -> Interrupted:
    """Ctrl-C: stop, and say whether what was being written is kept."""
    client = None if state is None else state.client
    if client is not None and state is not None and state.unsent_at_start >= 0:
        with contextlib.suppress(Exception):
            if unsent_total(client) > state.unsent_at_start:
                return Interrupted("stopped. What you wrote is saved on this device and will "
                                   "be sent with your next `vault sync`.")
    return Interrupted("stopped.")


def _close(state: State) -> None:
    """At the end of a command: the warnings not printed yet, then close the client."""
    client = state.client
    if client is None:
        return
    try:
        show_warnings(client, state)
    finally:
        client.close()


def _ask_new() -> str:
    with _no_answer():
        return ask_new_passphrase("New passphrase")


def _ask() -> str:
    with _no_answer():
        answer: str = click.prompt("Passphrase", hide_input=True, err=True)
    return answer


@contextlib.contextmanager
def _no_answer() -> Iterator[None]:
    try:
        yield
    except click.exceptions.Abort:
        raise Failure(f"no passphrase was given; type it at the prompt, or set {PASSPHRASE_ENV} "
                      "for scripts") from None


def new_transfer_passphrase() -> str:
    value = env_passphrase(TRANSFER_PASSPHRASE_ENV)
    if value is not None:
        return value
    click.echo("Choose a passphrase for this export file (you will need it on the other "
               "device; it should differ from your keystore passphrase).", err=True)
    return ask_new_passphrase("Export passphrase")


def transfer_passphrase() -> str:
    value = env_passphrase(TRANSFER_PASSPHRASE_ENV)
    if value is not None:
        return value
    answer: str = click.prompt("Passphrase of the export file", hide_input=True, err=True)
    return answer


# --- finding things from what a person typed ---------------------------------------------------


def _norm(text: str) -> str:
    return " ".join(text.casefold().split())


def _pick(ref: str, candidates: Sequence[_T], what: str, label: Callable[[_T], str],
          hint: str) -> _T:
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        fail(f"no {what} matches '{ref}'; {hint}")
    names = ", ".join(label(c) for c in candidates[:5])
    fail(f"'{ref}' matches several {what}s ({names}); type more of it, or use the number "
         f"from {hint.removeprefix('see ')}")


def match(ref: str, items: Sequence[_T], ids: Callable[[_T], str],
          names: Callable[[_T], Sequence[str | None]], *, numbered: bool = True) -> list[_T]:
    """Items *ref* names, most specific rule first: a number from a listing (1-based, when
    *numbered*), a whole id, a whole name, the start of a name, the start of an id (4+
    characters)."""
    text = ref.strip()
    if numbered and text.isdigit() and 1 <= int(text) <= len(items) and len(text) < 4:
        return [items[int(text) - 1]]
    rules: list[Callable[[_T], bool]] = [
        lambda item: ids(item) == text,
        lambda item: any(n is not None and _norm(n) == _norm(text) for n in names(item)),
        lambda item: any(n is not None and _norm(n).startswith(_norm(text))
                         for n in names(item)) and bool(text),
        lambda item: len(text) >= MIN_PREFIX and ids(item).startswith(text),
    ]
    for rule in rules:
        found = [item for item in items if rule(item)]
        if found:
            return found
    return []


def group_label(info: GroupInfo) -> str:
    return f"'{info.name}'" if info.name else f"group {info.group_id[:SHORT]}"


ACTIVE: Final = ("member", "pending", "creating")


def find_group(client: Client, ref: str | None,
               statuses: Sequence[str] = ACTIVE) -> GroupInfo:
    """The group *ref* names (its number in ``vault group list``, name, or id), or, when
    *ref* is None, the only group this device has with one of *statuses* (or the only group
    at all)."""
    groups = client.groups()
    if ref is None:
        fitting = [g for g in groups if g.status in statuses]
        if len(fitting) == 1:
            return fitting[0]
        if len(groups) == 1:
            return groups[0]
        if not groups:
            fail("this device is in no group yet: create one with `vault group create NAME`, "
                 "or join one with `vault join INVITE`")
        fail(f"this device has {len(groups)} groups; say which one with --group (a number "
             "or name from `vault group list`)")
    text = ref.strip()
    if text.isdigit() and len(text) < 6:  # the number `vault group list` shows: stable
        numbered = [g for g in groups if g.number == int(text)]
        if not numbered:
            fail(f"this device has no group number {text} (any more); see `vault group list`")
        return numbered[0]
    found = match(ref, groups, lambda g: g.group_id, lambda g: (g.name,), numbered=False)
    return _pick(ref, found, "group", group_label, "see `vault group list`")


def member_label(member: MemberInfo) -> str:
    return member.label or member.display_name or member.member_id[:SHORT]


def find_member(client: Client, group: GroupInfo, ref: str) -> MemberInfo:
    members = client.members(group.group_id)
    if ref.strip().casefold() in ("me", "myself"):
        return next(m for m in members if m.is_me)
    fingerprint = re.sub(r"\s+", "", ref)
    found = match(ref, members, lambda m: m.member_id, lambda m: (m.display_name,))
    if not found and len(fingerprint) >= MIN_PREFIX:
        found = [m for m in members
                 if re.sub(r"\s+", "", m.fingerprint).startswith(fingerprint)]
    return _pick(ref, found, "member", member_label, "see `vault members`")


def find_request(requests: Sequence[JoinRequestInfo], ref: str) -> JoinRequestInfo:
    found = match(ref, requests, lambda r: r.joiner, lambda r: (r.fingerprint,))
    if not found:
        fingerprint = re.sub(r"\s+", "", ref)
        found = [r for r in requests if len(fingerprint) >= MIN_PREFIX and
                 re.sub(r"\s+", "", r.fingerprint).startswith(fingerprint)]
    return _pick(ref, found, "join request", lambda r: r.joiner[:SHORT],
                 "see `vault requests`")


def find_post(client: Client, group: GroupInfo, ref: str) -> PostView:
    """The post whose id starts with *ref* (syncing first when this device lacks it)."""
    text = ref.strip().lstrip("#[").rstrip("]")

    def search() -> list[PostView]:
        posts = client.posts(group.group_id)
        return [p for p in posts if p.post_id == text] or \
            ([p for p in posts if p.post_id.startswith(text)] if len(text) >= MIN_PREFIX else [])

    found = search()
    if not found:
        sync_quietly(client, group)
        found = search()
    return _pick(ref, found, "post", lambda p: p.post_id[:SHORT],
                 "see the ids `vault read` shows")


# --- durations and times -----------------------------------------------------------------------

_UNITS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(text: str) -> float:
    """``90``, ``90s``, ``30m``, ``12h``, ``7d`` or ``2w``: seconds."""
    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*", text.lower())
    if found is None or float(found[1]) <= 0:
        raise click.BadParameter(f"'{text}' is not a duration; write for example 90s, 30m, "
                                 "12h, 7d or 2w")
    return float(found[1]) * _UNITS[found[2] or "s"]


def duration_option(value: str | None) -> float | None:
    """For ``click.option(callback=...)``: a duration typed on the command line."""
    return None if value is None else parse_duration(value)


def when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000).astimezone().strftime("%Y-%m-%d %H:%M")


def size_text(size: int) -> str:
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{int(value)} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")  # pragma: no cover


def safety_block(number: str, indent: str = "    ") -> str:
    """A 60-digit safety number as three rows of four groups: easy to read aloud."""
    groups = number.split()
    rows = [" ".join(groups[i:i + 4]) for i in range(0, len(groups), 4)]
    return "\n".join(indent + row for row in rows)


def digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


# --- confirmation, warnings, sync ----------------------------------------------------------------


def confirm(question: str, yes: bool) -> None:
    if yes:
        return
    if not click.confirm(question, default=False, err=True):
        fail("cancelled; nothing was changed")


def warn(message: str) -> None:
    click.secho(f"WARNING: {message}", err=True, fg="yellow", bold=True)


def note(message: str) -> None:
    click.echo(message, err=True)


def show_warnings(client: Client, state: State | None = None) -> None:
    """Print every warning the client reported that was not printed yet (sync warnings
    from any operation: withheld posts, unknown log heads, refused posts or grants...)."""
    if state is None:
        state = click.get_current_context().find_object(State)
    found = client.warnings()
    start = state.warned if state is not None else 0
    for warning in found[start:]:
        warn(warning.message)
    if state is not None:
        state.warned = len(found)


def sync_quietly(client: Client, group: GroupInfo) -> GroupInfo:
    """Sync before showing something; offline (or no longer a member) shows this device's
    copy with a note. Warnings are printed when the command ends."""
    try:
        client.sync(group.group_id)
    except RelayUnreachableError:
        note("(the relay could not be reached: showing what this device already has)")
    except NotAMemberError:
        note("(this device is no longer a member of this group: showing what it kept)")
    return client.group(group.group_id)


def names_of(client: Client, group: GroupInfo) -> dict[str, str]:
    return {m.member_id: member_label(m) for m in client.members(group.group_id)}


def describe_events(report: SyncReport, names: dict[str, str]) -> list[str]:
    """What a sync found, in words (events only; warnings are printed separately)."""
    def who(member_id: str) -> str:
        return names.get(member_id, member_id[:SHORT])

    lines: list[str] = []
    kinds: dict[str, int] = {}
    for event in report.events:
        if isinstance(event, ev.NewPost):
            kinds[event.kind] = kinds.get(event.kind, 0) + 1
        elif isinstance(event, ev.MemberJoined):
            how = " (by invite)" if event.self_joined else ""
            lines.append(f"{who(event.member_id)} joined{how}")
        elif isinstance(event, ev.MemberLeft):
            lines.append(f"{who(event.member_id)} was removed" if event.removed
                         else f"{who(event.member_id)} left")
        elif isinstance(event, ev.RoleChanged):
            lines.append(f"{who(event.member_id)} is now {event.role.name.lower()}")
        elif isinstance(event, ev.EpochStarted):
            lines.append(f"a new group key was started (epoch {event.epoch})")
        elif isinstance(event, ev.GroupUpdated):
            lines.append("the group's name, description or rules changed")
        elif isinstance(event, ev.JoinApproved):
            lines.append("your join request was approved: you are a member now")
        elif isinstance(event, ev.RemovedFromGroup):
            lines.append("you were removed from this group" if event.removed
                         else "you left this group")
    words = {"post": "post", "reply": "reply", "reaction": "reaction", "edit": "edit",
             "delete": "deletion"}
    counted = []
    for kind, count in kinds.items():
        noun = words.get(kind, kind)
        plural = "replies" if noun == "reply" else noun + "s"
        counted.append(f"{count} new {noun if count == 1 else plural}")
    return counted + lines


@contextlib.contextmanager
def private_file(path: str, *, overwrite: bool) -> Iterator[Any]:
    """Open *path* for writing, readable by its owner only (invites and exports are
    secrets)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | (0 if overwrite else os.O_EXCL)
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError:
        fail(f"{path} already exists; choose another name or add --force")
    with os.fdopen(fd, "wb") as handle:
        yield handle


def stdin_is_terminal() -> bool:
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (AttributeError, ValueError):  # pragma: no cover - closed or replaced stdin
        return False


def read_stdin() -> str:
    return "" if sys.stdin is None else sys.stdin.read()
