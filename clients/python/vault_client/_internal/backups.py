"""Backups: every group this device is a member of, sealed under a new recovery phrase;
and restoring one onto a device, group by group (see vault/crypto/backup.py)."""

from __future__ import annotations

from collections.abc import Iterable

from vault.crypto.backup import (
    MAX_BACKUP_GROUPS,
    BackedUpGroup,
    Backup,
    new_recovery_phrase,
    open_backup,
    seal_backup,
)
from vault.crypto.encoding import b64encode
from vault.crypto.errors import (
    AlreadyMemberError,
    KeystoreLockedError,
    NotAMemberError,
    TooLargeError,
    VaultError,
)
from vault_client._internal import groups, membership
from vault_client._internal.device import Device
from vault_client.errors import InvalidArgumentError
from vault_client.types import BackupMade, RestoredGroup

MADE_KEY = "backup-made-ms"  # device meta: when this device last made a backup
GROUPS_KEY = "backup-groups"  # device meta: the groups it held (ids, space-separated)


def make(device: Device) -> BackupMade:
    """A backup of every group this device is a member of, with a new phrase."""
    device.check_open()
    backed: list[BackedUpGroup] = []
    left_out = 0
    for row in device.store.groups():
        if row.status != "member":
            # (a pending join has no identity in any log yet; a group being created is not
            # on the relay yet; a former group is not worth restoring)
            left_out += row.status in ("pending", "creating")
            continue
        view = device.view(row.group_id)
        if view.state is None:
            continue
        backed.append(BackedUpGroup(membership.exported(view, row.next_author_seq),
                                    dict(view.keys)))
    if not backed:
        raise InvalidArgumentError("you are in no group on this device yet: there is "
                                   "nothing to back up")
    if len(backed) > MAX_BACKUP_GROUPS:
        raise TooLargeError(f"a backup holds at most {MAX_BACKUP_GROUPS} groups; this device "
                            f"is in {len(backed)}")
    now = device.now()
    phrase = new_recovery_phrase()
    data = seal_backup(Backup(now, tuple(backed)), phrase)
    ids = tuple(b64encode(g.exported.group_id) for g in backed)
    return BackupMade(data, phrase, len(backed), now, left_out, ids)


def saved(device: Device, made: BackupMade) -> None:
    """*made*'s file is stored where the person keeps it: from now on its groups count as
    backed up, and it is the last backup (nothing counts before: a backup whose file was
    never saved protects nothing)."""
    device.check_open()
    _held(device, made.group_ids)
    device.store.set_meta(MADE_KEY, str(made.made_at_ms))


def _held(device: Device, group_ids: Iterable[str]) -> None:
    """Count *group_ids* among the groups in a backup the person holds."""
    held = set((device.store.meta(GROUPS_KEY) or "").split())
    held.update(group_ids)
    device.store.set_meta(GROUPS_KEY, " ".join(sorted(held)))


def made_at_ms(device: Device) -> int | None:
    value = device.store.meta(MADE_KEY)
    return None if value is None else int(value)


def not_backed_up(device: Device) -> list[bytes]:
    """The groups this device is a member of that its last backup does not hold."""
    backed = set((device.store.meta(GROUPS_KEY) or "").split())
    return [row.group_id for row in device.store.groups()
            if row.status == "member" and b64encode(row.group_id) not in backed]


def restore(device: Device, data: bytes, phrase: str) -> tuple[RestoredGroup, ...]:
    """Open the backup (a wrong phrase or a damaged file raises, with nothing changed),
    then take each group's identity as an import does: the log verified against the
    backup's checkpoint, numbering resumed after the backup's mark, the backup's epoch
    keys kept where the log committed to them, and one whole sync. A group is restored
    only when all of that succeeded; otherwise nothing of it stays (a later restore starts
    it afresh). One group's failure leaves the others."""
    device.check_open()
    try:
        backup = open_backup(data, phrase)
    except KeystoreLockedError:
        raise KeystoreLockedError(
            "these twelve words do not open this backup file (each backup has its own "
            "words): check each word against your paper") from None
    results = tuple(_restore_one(device, group) for group in backup.groups)
    # The groups it brought are in a backup the person holds: no reminder for them.
    _held(device, (r.group_id for r in results if r.outcome in ("restored", "already_here")))
    return results


def _restore_one(device: Device, group: BackedUpGroup) -> RestoredGroup:
    exported = group.exported
    group_id = exported.group_id
    gid = b64encode(group_id)
    row = device.store.group(group_id)
    if row is not None:
        here = device.keys.identity(group_id)
        if row.status == "member" and here is not None and \
                here.sign_pk == exported.identity.sign_pk:
            return RestoredGroup(gid, "already_here")
        return RestoredGroup(
            gid, "failed", None,
            "this device is in that group with another identity, or is waiting to join "
            "it: forget the group on this device first, then restore again",
            AlreadyMemberError.code)
    try:
        view = membership.take_identity(device, exported, group.epoch_keys)
    except NotAMemberError:
        _undo(device, exported.group_id, exported.relay_url)
        return RestoredGroup(gid, "not_a_member")
    except BaseException as error:
        _undo(device, exported.group_id, exported.relay_url)  # nothing half restored
        if isinstance(error, VaultError):
            return RestoredGroup(gid, "failed", None, error.message, error.code)
        raise
    return RestoredGroup(gid, "restored", groups.info(device, view))


def _undo(device: Device, group_id: bytes, relay_url: str) -> None:
    """Whatever a failed restore of this group wrote goes (it was not here before)."""
    if device.store.group(group_id) is not None or device.keys.identity(group_id) is not None:
        device.forget_group(group_id, relay_url)
