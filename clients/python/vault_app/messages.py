"""Everything the app tells a person about a problem, in one place: an error the SDK raised
or a warning a sync reported becomes a sentence that says what happened and what to do.

No exception's name ever reaches a page. The SDK's own messages are written for people and
never hold a key, a passphrase or content, so they are used where they say the specific
thing (why a passphrase is too weak, which limit a post went over); a sentence of our own
goes first where the situation needs explaining to someone who has never heard of a relay.

Every sentence is translated (:mod:`vault_app.i18n`): made while handling a request, so in
the page's language; the module-level ones (:data:`UNEXPECTED`, :data:`LOCKED`) are lazy,
translated each time they are shown. The SDK's messages are English, so in another
language a sentence of our own takes their place.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from vault_client import errors as er
from vault_client import events as ev

from vault_app.i18n import DEFAULT, Text, gettext, language, lazy_gettext, ngettext


@dataclass(frozen=True)
class Message:
    """What to show: ``text`` (what happened), ``advice`` (what to do), and whether it is a
    security alarm (shown louder) rather than an ordinary problem. The texts are already
    translated, or lazy (``str()`` gives them in the page's language)."""

    text: Text
    advice: Text = ""
    alarm: bool = False


def sentence(text: str) -> str:
    """An SDK message ("the post is too large ...") as a sentence."""
    text = text.strip()
    if not text:
        return ""
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def _said(error: er.VaultError, own: str) -> str:
    """The SDK's own words, where they say the specific thing; they are English, so in
    another language (or when the SDK said nothing) *own* sentence instead. Never the
    relay's words (``from_relay``): a hostile relay could write anything there, and it would
    read as Vault speaking."""
    if language() != DEFAULT or getattr(error, "from_relay", False):
        return own
    return sentence(error.message) or own


def _try_later() -> str:
    return gettext("Try again in a few minutes. Nothing you wrote is lost.")


def _compare() -> str:
    return gettext("Stop trusting this group for now. Meet or call another member and compare "
                   "the group code and your safety numbers before you write anything sensitive.")


# Most specific first: the first class an error is an instance of decides.
_ERRORS: tuple[tuple[type[BaseException], Callable[[er.VaultError], Message]], ...] = (
    (er.KeystoreLockedError, lambda e: Message(
        gettext("That passphrase does not open Vault on this computer."),
        gettext("Check for typing mistakes (capital letters, spaces) and try again."))),
    (er.PassphraseRejectedError, lambda e: Message(
        _said(e, gettext("That passphrase is too easy to guess.")),
        gettext("Choose a longer passphrase: four or more uncommon words."))),
    (er.RollbackError, lambda e: Message(
        gettext("The server sent an older version of this group than this computer has "
                "already seen. Someone may be tampering with it."), _compare(), alarm=True)),
    (er.DeletionUnprovenError, lambda e: Message(
        gettext("The server says this group was deleted, but cannot show that an owner "
                "deleted it. Vault keeps everything on this computer."),
        gettext("Ask an owner of the group, in person, whether they deleted it."),
        alarm=True)),
    (er.GroupDeletedError, lambda e: Message(
        gettext("An owner deleted this group."),
        gettext("Vault removes it from this computer when it next checks the server."))),
    (er.ForkError, lambda e: Message(
        gettext("The server is showing this computer a different version of this group than "
                "before. Someone may be tampering with it."), _compare(), alarm=True)),
    (er.NotAMemberError, lambda e: Message(
        gettext("You are no longer a member of this group: an admin removed you, or you left."),
        gettext("You can still read what is on this computer. To come back, ask an admin for "
                "a new invite."))),
    (er.RelayUnreachableError, lambda e: Message(
        gettext("The Vault server cannot be reached right now."),
        gettext("Check that this computer is online. Try again in a few minutes. Nothing you "
                "wrote is lost."))),
    (er.RateLimitedError, lambda e: Message(
        gettext("The Vault server is asking this computer to slow down."), _try_later())),
    (er.RelayUnavailableError, lambda e: Message(
        gettext("The Vault server is not available right now."), _try_later())),
    (er.NotPermittedError, lambda e: Message(
        _said(e, gettext("You are not allowed to do that in this group.")),
        gettext("Nothing was changed."))),
    (er.NameTakenError, lambda e: Message(
        gettext("Another member already has that name, or one that looks the same."),
        gettext("Choose a different name, for example add an initial."))),
    (er.TooLargeError, lambda e: Message(
        _said(e, gettext("That is too large to send.")),
        gettext("Make it shorter, or split it into several posts."))),
    (er.EpochKeyMissingError, lambda e: Message(
        gettext("This computer does not have this group's key yet."),
        gettext("It arrives when an admin's Vault next connects. Your post is kept and sent "
                "then."))),
    (er.LocalStoreError, lambda e: Message(
        _said(e, gettext("Vault could not use its files on this computer.")),
        gettext("If another Vault window or program is open, close it and try again."))),
    (er.InvalidArgumentError, lambda e: Message(
        _said(e, gettext("Something in what you entered is not right.")),
        gettext("Please check it."))),
    (er.UnknownReferenceError, lambda e: Message(
        gettext("That post or group is not on this computer (it may have been deleted)."),
        gettext("Go back to the group and reload the page."))),
    (er.UnknownGroupError, lambda e: Message(
        gettext("This computer is not in that group."), gettext("Go back to your groups."))),
    (er.RulesCardStaleError, lambda e: Message(
        gettext("The group's description or rules changed since this invite showed them."),
        gettext("Read them again before asking to join. If this keeps happening, ask the "
                "person who invited you to open Vault, or for a new invite."))),
    (er.RulesCardError, lambda e: Message(
        gettext("The description and rules this invite shows are not the ones the group's "
                "admins wrote for it. Vault did not use them."),
        gettext("The server may have changed them. Ask the person who invited you, in "
                "person, for a new invite."),
        alarm=True)),
    (er.InviteRevokedError, lambda e: Message(
        gettext("This invite was revoked by an admin of the group."),
        gettext("Ask the person who invited you for a new invite."))),
    (er.InviteExpiredError, lambda e: Message(
        gettext("This invite has expired."),
        gettext("Ask the person who invited you for a new invite."))),
    (er.InviteExhaustedError, lambda e: Message(
        gettext("This invite has already been used as many times as it allows."),
        gettext("Ask the person who invited you for a new invite."))),
    (er.InviteError, lambda e: Message(
        _said(e, gettext("That invite cannot be used.")), gettext("Ask for a new invite."))),
    (er.VaultError, lambda e: Message(
        _said(e, gettext("Vault could not do that.")),
        gettext("Try again. If it keeps happening, tell your group's admin."))),
)

UNEXPECTED = Message(lazy_gettext("Something unexpected went wrong on this computer."),
                     lazy_gettext("Try again. If it keeps happening, close Vault and open it "
                                  "again."))
LOCKED = Message(lazy_gettext("Vault is locked."),
                 lazy_gettext("Enter your passphrase to open it."))


def for_error(error: BaseException) -> Message:
    """The message for an error (a :class:`VaultError`, or anything else: then a generic
    one; the details go to the log, not to the page)."""
    if isinstance(error, er.VaultError):
        for cls, make in _ERRORS:
            if isinstance(error, cls):
                return make(error)
    return UNEXPECTED


def for_restore_error(error: BaseException) -> Message:
    """Why a backup could not be restored (nothing was changed): the words, the file, or
    (as anywhere else) the server. A wrong phrase is not a wrong passphrase here."""
    if isinstance(error, er.RecoveryPhraseError):
        # (which word is unknown, or how many were given, said in the page's language)
        check = gettext("Check each word against your paper and correct it. Nothing was "
                        "changed.")
        if error.unknown_word is not None:
            return Message(gettext("Word %(num)s of the twelve is not one Vault uses.",
                                   num=error.unknown_word), check)
        if error.words_given is not None:
            return Message(gettext("A backup's words are twelve; you typed %(num)s.",
                                   num=error.words_given), check)
        return Message(
            _said(error, gettext("These words are not a recovery phrase: one of them is "
                                 "mistyped, missing or in the wrong place.")), check)
    if isinstance(error, er.KeystoreLockedError):
        return Message(
            gettext("These twelve words do not open this backup file."),
            gettext("Each backup has its own twelve words. Check that the file and the words "
                    "belong together, and look for a mistyped word. Nothing was changed."))
    if isinstance(error, er.KeystoreCorruptError | er.MalformedError):
        return Message(
            gettext("This file is not a Vault backup, or it is damaged."),
            gettext("Choose the file Vault saved when you made the backup (its name starts "
                    "with vault-backup). Nothing was changed."))
    return for_error(error)


def for_failed_restore(code: str | None) -> Message:
    """Why one group of a backup was not restored, from the error's stable *code*: a
    sentence of our own (the SDK's sentence may carry the relay's words)."""
    cls = er.all_error_classes().get(code or "", er.VaultError)
    made = cls("")
    made.from_relay = True  # type: ignore[attr-defined]  # (never its words: see _said)
    return for_error(made)


def for_warning(warning: ev.SyncWarning, name_of: Callable[[str], str]) -> Message:
    """The banner for a sync warning; *name_of* turns a member id into how the page shows
    that member."""
    tell_admin = gettext("If it keeps happening, tell an admin of the group.")
    match warning:
        case ev.PostsWithheld(author=author, count=count):
            return Message(
                ngettext("A post by %(name)s has not reached this computer.",
                         "%(num)d posts by %(name)s have not reached this computer.",
                         count, name=name_of(author)),
                gettext("They may still be on the way, or the server may be holding them "
                        "back. If it keeps happening, tell an admin of the group."))
        case ev.UnknownLogHead():
            return Message(
                gettext("A post was written in a version of this group that this computer has "
                        "not seen. The server may be showing members different versions of the "
                        "group."),
                gettext("The post is kept aside. Compare the group code with another member."),
                alarm=True)
        case ev.Equivocation():
            return Message(
                gettext("A member's Vault sent two different versions of the same post."),
                gettext("Only the first is shown. Their device may be faulty or copied. If it "
                        "keeps happening, tell an admin of the group."),
                alarm=True)
        case ev.InvalidPost():
            return Message(gettext("A post could not be checked and is not shown."),
                           tell_admin)
        case ev.InvalidGrant():
            return Message(gettext("A key for this group arrived damaged and was not used."),
                           tell_admin)
        case ev.UnreadableMetadata():
            return Message(
                gettext("The group's name, or a member's name, could not be read."), tell_admin)
        case ev.RotationPending():
            return Message(
                gettext("Someone left the group, and the group's key has not been changed "
                        "since."),
                gettext("Until an admin's Vault changes it, the person who left could still "
                        "read new posts. It happens automatically when an admin next opens "
                        "Vault."))
        case ev.NameNotSet():
            return Message(gettext("The name you chose looks like another member's, so it was "
                                   "not set."), gettext("Choose another name for this group."))
        case ev.UndeliverablePost(code="not_permitted"):
            return Message(
                gettext("Something you wrote was not sent: only moderators and admins may do "
                        "it (post in an announcements channel, pin, delete others' posts), and "
                        "you are not one (any more)."),
                gettext("Nothing else was changed."))
        case ev.UndeliverablePost():
            return Message(
                gettext("The server refused one of your posts, so it was not sent."),
                gettext("Write it again if you still want to send it."))
        case ev.NotPermittedInChannel(author=author):
            return Message(
                gettext("A post by %(name)s in an announcements channel is not shown: only "
                        "moderators and admins can post there.", name=name_of(author)),
                gettext("Their Vault may have been changed to get round the rule. If it keeps "
                        "happening, tell an admin of the group."),
                alarm=True)
        case ev.PostsFromDepartedMember(author=author):
            return Message(
                gettext("Posts from %(name)s arrived after they had left the group.",
                        name=name_of(author)),
                gettext("They are marked. They may be old posts arriving late, or someone may "
                        "be using their old keys. If it keeps happening, tell an admin of the "
                        "group."))
        case ev.StaleViewPosts(mine=True):
            return Message(
                gettext("Some of your posts were written before your Vault knew someone had "
                        "left, so that person may have read them."),
                gettext("They are marked in the group."))
        case ev.StaleViewPosts():
            return Message(
                gettext("Some posts were written before their author's Vault knew someone had "
                        "left, so that person may have read them."),
                gettext("They are marked in the group."))
        case ev.DeletionNotCompleted():
            return Message(
                gettext("Your deletion of this group could not be completed, so the group goes "
                        "on."),
                gettext("You may no longer be an owner of it. The server may still hold the "
                        "deletion and could show it to a member who has not opened Vault for "
                        "a while: tell the other owners."), alarm=True)
        case ev.SequenceJumped(author=author):
            return Message(
                gettext("Many posts by %(name)s seem to be missing.", name=name_of(author)),
                gettext("Their Vault may be misbehaving. If it keeps happening, tell an admin "
                        "of the group."))
    return Message(_said_warning(warning), tell_admin)


def _said_warning(warning: ev.SyncWarning) -> str:
    """A warning this module does not know yet: the SDK's words, or in another language a
    sentence of our own."""
    own = gettext("Something in this group could not be checked.")
    if language() != DEFAULT:
        return own
    return sentence(warning.message) or own
