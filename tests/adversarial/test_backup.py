"""A hostile relay against a device restored from a backup (issue 13, "Revoking and
recovering"): the backup carries what the old device verified and the keys it held, so

* a relay that serves the restored device an older log than the backup's is caught
  (``log_rollback``): the group is not restored, and the others are;
* a relay that withholds the restored device's grants cannot keep it from the
  history its person already had: the backup's keys open it, and only where the verified
  log committed to them;
* a relay that stops answering in the middle of a restore leaves nothing of that group
  behind (a half-restored group would number its posts from the backup's mark).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest
from vault_client import Client, Equivocation

from tests.adversarial.conftest import PASSPHRASE, circle
from tests.adversarial.hostile import RELAY_URL, HostileRelay
from vault.crypto.encoding import b64decode


def _new_device(hostile: HostileRelay, home: Path, name: str) -> Client:
    return Client(PASSPHRASE + name, home=home, relay_url=RELAY_URL,
                  transport=hostile.view(name), retry_for=0.0)


def test_relay_serves_a_restored_device_a_rolled_back_log(
        people: SimpleNamespace, hostile: HostileRelay, canary: Callable[[str], str],
        tmp_path_factory: pytest.TempPathFactory) -> None:
    ann, ben = people.ann, people.ben
    rolled = circle(canary, ann, ben)
    kept = circle(canary, ann, ben)
    ben.post(rolled, canary("post"))
    ben.sync(rolled)
    verified = ben.group(rolled).log_seq
    made = ben.backup()

    restored = _new_device(hostile, tmp_path_factory.mktemp("restored"), "ben-restored")
    view = hostile.view("ben-restored")
    view.log = lambda g, log: log[:verified] if g == b64decode(rolled) else log
    try:
        results = {r.group_id: r for r in restored.restore(made.data, made.recovery_phrase)}
        assert results[rolled].outcome == "failed"
        assert results[rolled].error_code == "log_rollback"
        assert results[kept].outcome == "restored"
        assert [g.group_id for g in restored.groups()] == [kept]
        view.log = None  # the relay serves the true log again: restoring again finishes
        again = {r.group_id: r.outcome
                 for r in restored.restore(made.data, made.recovery_phrase)}
        assert again == {rolled: "restored", kept: "already_here"}
        assert restored.posts(rolled)
    finally:
        restored.close()


def test_withheld_grants_do_not_keep_history_from_a_restored_device(
        people: SimpleNamespace, hostile: HostileRelay, canary: Callable[[str], str],
        tmp_path_factory: pytest.TempPathFactory) -> None:
    ann, ben = people.ann, people.ben
    gid = circle(canary, ann, ben)
    before = ann.post(gid, canary("an older epoch's post"))
    ann.rotate(gid)  # a new epoch: the older post is under the older key
    ben.sync(gid)
    made = ben.backup()

    home = tmp_path_factory.mktemp("no-grants")
    restored = _new_device(hostile, home, "ben-no-grants")
    hostile.view("ben-no-grants").grants = lambda _g, items: []  # every grant withheld
    try:
        results = {r.group_id: r.outcome
                   for r in restored.restore(made.data, made.recovery_phrase)}
        assert results[gid] == "restored"
        assert before.post_id in {p.post_id for p in restored.posts(gid)}
        assert restored.post(gid, canary("a post from the restored device")).delivered
    finally:
        restored.close()
    again = _new_device(hostile, home, "ben-no-grants")  # what it read stays on this device
    try:
        again.sync(gid)
        assert before.post_id in {p.post_id for p in again.posts(gid)}
    finally:
        again.close()


def test_a_key_in_a_backup_that_the_log_did_not_commit_to_is_not_kept(
        people: SimpleNamespace, hostile: HostileRelay, canary: Callable[[str], str],
        tmp_path_factory: pytest.TempPathFactory) -> None:
    """A backup whose key for an epoch is not the one the log committed to (damaged, or
    made by someone else): the key is dropped and the relay's grant is used instead."""
    from vault.crypto.backup import Backup, open_backup, seal_backup

    ann, ben = people.ann, people.ben
    gid = circle(canary, ann, ben)
    before = ann.post(gid, canary("a post under the first key"))
    ben.sync(gid)
    made = ben.backup()
    opened = open_backup(made.data, made.recovery_phrase)
    wrong = Backup(opened.made_at_ms, tuple(
        replace(g, epoch_keys={e: bytes(32) for e in g.epoch_keys}) for g in opened.groups))
    forged = seal_backup(wrong, made.recovery_phrase)
    restored = _new_device(hostile, tmp_path_factory.mktemp("wrong-key"), "ben-wrong-key")
    try:
        results = {r.group_id: r.outcome for r in restored.restore(forged,
                                                                   made.recovery_phrase)}
        assert results[gid] == "restored"
        assert before.post_id in {p.post_id for p in restored.posts(gid)}
    finally:
        restored.close()


def test_a_restore_cut_short_by_the_relay_leaves_nothing_behind(
        people: SimpleNamespace, hostile: HostileRelay, canary: Callable[[str], str],
        tmp_path_factory: pytest.TempPathFactory) -> None:
    """The relay stops answering for posts in the middle of a restore: that group is not
    restored and nothing of it stays (no half-restored group that numbers posts from the
    backup's mark); restoring again when the relay answers restores it."""
    import httpx

    ann, ben = people.ann, people.ben
    gid = circle(canary, ann, ben)
    ben.post(gid, canary("before the backup"))
    made = ben.backup()
    ben.post(gid, canary("after the backup, from the old device"))
    restored = _new_device(hostile, tmp_path_factory.mktemp("cut-short"), "ben-cut-short")
    view = hostile.view("ben-cut-short")
    view.intercept = lambda request: httpx.Response(503, json={
        "error": {"code": "unavailable", "message": "down"}}) \
        if request.method == "GET" and request.url.path.endswith("/posts") else None
    try:
        results = {r.group_id: r for r in restored.restore(made.data, made.recovery_phrase)}
        assert results[gid].outcome == "failed"
        assert gid not in {g.group_id for g in restored.groups()}
        view.intercept = None
        again = {r.group_id: r.outcome
                 for r in restored.restore(made.data, made.recovery_phrase)}
        assert again[gid] == "restored"
        restored.post(gid, canary("from the restored device"))
        (report,) = ann.sync(gid)
        assert not [w for w in report.warnings if isinstance(w, Equivocation)]
    finally:
        restored.close()
