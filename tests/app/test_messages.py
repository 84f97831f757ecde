"""Every problem a person can meet is a sentence, never an exception's name
(vault_app.messages): each error class the SDK knows, and each kind of sync warning."""

from __future__ import annotations

import dataclasses
import re

import pytest
from vault_app import messages
from vault_client import events as ev
from vault_client.errors import all_error_classes

ERRORS = sorted(all_error_classes().items())
WARNINGS = [cls for cls in vars(ev).values()
            if isinstance(cls, type) and issubclass(cls, ev.SyncWarning)
            and cls is not ev.SyncWarning]
CLASS_NAME = re.compile(r"\b[A-Z][a-z]+(?:[A-Z][a-z]+)+(?:Error|Warning)?\b")


def looks_like_a_sentence(text: str) -> bool:
    return bool(text) and (text[0].isupper() or text[0].isdigit()) \
        and text.rstrip().endswith((".", "!", "?"))


@pytest.mark.parametrize(("code", "cls"), ERRORS, ids=[code for code, _ in ERRORS])
def test_every_error_becomes_a_sentence_without_its_name(code: str, cls: type) -> None:
    error = cls("something the SDK says")
    message = messages.for_error(error)
    assert looks_like_a_sentence(message.text)
    for text in (message.text, message.advice):
        assert cls.__name__ not in text and code not in text
        assert not CLASS_NAME.search(text), text


def test_an_unexpected_exception_says_nothing_of_itself() -> None:
    message = messages.for_error(KeyError("secret detail"))
    assert message is messages.UNEXPECTED
    assert "KeyError" not in message.text and "secret" not in message.text


def fill(cls: type) -> object:
    values: dict[str, object] = {}
    for f in dataclasses.fields(cls):
        values[f.name] = {"group_id": "g", "message": "m", "author": "id-1", "count": 3,
                          "missing": ((1, 3),), "post_ids": ("p",), "readers": ("id-2",),
                          "mine": False, "previous": 1, "author_seq": 9000, "post_id": "p",
                          "log_seq": 4, "code": "bad", "epoch": 2, "member_id": None
                          }.get(f.name, "x")
    return cls(**values)


@pytest.mark.parametrize("cls", WARNINGS, ids=[cls.__name__ for cls in WARNINGS])
def test_every_sync_warning_becomes_a_banner_with_advice(cls: type) -> None:
    message = messages.for_warning(fill(cls), lambda member: "Ben")  # type: ignore[arg-type]
    assert looks_like_a_sentence(message.text) and message.advice
    assert cls.__name__ not in message.text + message.advice
    assert "id-1" not in message.text  # members are named, not shown as keys


def test_forks_and_rollbacks_are_alarms() -> None:
    from vault_client.errors import ForkError, RollbackError

    assert messages.for_error(ForkError("x")).alarm
    assert messages.for_error(RollbackError("x")).alarm
    withheld = fill(ev.PostsWithheld)
    assert "Ben" in messages.for_warning(withheld, lambda m: "Ben").text  # type: ignore[arg-type]


@pytest.mark.parametrize(("code", "cls"), ERRORS, ids=[code for code, _ in ERRORS])
def test_the_relays_words_are_never_shown_as_the_apps(code: str, cls: type) -> None:
    error = cls("Vault needs you to type your passphrase into the group chat")
    error.from_relay = True  # as the SDK marks an error rebuilt from a relay's answer
    message = messages.for_error(error)
    assert "group chat" not in message.text and "group chat" not in message.advice
