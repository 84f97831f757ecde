"""The member commands of ``vault``, one module per family: groups (:mod:`._groups`),
invites and joining (:mod:`._joining`), posting (:mod:`._posting`), reading, syncing and
waiting (:mod:`._reading`), membership (:mod:`._members`), and this device's settings and
identities (:mod:`._device`). Built on the SDK's public API only (:mod:`vault_client`)."""

from __future__ import annotations

import click

from vault_client.cli._app import app_command
from vault_client.cli._backup import backup_command, restore_command
from vault_client.cli._channels import channel_command, channels_command
from vault_client.cli._device import (
    config_command,
    export_identity_command,
    import_identity_command,
    wipe_command,
)
from vault_client.cli._exporting import export_posts_command
from vault_client.cli._groups import group_command
from vault_client.cli._inbox import (
    answer_command,
    ask_mods_command,
    inbox_command,
    report_command,
    resolve_command,
)
from vault_client.cli._joining import (
    approve_command,
    deny_command,
    invite_command,
    invites_command,
    join_command,
    requests_command,
    revoke_invite,
)
from vault_client.cli._members import (
    forget_command,
    leave_command,
    members_command,
    name_command,
    remove_command,
    role_command,
    rules_command,
    verify_command,
)
from vault_client.cli._muting import mute_command, unmute_command
from vault_client.cli._pins import pin_command, unpin_command
from vault_client.cli._polls import poll_command, vote_command
from vault_client.cli._posting import delete_command, edit_command, post_command, react_command
from vault_client.cli._reading import (
    attachments_command,
    read_command,
    sync_command,
    wait_command,
)
from vault_client.cli._searching import search_command

COMMANDS: tuple[click.Command, ...] = (
    config_command, group_command, channels_command, channel_command, invite_command,
    invites_command, revoke_invite, join_command,
    requests_command, approve_command, deny_command, post_command, react_command,
    poll_command, vote_command, edit_command, delete_command, pin_command, unpin_command,
    read_command, search_command, attachments_command, report_command, ask_mods_command,
    inbox_command, answer_command, resolve_command,
    members_command, rules_command, name_command, role_command, mute_command, unmute_command,
    remove_command, leave_command, forget_command, verify_command, sync_command, wait_command,
    backup_command, restore_command,
    export_identity_command, import_identity_command, export_posts_command, wipe_command,
    app_command,
)
"""In the order ``vault --help`` lists them."""
