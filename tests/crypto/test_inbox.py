"""The moderators' inbox in the core (protocol §8.8): who an item is sealed to (INBOX-8), who
can open it, and every check a reader makes, with a relay or a member that tampers."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.crypto.logfactory import LogFactory, seeded_random
from vault.crypto.errors import (
    InboxError,
    InboxNotForYouError,
    MalformedError,
    NotAMemberError,
    TooLargeError,
)
from vault.crypto.identity import Identity
from vault.crypto.inbox import (
    InboxEnvelope,
    InboxKind,
    InboxMessage,
    Outcome,
    moderators_at,
    open_item,
    recipients_digest,
    recipients_for,
    seal_item,
    seal_to,
)
from vault.crypto.log_entries import Role

POST = b"\x42" * 16


class Circle:
    """An owner, an admin, a moderator and three members (Ben's post is reported)."""

    def __init__(self) -> None:
        self.f = LogFactory("inbox")
        self.owner = self.f.owner
        self.admin = self.f.add_member(Role.ADMIN)
        self.mod = self.f.add_member(Role.MODERATOR)
        self.ann, self.ben, self.cat = self.f.add_members(3)
        self.random = seeded_random("inbox items")

    def report(self, by: Identity | None = None, about: Identity | None = None,
               text: str = "This is unkind") -> InboxEnvelope:
        return seal_item(by or self.ann, self.f.state, InboxKind.REPORT, text, post=POST,
                         subject=(about or self.ben).sign_pk, random=self.random, now_ms=1)


def keys(*people: Identity) -> tuple[bytes, ...]:
    return tuple(sorted(p.sign_pk for p in people))


def test_a_report_is_sealed_to_the_moderators_and_its_sender_never_its_subject() -> None:
    c = Circle()
    envelope = c.report()
    assert envelope.recipient_keys == keys(c.owner, c.admin, c.mod, c.ann)
    assert moderators_at(c.f.state, c.f.state.seq) == list(keys(c.owner, c.admin, c.mod))
    for reader in (c.owner, c.admin, c.mod, c.ann):
        opened = open_item(InboxEnvelope.decode(envelope.encode()), reader, c.f.state)
        assert opened.message.text == "This is unkind"
        assert (opened.message.sender, opened.message.post) == (c.ann.sign_pk, POST)
    for outsider in (c.ben, c.cat):  # the reported author and another member
        with pytest.raises(InboxNotForYouError):
            open_item(envelope, outsider, c.f.state)


def test_a_moderator_replies_to_the_member_and_resolves_for_the_moderators() -> None:
    c = Circle()
    first = c.report()
    thread = first.item_id
    reply = seal_item(c.mod, c.f.state, InboxKind.REPLY, "Thank you, we are on it",
                      thread=thread, subject=c.ben.sign_pk, to=c.ann.sign_pk,
                      random=c.random)
    assert reply.recipient_keys == keys(c.owner, c.admin, c.mod, c.ann)
    assert open_item(reply, c.ann, c.f.state).message.to == c.ann.sign_pk
    done = seal_item(c.admin, c.f.state, InboxKind.RESOLUTION, "", thread=thread,
                     subject=c.ben.sign_pk, outcome=Outcome.POST_DELETED, random=c.random)
    assert done.recipient_keys == keys(c.owner, c.admin, c.mod)
    assert open_item(done, c.mod, c.f.state).message.outcome is Outcome.POST_DELETED
    with pytest.raises(InboxNotForYouError):
        open_item(done, c.ann, c.f.state)


def test_only_moderators_reply_or_resolve_and_only_members_write() -> None:
    c = Circle()
    with pytest.raises(InboxError, match="only moderators and admins"):
        seal_item(c.cat, c.f.state, InboxKind.RESOLUTION, "", thread=b"\1" * 16,
                  outcome=Outcome.DISMISSED)
    with pytest.raises(NotAMemberError):
        seal_item(c.f.identity(), c.f.state, InboxKind.SUPPORT, "help")
    # Forged by a member anyway, sealed to the moderators: every moderator refuses it.
    forged = InboxMessage(c.f.state.group_id, b"\7" * 16, c.cat.sign_pk, c.f.state.seq,
                          c.f.state.head, 1, InboxKind.RESOLUTION, thread=b"\1" * 16,
                          outcome=Outcome.DISMISSED, recipients_digest=recipients_digest(
                              keys(c.owner, c.admin, c.mod, c.cat)))
    people = [c.owner.public, c.admin.public, c.mod.public, c.cat.public]
    with pytest.raises(InboxError, match="not a moderator"):
        open_item(seal_to(c.cat, forged, people), c.mod, c.f.state)


def test_a_report_shared_with_a_member_or_hiding_from_a_moderator_is_refused() -> None:
    """A modified client seals a report to a non-moderator (Cat), or leaves a moderator out:
    the moderators' devices refuse it (INBOX-8)."""
    c = Circle()
    for chosen in ((c.owner, c.admin, c.mod, c.ann, c.cat), (c.owner, c.admin, c.ann)):
        message = InboxMessage(c.f.state.group_id, c.random(16), c.ann.sign_pk, c.f.state.seq,
                               c.f.state.head, 1, InboxKind.REPORT, post=POST,
                               subject=c.ben.sign_pk, text="x",
                               recipients_digest=recipients_digest(keys(*chosen)))
        envelope = seal_to(c.ann, message, [p.public for p in chosen])
        with pytest.raises(InboxError, match="not sealed to exactly"):
            open_item(envelope, c.owner, c.f.state)


def test_what_a_relay_changes_is_refused() -> None:
    c = Circle()
    envelope = c.report()
    raw = bytearray(envelope.encode())
    raw[-1] ^= 1  # the ciphertext
    with pytest.raises(InboxError, match="could not be decrypted"):
        open_item(InboxEnvelope.decode(bytes(raw)), c.mod, c.f.state)
    # A recipient dropped (the header is the associated data): nobody opens it.
    fewer = replace(envelope, recipients=tuple(r for r in envelope.recipients
                                               if r[0] != c.admin.sign_pk))
    with pytest.raises(InboxError, match="could not be decrypted"):
        open_item(fewer, c.mod, c.f.state)
    # Served under another item's id or log position.
    with pytest.raises(InboxError):
        open_item(replace(envelope, item_id=b"\0" * 16), c.mod, c.f.state)
    # The report's text altered by a moderator who holds the content key: bad signature.
    opened = open_item(envelope, c.mod, c.f.state)
    altered = replace(opened.message, text="Something else")
    people = [p.public for p in (c.owner, c.admin, c.mod, c.ann)]
    from vault.crypto import inbox as module
    from vault.crypto.padding import pad
    from vault.crypto.primitives import aead_seal

    signed = altered.encode()
    signature = opened.signature  # Ann's, over the words she wrote
    key = seeded_random("k")(32)
    sealed = tuple(sorted((p.sign_pk, module._box_seal(key, p.box_pk)) for p in people))
    shell = replace(envelope, recipients=sealed, ciphertext=b"")
    bad = replace(shell, ciphertext=aead_seal(key, shell.nonce, pad(signed + signature),
                                              shell.header()))
    with pytest.raises(InboxError, match="bad signature"):
        open_item(bad, c.owner, c.f.state)


def test_a_demoted_moderator_reads_no_new_reports() -> None:
    c = Circle()
    before = c.report()
    c.f.set_role(c.mod, Role.MEMBER)
    after = c.report()
    assert c.mod.sign_pk in before.recipient_keys
    assert c.mod.sign_pk not in after.recipient_keys
    with pytest.raises(InboxNotForYouError):
        open_item(after, c.mod, c.f.state)
    # The earlier one still opens, checked at its own log position.
    assert open_item(before, c.owner, c.f.state).message.log_seq < c.f.state.seq
    assert recipients_for(c.f.state, before.log_seq, c.ann.sign_pk, None, c.ben.sign_pk) \
        == before.recipient_keys


def test_message_rules_and_encoding() -> None:
    c = Circle()
    message = open_item(c.report(), c.mod, c.f.state).message
    assert InboxMessage.decode(message.encode()) == message
    with pytest.raises(InboxError, match="own post"):
        c.report(by=c.ben, about=c.ben)
    with pytest.raises(InboxError, match="the text is empty"):
        c.report(text="  ")
    with pytest.raises(InboxError, match="only a resolution has an outcome"):
        replace(message, outcome=Outcome.DISMISSED)
    with pytest.raises(InboxError, match="a reply answers a thread"):
        replace(message, kind=InboxKind.REPLY, post=None, to=None, thread=b"\1" * 16)
    envelope = c.report()
    raw = envelope.encode()
    with pytest.raises(MalformedError, match="trailing"):
        InboxEnvelope.decode(raw + b"\0")
    with pytest.raises(TooLargeError):
        replace(envelope, recipients=())
    with pytest.raises(MalformedError, match="ascending order"):
        replace(envelope, recipients=tuple(reversed(envelope.recipients)))


def test_the_longest_message_fits_its_envelope() -> None:
    """4,096 bytes of text pad to the 8 KiB bucket: the envelope (ciphertext and tag) still
    decodes, at the relay and on every reader's device."""
    c = Circle()
    longest = c.report(text="é" * 2048)  # 4,096 bytes of UTF-8
    raw = longest.encode()
    assert len(InboxEnvelope.decode(raw).ciphertext) == 8192 + 16
    assert open_item(InboxEnvelope.decode(raw), c.mod, c.f.state).message.text == "é" * 2048
