"""A group's members and settings, and what its admins and moderators do.

* Everyone: the members with their roles, a safety-number check with any of them (and the
  group code), their own name in this group, leaving the group.
* Admins: requests to join, each with the joiner's safety number beside a plain "do the
  numbers match?" step, then let in (with a role) or turn away; changing roles; removing;
  the group's name, description and rules; what newcomers may read.
* Moderators (and admins): deleting other members' posts.

Which controls a page shows follows this person's role (``client.me``), but the SDK is the
real check: what it refuses (``NotPermittedError``) is shown in its own plain words, and
nothing changes.
"""

from __future__ import annotations

from typing import Any, Final

from flask import Blueprint, abort, render_template, request, url_for
from vault_client import Client, GroupInfo, MemberInfo, PostView, Role
from vault_client import errors as er

from vault_app.i18n import N_, gettext, ngettext
from vault_app.messages import Message
from vault_app.views.common import ViewResult, go, notify, problem_for, with_client
from vault_app.views.groups import find_group
from vault_app.views.manage import (
    HISTORY_CHOICES,
    ROLE_HELP,
    ROLE_NAMES,
    group_label,
    history_label,
    is_admin,
    is_moderator,
    my_role,
    parse_history,
    parse_role,
    role_name,
)
from vault_app.views.posts import outcome

blueprint = Blueprint("admin", __name__)

# Whole sentences, one per role or choice (translated when said, with the member's name as a
# placeholder): a translator never has to fit a role's name into a sentence.
NOW_ROLE: Final[dict[Role, str]] = {
    Role.MEMBER: N_("%(name)s is now member."),
    Role.MODERATOR: N_("%(name)s is now moderator."),
    Role.ADMIN: N_("%(name)s is now admin."),
    Role.OWNER: N_("%(name)s is now owner."),
}
LET_IN_AS: Final[dict[Role, str]] = {
    Role.MEMBER: N_("They are in, as member."),
    Role.MODERATOR: N_("They are in, as moderator."),
    Role.ADMIN: N_("They are in, as admin."),
    Role.OWNER: N_("They are in, as owner."),
}
HISTORY_SAVED: Final[dict[str, str]] = {
    "none": N_("Saved for the group: people let in from now on can read only what is "
               "written after they join (the safest)."),
    "current": N_("Saved for the group: people let in from now on can read also the recent "
                  "posts (since the group's key last changed)."),
    "all": N_("Saved for the group: people let in from now on can read everything the admin "
              "who lets them in can read."),
}


def page(template: str, client: Client, info: GroupInfo, **context: Any) -> str:
    """A page of this blueprint, with what the group's menu needs."""
    role = context.pop("my_role") if "my_role" in context else my_role(client, info.group_id)
    return render_template(template, group=info, group_name=group_label(info), my_role=role,
                           is_admin=is_admin(role), is_moderator=is_moderator(role),
                           is_owner=role == Role.OWNER,
                           role_name=role_name, role_names=ROLE_NAMES, role_help=ROLE_HELP,
                           **context)


def sync_quietly(client: Client, group_id: str) -> Message | None:
    """Bring the group up to date; a failure is said on the page, which shows what this
    computer has."""
    try:
        client.sync(group_id)
    except Exception as error:
        return problem_for(error)
    return None


def find_member(client: Client, group_id: str, member_id: str) -> MemberInfo:
    for member in client.members(group_id):
        if member.member_id == member_id:
            return member
    abort(404)


def roles_i_can_give(role: Role | None) -> list[Role]:
    """The roles offered in the menus: owners give any, admins member or moderator."""
    if role == Role.OWNER:
        return list(Role)
    return [Role.MEMBER, Role.MODERATOR]


# --- members ----------------------------------------------------------------------------------


@blueprint.get("/groups/<group_id>/members")
@with_client
def members(client: Client, group_id: str) -> ViewResult:
    info = find_group(client, group_id)
    problem = sync_quietly(client, info.group_id)
    info = find_group(client, group_id)
    role = my_role(client, info.group_id)
    people = sorted(client.members(info.group_id),
                    key=lambda m: (not m.is_me, -int(m.role), m.label.casefold()))
    current = {m.member_id for m in people}
    former_muted = [m for m in client.muted(info.group_id) if m not in current]
    return page("admin/members.html", client, info, my_role=role, members=people,
                problem=problem, roles=roles_i_can_give(role), former_muted=former_muted)


@blueprint.post("/groups/<group_id>/members/<member_id>/mute")
@with_client
def mute(client: Client, group_id: str, member_id: str) -> ViewResult:
    """Mute (``mute=1``) or unmute a member on this computer: nobody is told. A former
    member who is muted can be unmuted (they are listed apart on the members page)."""
    info = find_group(client, group_id)
    back = url_for("admin.members", group_id=info.group_id)
    current = {m.member_id: m for m in client.members(info.group_id)}
    member = current.get(member_id)
    if member is None and member_id not in client.muted(info.group_id):
        abort(404)
    name = member.label if member is not None else gettext("A former member")
    try:
        if request.form.get("mute") == "1" and member is not None:
            client.mute(info.group_id, member_id)
            notify(Message(gettext("%(name)s is muted on this computer: their posts are shown "
                                   "folded. Nobody is told.", name=name)))
        else:
            client.unmute(info.group_id, member_id)
            notify(Message(gettext("%(name)s's posts are shown again.", name=name)))
    except Exception as error:
        notify(problem_for(error))
    return go(f"{back}#member-{member_id}" if member is not None else back)


@blueprint.post("/groups/<group_id>/members/<member_id>/role")
@with_client
def set_role(client: Client, group_id: str, member_id: str) -> ViewResult:
    info = find_group(client, group_id)
    role = parse_role(request.form.get("role"))
    if role is None:
        notify(Message(gettext("Choose one of the roles offered.")))
        return go(url_for("admin.members", group_id=info.group_id))
    member = find_member(client, info.group_id, member_id)
    try:
        client.set_role(info.group_id, member.member_id, role)
    except Exception as error:
        notify(problem_for(error))
    else:
        notify(Message(gettext(NOW_ROLE[role], name=member.label)))
    return go(url_for("admin.members", group_id=info.group_id))


@blueprint.route("/groups/<group_id>/members/<member_id>/remove", methods=["GET", "POST"])
@with_client
def remove(client: Client, group_id: str, member_id: str) -> ViewResult:
    """Asks once (a page of its own), then removes."""
    info = find_group(client, group_id)
    member = find_member(client, info.group_id, member_id)
    if request.method == "GET":
        return page("admin/remove.html", client, info, member=member, problem=None)
    revoke = request.form.get("revoke_invites") == "1"
    try:
        revoked = client.remove(info.group_id, member.member_id, revoke_invites=revoke)
    except Exception as error:
        if not any(m.member_id == member.member_id for m in client.members(info.group_id)):
            # Removed, then the relay stopped answering while invites were being cancelled.
            notify(Message(gettext("%(name)s was removed from the group.", name=member.label),
                           gettext("Some invites may still be open: check the invites page "
                                   "and cancel those left.")))
            return go(url_for("admin.members", group_id=info.group_id))
        return page("admin/remove.html", client, info, member=member,
                    problem=problem_for(error)), 422
    after = gettext("The group has a new key: they cannot read anything written from now on.")
    if revoke:
        after += " " + ngettext("%(num)d open invite was cancelled.",
                                "%(num)d open invites were cancelled.", revoked)
    notify(Message(gettext("%(name)s was removed from the group.", name=member.label), after))
    return go(url_for("admin.members", group_id=info.group_id))


@blueprint.get("/groups/<group_id>/members/<member_id>/safety-number")
@with_client
def safety_number(client: Client, group_id: str, member_id: str) -> ViewResult:
    info = find_group(client, group_id)
    member = find_member(client, info.group_id, member_id)
    number = code = None
    problem = None
    if not member.is_me:
        try:
            number = client.safety_number(info.group_id, member.member_id)
            code = client.group_code(info.group_id)
        except Exception as error:
            problem = problem_for(error)
    return page("admin/safety_number.html", client, info, member=member, number=number,
                code=code, problem=problem)


# --- requests to join (admins) ----------------------------------------------------------------


@blueprint.get("/groups/<group_id>/requests")
@with_client
def requests(client: Client, group_id: str) -> ViewResult:
    info = find_group(client, group_id)
    role = my_role(client, info.group_id)
    pending = []
    problem = None
    try:
        pending = client.pending_requests(info.group_id)  # syncs the group's log first
    except Exception as error:
        problem = problem_for(error)
    info = find_group(client, group_id)
    return page("admin/requests.html", client, info, my_role=role, pending=pending,
                problem=problem, roles=roles_i_can_give(role),
                history=history_label(info.history_policy))


@blueprint.post("/groups/<group_id>/requests/<joiner>/approve")
@with_client
def approve(client: Client, group_id: str, joiner: str) -> ViewResult:
    info = find_group(client, group_id)
    role = parse_role(request.form.get("role", "member"))
    if role is None:
        notify(Message(gettext("Choose one of the roles offered.")))
        return go(url_for("admin.requests", group_id=info.group_id))
    try:
        member = client.approve(info.group_id, joiner, role=role)
    except Exception as error:
        notify(problem_for(error))
    else:
        notify(Message(gettext(LET_IN_AS[member.role]),
                       gettext("Their name appears once their Vault has set it.")))
    return go(url_for("admin.requests", group_id=info.group_id))


@blueprint.post("/groups/<group_id>/requests/<joiner>/deny")
@with_client
def deny(client: Client, group_id: str, joiner: str) -> ViewResult:
    info = find_group(client, group_id)
    try:
        client.deny(info.group_id, joiner)
    except Exception as error:
        notify(problem_for(error))
    else:
        notify(Message(gettext("The request was turned away."),
                       gettext("Their Vault tells them that they were not let in.")))
    return go(url_for("admin.requests", group_id=info.group_id))


# --- the group's settings, my name, leaving ---------------------------------------------------


def settings_page(client: Client, info: GroupInfo, *, problem: Message | None = None,
                  about: dict[str, str] | None = None, name: str | None = None) -> str:
    role = my_role(client, info.group_id)
    me = next((m for m in client.members(info.group_id) if m.is_me), None)
    policy = info.history_policy if isinstance(info.history_policy, str) else ""
    return page("admin/settings.html", client, info, my_role=role, problem=problem,
                about=about or {"name": info.name or "", "description": info.description,
                                "rules": info.rules},
                my_name=name if name is not None else (me.display_name or "" if me else ""),
                policy=policy, history_choices=HISTORY_CHOICES,
                history=history_label(info.history_policy))


def form_text(name: str) -> str:
    return request.form.get(name, "").replace("\r\n", "\n")


@blueprint.get("/groups/<group_id>/settings")
@with_client
def settings(client: Client, group_id: str) -> ViewResult:
    return settings_page(client, find_group(client, group_id))


@blueprint.post("/groups/<group_id>/settings/about")
@with_client
def update_about(client: Client, group_id: str) -> ViewResult:
    info = find_group(client, group_id)
    about = {"name": form_text("name").strip(), "description": form_text("description"),
             "rules": form_text("rules")}
    if not about["name"]:
        return settings_page(client, info, about=about,
                             problem=Message(gettext("Give the group a name."))), 422
    try:
        client.update_group(info.group_id, **about)
    except Exception as error:
        return settings_page(client, info, about=about, problem=problem_for(error)), 422
    notify(Message(gettext("The group's details were changed for every member.")))
    return go(url_for("admin.settings", group_id=info.group_id))


@blueprint.post("/groups/<group_id>/settings/history")
@with_client
def update_history(client: Client, group_id: str) -> ViewResult:
    info = find_group(client, group_id)
    policy = parse_history(request.form.get("history"))
    if policy is None:
        return settings_page(client, info,
                             problem=Message(gettext("Choose one of the options offered."))), 422
    try:
        client.set_history_policy(info.group_id, policy)
    except Exception as error:
        return settings_page(client, info, problem=problem_for(error)), 422
    saved = HISTORY_SAVED.get(policy) if isinstance(policy, str) else None
    notify(Message(gettext(saved) if saved else gettext("Saved.")))
    return go(url_for("admin.settings", group_id=info.group_id))


@blueprint.post("/groups/<group_id>/settings/name")
@with_client
def update_name(client: Client, group_id: str) -> ViewResult:
    info = find_group(client, group_id)
    name = form_text("display_name").strip()
    if not name:
        problem = Message(gettext("Choose the name the group will see."))
        return settings_page(client, info, name=name, problem=problem), 422
    try:
        client.set_display_name(info.group_id, name)
    except Exception as error:
        return settings_page(client, info, name=name, problem=problem_for(error)), 422
    notify(Message(gettext("Your name in this group was changed.")))
    return go(url_for("admin.settings", group_id=info.group_id))


@blueprint.route("/groups/<group_id>/leave", methods=["GET", "POST"])
@with_client
def leave(client: Client, group_id: str) -> ViewResult:
    """Asks once, then leaves (and the group is forgotten on this computer). The group's last
    owner names who takes over; unsent posts are only dropped when the person says so."""
    info = find_group(client, group_id)
    people = client.members(info.group_id)
    me = next((m for m in people if m.is_me), None)
    owners = [m for m in people if m.role == Role.OWNER]
    last_owner = me is not None and me.role == Role.OWNER and len(owners) == 1
    heirs = [m for m in people if not m.is_me]
    context = {"last_owner": last_owner, "heirs": heirs, "unsent": info.unsent_posts}
    if request.method == "GET":
        return page("admin/leave.html", client, info, problem=None, **context)
    heir = request.form.get("hand_over_to") or None
    if heir is not None and heir not in {m.member_id for m in heirs}:
        heir = None
    try:
        client.leave(info.group_id, hand_over_to=heir,
                     discard_unsent=bool(request.form.get("discard_unsent")))
    except Exception as error:
        return page("admin/leave.html", client, info, problem=problem_for(error),
                    **context), 422
    notify(Message(gettext("You left the group."),
                   gettext("Vault has forgotten it on this computer. To come back you need a "
                           "new invite.")))
    return go(url_for("groups.index"))


@blueprint.route("/groups/<group_id>/delete", methods=["GET", "POST"])
@with_client
def delete_group(client: Client, group_id: str) -> ViewResult:
    """Asks once (owners): deletes the group for everyone. Unsent posts are only dropped
    when the person says so; the SDK refuses anyone who is not an owner."""
    info = find_group(client, group_id)
    context = {"unsent": info.unsent_posts}
    if request.method == "GET":
        return page("admin/delete_group.html", client, info, problem=None, **context)
    if not request.form.get("understood"):
        problem = Message(gettext("Tick the box to say you understand that this cannot be "
                                  "undone."))
        return page("admin/delete_group.html", client, info, problem=problem, **context), 422
    try:
        client.delete_group(info.group_id,
                            discard_unsent=bool(request.form.get("discard_unsent")))
    except er.RelayUnavailableError:  # (unreachable too) it may have reached the server
        notify(Message(gettext("The server did not confirm the deletion, and it may already "
                               "have it."),
                       gettext("Vault now treats the group as being deleted: nothing more "
                               "can be written to it, and Vault sends the deletion again "
                               "until the server confirms it.")))
        return go(url_for("groups.show", group_id=info.group_id))
    except Exception as error:
        return page("admin/delete_group.html", client, info, problem=problem_for(error),
                    **context), 422
    return go(url_for("groups.index"))  # the list says it is deleted


# --- moderation -------------------------------------------------------------------------------


def others_posts(client: Client, group_id: str) -> list[PostView]:
    return [p for p in reversed(client.posts(group_id)) if not p.is_mine and not p.deleted]


@blueprint.get("/groups/<group_id>/moderate")
@with_client
def moderate(client: Client, group_id: str) -> ViewResult:
    """Other members' posts, newest first, each with "Delete" (moderators and admins)."""
    info = find_group(client, group_id)
    problem = sync_quietly(client, info.group_id)
    return page("admin/moderate.html", client, info, posts=others_posts(client, info.group_id),
                problem=problem)


@blueprint.route("/groups/<group_id>/moderate/<post_id>", methods=["GET", "POST"])
@with_client
def delete_post(client: Client, group_id: str, post_id: str) -> ViewResult:
    """A moderator deletes someone else's post: asks once, then deletes (the SDK refuses it
    to anyone below moderator)."""
    info = find_group(client, group_id)
    try:
        post = client.get_post(info.group_id, post_id)
    except (er.UnknownReferenceError, er.InvalidArgumentError, er.MalformedError):
        abort(404)
    if request.method == "GET":
        return page("admin/delete_post.html", client, info, post=post, problem=None)
    try:
        posted = client.delete(info.group_id, post.post_id)
    except Exception as error:
        return page("admin/delete_post.html", client, info, post=post,
                    problem=problem_for(error)), 422
    outcome(posted, "deletion")
    if posted.status == "delivered":
        notify(Message(gettext("The post was deleted for everyone in the group.")))
    return go(url_for("admin.moderate", group_id=info.group_id))
