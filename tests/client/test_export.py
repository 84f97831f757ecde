"""Exporting one's own posts (``Client.export_own_posts``, ``save_own_posts``): only what
the member wrote, as it stands now, in a file they choose, never over another file."""

from __future__ import annotations

import json
import os
import stat
from dataclasses import replace
from datetime import UTC
from pathlib import Path
from typing import Any, cast

import pytest
from vault_client import AttachmentInfo, PostView
from vault_client._internal import exporting
from vault_client.errors import InvalidArgumentError

from tests.client.test_newcomers import circle, open_client
from tests.relayproc import RelayProcess

DAY_MS = 1_764_547_200_000  # 2025-12-01 00:00 UTC


def _post(post_id: str, text: str, *, mine: bool = True, at: int = DAY_MS,
          reply_to: str | None = None, cw: str | None = None, edited: int | None = None,
          unsent: bool = False, deleted: bool = False, label: str = "Ben",
          files: tuple[tuple[str, int], ...] = ()) -> PostView:
    attachments = tuple(AttachmentInfo(f"a{i}", "image/png", size, name, ref=cast(Any, None))
                        for i, (name, size) in enumerate(files))
    return PostView(post_id=post_id, group_id="g", author="a", author_name=label,
                    kind="reply" if reply_to else "post", reply_to=reply_to, text=text,
                    content_warning=cw, attachments=attachments, created_at_ms=at,
                    edited_at_ms=edited, deleted=deleted, reactions=(), expires_at_ms=None,
                    is_mine=mine, author_label=label, unsent=unsent)


SHOWN = [
    _post("p1", "Ann's words, never exported", mine=False, label="Ann"),
    _post("p3", "Thinking of you.", at=DAY_MS + 120_000, reply_to="p1", cw="loss",
          edited=DAY_MS + 180_000),
    _post("p2", "First post", at=DAY_MS + 60_000, files=(("candle.png", 2048), ("", 10))),
    _post("p4", "gone", at=DAY_MS + 200_000, deleted=True),
    _post("p5", "written offline", at=DAY_MS + 240_000, unsent=True),
]


def test_own_posts_are_the_members_oldest_first_and_name_whom_they_answer() -> None:
    posts, answered = exporting.own_posts(SHOWN)
    assert [p.post_id for p in posts] == ["p2", "p3", "p5"]
    assert answered == {"p1": ("Ann", DAY_MS)}


def test_the_text_export_exactly() -> None:
    posts, answered = exporting.own_posts(SHOWN)
    groups = [exporting.GroupPosts("g", "Tuesday circle", posts, answered),
              exporting.GroupPosts("h", None, (), {})]
    assert exporting.render(groups, "text", DAY_MS + 300_000, UTC).decode() == (
        "Your posts in Vault (3), saved 2025-12-01 00:05 (UTC+0000).\n"
        "This file is not encrypted: anyone who can open it can read them.\n"
        "\n"
        "== Tuesday circle ==\n"
        "\n"
        "2025-12-01 00:01 (UTC+0000)\n"
        "First post\n"
        "Attachments, not in this file: candle.png (2,048 bytes), unnamed file (10 bytes)\n"
        "\n"
        "2025-12-01 00:02 (UTC+0000) (edited; a reply to Ann's post of 2025-12-01 00:00 "
        "(UTC+0000))\n"
        "Content warning: loss\n"
        "Thinking of you.\n"
        "\n"
        "2025-12-01 00:04 (UTC+0000) (not sent yet)\n"
        "written offline\n"
        "\n"
        "== A group whose name cannot be read yet ==\n"
        "\n"
        "(none)\n")


def test_the_json_export_exactly() -> None:
    posts, answered = exporting.own_posts(SHOWN[:3])
    document = json.loads(exporting.render(
        [exporting.GroupPosts("g", "Tuesday circle", posts, answered)], "json", 7))
    assert document == {
        "format": "vault-own-posts", "version": 1, "exported_at_ms": 7,
        "groups": [{"group_id": "g", "name": "Tuesday circle", "posts": [
            {"post_id": "p2", "kind": "post", "reply_to": None, "created_at_ms": DAY_MS + 60_000,
             "edited_at_ms": None, "expires_at_ms": None, "content_warning": None,
             "text": "First post", "sent": True,
             "attachments": [{"file_name": "candle.png", "media_type": "image/png",
                              "size": 2048},
                             {"file_name": "", "media_type": "image/png", "size": 10}]},
            {"post_id": "p3", "kind": "reply", "reply_to": "p1",
             "created_at_ms": DAY_MS + 120_000, "edited_at_ms": DAY_MS + 180_000,
             "expires_at_ms": None, "content_warning": "loss", "text": "Thinking of you.",
             "sent": True, "attachments": []},
        ]}]}


def test_a_deleted_parent_is_not_named_and_a_disappearing_post_says_so() -> None:
    shown = [_post("p1", "", mine=False, label="Ann", deleted=True),
             _post("p2", "an answer", reply_to="p1"),
             replace(_post("p3", "gone soon"), expires_at_ms=DAY_MS + 3_600_000)]
    posts, answered = exporting.own_posts(shown)
    assert answered == {}  # nothing kept of a post its author deleted
    text = exporting.render([exporting.GroupPosts("g", "G", posts, answered)], "text",
                            DAY_MS, UTC).decode()
    assert "2025-12-01 00:00 (UTC+0000) (a reply)\nan answer\n" in text
    assert "(disappears 2025-12-01 01:00 (UTC+0000))\ngone soon\n" in text


def test_a_date_beyond_the_calendar_does_not_stop_the_export() -> None:
    posts, _ = exporting.own_posts([_post("x", "far", at=2**62)])
    assert "(date unknown)\nfar\n" in exporting.render(
        [exporting.GroupPosts("g", "G", posts, {})], "text", DAY_MS, UTC).decode()


def test_an_interrupted_write_leaves_no_file(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(fd: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(exporting.os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        exporting.write_new(tmp_path / "posts.txt", b"half of it")
    assert not (tmp_path / "posts.txt").exists()


def test_an_unknown_format_is_refused() -> None:
    with pytest.raises(InvalidArgumentError, match="text or json"):
        exporting.render([], "pdf", DAY_MS)


def test_a_member_exports_what_they_wrote_and_nothing_else(tmp_path: Path,
                                                           relay_up: RelayProcess) -> None:
    with open_client(tmp_path, "ann", relay_up) as ann, \
            open_client(tmp_path, "ben", relay_up, retry_for=0.5) as ben:
        gid = circle(ann, ben)
        walks = ben.create_group("Walks", display_name="Ben").group_id
        hello = ann.post(gid, "Ann's private words").post_id
        ben.sync(gid)
        reply = ben.reply(gid, hello, "My first reply", content_warning="loss").post_id
        ben.edit(gid, reply, "My first reply, edited")
        gone = ben.post(gid, "deleted later").post_id
        ben.delete(gid, gone)
        ben.post(walks, "A walk by the river")
        relay_up.stop()
        assert not ben.post(gid, "written while the relay was down").delivered
        relay_up.start()

        text = ben.export_own_posts().decode()
        assert "Your posts in Vault (3)" in text
        assert "== Circle ==" in text and "== Walks ==" in text
        assert "My first reply, edited" in text and "Content warning: loss" in text
        assert "a reply to Ann's post of" in text
        assert "(not sent yet)" in text and "A walk by the river" in text
        assert "Ann's private words" not in text and "deleted later" not in text

        one = json.loads(ben.export_own_posts(gid, file_format="json"))
        (group,) = one["groups"]
        assert group["group_id"] == gid
        assert [p["text"] for p in group["posts"]] == [
            "My first reply, edited", "written while the relay was down"]
        assert [p["sent"] for p in group["posts"]] == [True, False]

        saved = ben.save_own_posts(tmp_path / "my posts.txt")
        assert (saved.posts, saved.groups) == (3, 2)
        path = saved.path
        assert path.read_text(encoding="utf-8") == ben.export_own_posts().decode()
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        before = path.read_bytes()
        with pytest.raises(InvalidArgumentError, match="already exists"):
            ben.save_own_posts(path)
        assert path.read_bytes() == before  # never written over
        with pytest.raises(InvalidArgumentError, match="cannot write"):
            ben.save_own_posts(tmp_path / "no such folder" / "posts.txt")
        with pytest.raises(InvalidArgumentError, match="text or json"):
            ben.export_own_posts(file_format="pdf")  # type: ignore[arg-type]
