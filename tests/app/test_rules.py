"""The group's rules in the member app, against a real relay process: a joiner reads the
group's description and rules on "Before you join" and must tick that they accept them; the
admin's requests page says they did; when the rules change, the member's group page asks them
to accept the new ones, and the admin's members page shows who has."""

from __future__ import annotations

import html
import re

from tests.app.test_invites_admin import (
    Person,
    ask_from_preview,
    create_group,
    make_invite,
    plain,
    text,
)
from tests.app.test_invites_admin import person as person  # (the fixture, by its name)

RULES = "Listen first.\nWhat is said here stays here."


def test_joining_after_reading_and_accepting_the_rules(person: Person) -> None:
    ann, ben = person("ann"), person("ben")
    gid = create_group(ann)
    ann.device_client().update_group(gid, description="We meet on Tuesdays.", rules=RULES)
    _, link = make_invite(ann, gid)

    shown = ben.post("/join", {"link": link, "display_name": "Ben"})
    page = text(shown)
    assert shown.status_code == 200 and "Before you join" in page
    assert "We meet on Tuesdays." in page and "What is said here stays here." in page
    assert "I have read the group\u2019s rules and I accept them." in page
    plain(page)
    assert ben.device_client().groups() == []  # reading the card keeps nothing

    # Not ticked: asked again, nothing sent.
    unticked = ben.post("/join/ask", {"link": link, "display_name": "Ben",
                                      "rules_id": ben.device_client().preview_invite(link)
                                      .rules_id or ""})
    assert unticked.status_code == 422
    assert "tick the box to say you accept the group's rules" in html.unescape(text(unticked))
    assert ben.device_client().groups() == []
    assert ask_from_preview(ben, page) == f"/join/{gid}"
    requests_page = text(ann.get(f"/groups/{gid}/requests"))
    assert "They read the group\u2019s rules and accepted them." in requests_page

    approve = re.search(rf"/groups/{gid}/requests/([\w-]+)/approve", requests_page)
    assert approve is not None
    assert ann.post(approve.group(0), {"role": "member"}).status_code == 303
    assert "You are in" in text(ben.get(f"/join/{gid}"))

    # The rules change: Ben is asked to accept the new ones.
    ann.device_client().update_group(gid, rules=RULES + "\nPhones away.")
    group_page = text(ben.get(f"/groups/{gid}"))
    assert "The group has rules you have not accepted yet" in group_page
    assert "Phones away." in group_page
    members = text(ann.get(f"/groups/{gid}/members"))
    assert "accepted earlier rules, not the current ones" in members
    done = ben.post(f"/groups/{gid}/rules/accept")
    assert done.status_code == 303
    after = html.unescape(text(ben.get(f"/groups/{gid}")))
    assert "You accepted the group's rules." in after
    assert "The group has rules you have not accepted yet" not in after
    members = text(ann.get(f"/groups/{gid}/members"))
    assert "accepted earlier rules" not in members
    assert members.count("accepted the rules") == 2  # Ann (who wrote them) and Ben
