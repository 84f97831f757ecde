"""Deleting a group in the member app, against a real relay process: the owner finds it in
the group's settings, is asked once (a box to tick), and the groups list then says the group
was deleted until they dismiss the note; another member's device drops the group and their
groups list names who deleted it; a member sees no such button, and a forged request is
refused with nothing sent."""

from __future__ import annotations

from pathlib import Path

from vault_client import Client, GroupDeleted
from vault_client.errors import RelayUnreachableError

from tests.app.conftest import PASSPHRASE, Browser, make_settings, open_browser
from tests.app.test_feed import ann as ann  # (the fixtures, used by their names)
from tests.app.test_feed import group_id, page
from tests.app.test_feed import mallory as mallory
from tests.app.test_feed_more import shut


def test_the_owner_deletes_the_group_for_everyone(ann: Browser, mallory: Client,
                                                  tmp_path: Path) -> None:
    gid = group_id(ann)
    mallory.post(gid, "Words from Mallory")
    settings = page(ann, f"/groups/{gid}/settings")
    assert "Delete this group" in settings
    asked = page(ann, f"/groups/{gid}/delete")
    assert "This cannot be undone." in asked and "The group ends for all its 2 members." in asked
    unticked = ann.post(f"/groups/{gid}/delete", {})
    assert unticked.status_code == 422
    assert "Tick the box" in unticked.get_data(as_text=True)
    assert ann.device_client().group(gid).member_count == 2  # nothing happened

    # No answer from the relay: the person is told the deletion may have reached it, and
    # that Vault goes on with it (the SDK's side: adversarial/test_deletion.py).
    def unanswered(*_args: object, **_kw: object) -> None:
        raise RelayUnreachableError("the relay did not confirm the deletion")

    real_delete = ann.device_client().delete_group
    ann.device_client().delete_group = unanswered  # type: ignore[method-assign]
    try:
        pending = ann.post(f"/groups/{gid}/delete", {"understood": "1"})
        assert pending.status_code == 303 and pending.headers["Location"].endswith(gid)
        shown = page(ann, f"/groups/{gid}")
        assert "The server did not confirm the deletion" in shown
        assert "sends the deletion again until the server confirms it" in shown
    finally:
        ann.device_client().delete_group = real_delete  # type: ignore[method-assign]

    # Mallory, a member, sees no button; her forged request changes nothing.
    mallory.close()
    member = open_browser(make_settings(tmp_path / "mallory", ann.settings.relay_url))
    try:
        member.get("/unlock")
        assert member.post("/unlock", {"passphrase": PASSPHRASE}).status_code == 303
        assert "Delete this group" not in page(member, f"/groups/{gid}/settings")
        forged = member.post(f"/groups/{gid}/delete", {"understood": "1"})
        assert forged.status_code == 422
        assert "Only an owner" in forged.get_data(as_text=True)

        done = ann.post(f"/groups/{gid}/delete", {"understood": "1"})
        assert done.status_code == 303 and done.headers["Location"].endswith("/")
        listed = page(ann, "/")
        assert "You deleted the group" in listed and "Tuesday circle" in listed
        assert ann.get(f"/groups/{gid}").status_code == 303  # (to the list, which says so)

        client = member.device_client()
        (report,) = client.sync(gid)
        assert [type(e) for e in report.events] == [GroupDeleted]
        theirs = page(member, "/")
        assert "The group" in theirs and "Tuesday circle" in theirs
        assert "was deleted by its owner" in theirs and "Ann" in theirs
        assert "Its posts and members are gone" in theirs
        assert member.post(f"/groups/deleted/{gid}/dismiss", {}).status_code == 303
        assert "was deleted by its owner" not in page(member, "/")
    finally:
        shut(member)
