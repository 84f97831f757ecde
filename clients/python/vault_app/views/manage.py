"""What the invite, join and admin screens share: roles in words, the history choices,
this person's role in a group, and a per-browser memory of things shown once (an invite's
QR code, a join's result) that Vault does not keep anywhere.

Every real permission check is the SDK's (:class:`~vault_client.errors.NotPermittedError`):
the role read here only decides which buttons a page shows.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Final, Generic, TypeVar

from flask import current_app
from vault_client import Client, GroupInfo, HistoryPolicy, Role
from vault_client import errors as er

from vault_app.i18n import N_, gettext
from vault_app.security import current_session
from vault_app.views.common import current_device

T = TypeVar("T")

# The labels below are marked only (N_): the templates translate them, ``{{ _(label) }}``.
ROLE_NAMES: Final[dict[Role, str]] = {
    Role.MEMBER: N_("Member"),
    Role.MODERATOR: N_("Moderator"),
    Role.ADMIN: N_("Admin"),
    Role.OWNER: N_("Owner"),
}
ROLE_HELP: Final[dict[Role, str]] = {
    Role.MEMBER: N_("reads and writes posts"),
    Role.MODERATOR: N_("can also delete other members' posts"),
    Role.ADMIN: N_("can also invite, let people in, change roles and remove members"),
    Role.OWNER: N_("can also make and change admins and owners"),
}
NOT_A_MEMBER: Final = N_("Not a member")

HISTORY_CHOICES: Final[tuple[tuple[str, str], ...]] = (
    ("none", N_("Only what is written after they join (the safest)")),
    ("current", N_("Also the recent posts (since the group's key last changed)")),
    ("all", N_("Everything this computer can read")),
)
"""The history policies offered (an epoch number is too technical for this screen)."""


def role_name(role: Role | None) -> str:
    """The role's label, untranslated (the template translates it: ``_(role_name(r))``)."""
    return ROLE_NAMES.get(role, NOT_A_MEMBER) if role is not None else NOT_A_MEMBER


def parse_role(text: str | None) -> Role | None:
    for role in Role:
        if text == role.name.lower():
            return role
    return None


def parse_history(text: str | None) -> HistoryPolicy | None:
    for value, _label in HISTORY_CHOICES:
        if text == value:
            return value  # type: ignore[return-value]
    return None


def history_label(policy: HistoryPolicy) -> str:
    """What newcomers may read, translated (a template shows it as it is, never ``_()``)."""
    for value, label in HISTORY_CHOICES:
        if policy == value:
            return gettext(label)
    return gettext("Everything from key number %(number)s on", number=policy)


def my_role(client: Client, group_id: str) -> Role | None:
    """This person's role in the group, or None when they are not (yet, or any more) a
    member. Only for choosing what to show: the SDK refuses what the role does not allow."""
    try:
        return client.me(group_id).role
    except er.VaultError:
        return None


def is_admin(role: Role | None) -> bool:
    return role is not None and role >= Role.ADMIN


def is_moderator(role: Role | None) -> bool:
    return role is not None and role >= Role.MODERATOR


def digit_groups(number: str) -> list[str]:
    """A safety number or group code ("12345 67890 ...") as its groups of digits."""
    return number.split()


def group_label(info: GroupInfo) -> str:
    if info.name is not None:
        return info.name  # the group's own words: never through gettext
    return gettext("A group (its name cannot be read yet)")


@dataclass
class _Entry(Generic[T]):
    value: T
    generation: int


class ShownOnce(Generic[T]):
    """Things a page shows after a redirect that exist only in this process's memory: kept
    per browser session, at most ``per_session`` each, and forgotten as soon as the keystore
    locks (an invite's secret must not outlive the unlocked device): :func:`shown_once`
    makes :meth:`clear` a lock listener of the device, and :meth:`get` also drops anything
    from before the last lock or unlock."""

    def __init__(self, per_session: int = 8) -> None:
        self._lock = threading.Lock()
        self._per_session = per_session
        self._by_session: dict[str, OrderedDict[str, _Entry[T]]] = {}

    def put(self, key: str, value: T) -> None:
        generation = current_device().generation
        with self._lock:
            kept = self._by_session.setdefault(current_session().session_id, OrderedDict())
            kept[key] = _Entry(value, generation)
            kept.move_to_end(key)
            while len(kept) > self._per_session:
                kept.popitem(last=False)

    def get(self, key: str) -> T | None:
        generation = current_device().generation
        with self._lock:
            kept = self._by_session.get(current_session().session_id)
            if not kept:
                return None
            # Anything from before the last lock or unlock is dropped, not shown.
            for stale in [k for k, e in kept.items() if e.generation != generation]:
                del kept[stale]
            entry = kept.get(key)
            return entry.value if entry is not None else None

    def clear(self) -> None:
        """Forget everything, for every session (at every lock)."""
        with self._lock:
            self._by_session.clear()


def shown_once(name: str) -> ShownOnce[object]:
    """The app's store called *name* (one per app, made on first use)."""
    stores = current_app.extensions.setdefault("vault_shown_once", {})
    store = stores.get(name)
    if store is None:
        made: ShownOnce[object] = ShownOnce()
        store = stores.setdefault(name, made)  # one store, even when two requests race
        if store is made:
            current_device().add_lock_listener(made.clear)
    return store  # type: ignore[no-any-return]
