"""The passphrase meter's words in the page's language. The SDK's estimate
(:func:`vault_client.passphrase_strength`) speaks zxcvbn's English: a fixed set of warnings
and suggestions, and a time such as "3 hours" or "centuries". They are marked here for the
catalog and translated when the meter is shown (the ``strength_words`` and ``crack_time``
filters, templates/device/_strength.html); a sentence not listed here stays as it is."""

from __future__ import annotations

import re
from typing import Final

from vault_app.i18n import N_, gettext, ngettext

KNOWN: Final = frozenset({
    # the SDK's own (vault_client/_internal/strength.py)
    N_("The passphrase is empty."),
    N_("Use four or more words that are not a saying."),
    # zxcvbn's feedback (zxcvbn/feedback.py)
    N_("Use a few words, avoid common phrases."),
    N_("No need for symbols, digits, or uppercase letters."),
    N_("Add another word or two. Uncommon words are better."),
    N_("Straight rows of keys are easy to guess."),
    N_("Short keyboard patterns are easy to guess."),
    N_("Use a longer keyboard pattern with more turns."),
    N_('Repeats like "aaa" are easy to guess.'),
    N_('Repeats like "abcabcabc" are only slightly harder to guess than "abc".'),
    N_("Avoid repeated words and characters."),
    N_('Sequences like "abc" or "6543" are easy to guess.'),
    N_("Avoid sequences."),
    N_("Recent years are easy to guess."),
    N_("Avoid recent years."),
    N_("Avoid years that are associated with you."),
    N_("Dates are often easy to guess."),
    N_("Avoid dates and years that are associated with you."),
    N_("This is a top-10 common password."),
    N_("This is a top-100 common password."),
    N_("This is a very common password."),
    N_("This is similar to a commonly used password."),
    N_("A word by itself is easy to guess."),
    N_("Names and surnames by themselves are easy to guess."),
    N_("Common names and surnames are easy to guess."),
    N_("Capitalization doesn't help very much."),
    N_("All-uppercase is almost as easy to guess as all-lowercase."),
    N_("Reversed words aren't much harder to guess."),
    N_("Predictable substitutions like '@' instead of 'a' don't help very much."),
})

_AMOUNT = re.compile(r"(\d+) (second|minute|hour|day|month|year)s?")


def strength_words(text: str) -> str:
    """A warning or suggestion of the meter, translated if it is one we know."""
    return gettext(text) if text in KNOWN else text


def crack_time(display: str) -> str:
    """zxcvbn's time ("less than a second", "3 hours", "centuries"), translated."""
    if display == "instantly":
        return gettext("instantly")
    if display == "less than a second":
        return gettext("less than a second")
    if display == "centuries":
        return gettext("centuries")
    found = _AMOUNT.fullmatch(display)
    if found is None:
        return display
    num, unit = int(found.group(1)), found.group(2)
    if unit == "second":
        return ngettext("%(num)d second", "%(num)d seconds", num)
    if unit == "minute":
        return ngettext("%(num)d minute", "%(num)d minutes", num)
    if unit == "hour":
        return ngettext("%(num)d hour", "%(num)d hours", num)
    if unit == "day":
        return ngettext("%(num)d day", "%(num)d days", num)
    if unit == "month":
        return ngettext("%(num)d month", "%(num)d months", num)
    return ngettext("%(num)d year", "%(num)d years", num)
