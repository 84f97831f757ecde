"""Backups: every group this device is a member of, sealed under a new recovery phrase;
and restoring one onto a device, group by group (see vault/crypto/backup.py)."""

from __future__ import annotations

from vault.crypto.backup import BackedUpGroup, Backup, new_recovery_phrase, open_backup, seal_backup
from vault.crypto.encoding import b64encode
from vault.crypto.errors import AlreadyMemberError, NotAMemberError, VaultError
from vault_client._internal import groups, membership
from vault_client._internal.device import Device
from vault_client.types import BackupMade, RestoredGroup

MADE_KEY = "backup-made-ms"  # device meta: when this device last made a backup


def make(device: Device) -> BackupMade:
    """A backup of every group this device is a member of, with a new phrase."""
    device.check_open()
    backed: list[BackedUpGroup] = []
    for row in device.store.groups():
        if row.status != "member":
            continue  # (a pending join has no identity in any log yet: ask again)
        view = device.view(row.group_id)
        if view.state is None:
            continue
        backed.append(BackedUpGroup(membership.exported(view, row.next_author_seq),
                                    dict(view.keys)))
    now = device.now()
    phrase = new_recovery_phrase()
    data = seal_backup(Backup(now, tuple(backed)), phrase)
    device.store.set_meta(MADE_KEY, str(now))
    return BackupMade(data, phrase, len(backed), now)


def made_at_ms(device: Device) -> int | None:
    value = device.store.meta(MADE_KEY)
    return None if value is None else int(value)


def restore(device: Device, data: bytes, phrase: str) -> tuple[RestoredGroup, ...]:
    """Open the backup (a wrong phrase or a damaged file raises, with nothing changed),
    then take each group's identity as an import does: the log verified against the
    backup's checkpoint, numbering resumed after the backup's mark, the backup's epoch
    keys kept where the log committed to them. One group's failure leaves the others."""
    device.check_open()
    backup = open_backup(data, phrase)
    results: list[RestoredGroup] = []
    for group in backup.groups:
        gid = b64encode(group.exported.group_id)
        if device.store.group(group.exported.group_id) is not None:
            results.append(RestoredGroup(gid, "already_here"))
            continue
        try:
            view = membership.take_identity(device, group.exported, group.epoch_keys)
        except AlreadyMemberError:
            results.append(RestoredGroup(gid, "already_here"))
        except NotAMemberError:
            results.append(RestoredGroup(gid, "not_a_member"))
        except VaultError as error:
            if device.store.group(group.exported.group_id) is None:
                results.append(RestoredGroup(gid, "failed", None, error.message, error.code))
            else:  # written once its log verified; only the first sync failed: the next
                # sync goes on from there
                view = device.view(group.exported.group_id)
                results.append(RestoredGroup(gid, "restored", groups.info(device, view)))
        else:
            results.append(RestoredGroup(gid, "restored", groups.info(device, view)))
    return tuple(results)
