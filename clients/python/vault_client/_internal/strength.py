"""How hard a passphrase is to guess, estimated with zxcvbn (dictionaries, common passwords,
keyboard patterns, dates, repeats): a new keystore or export refuses one that is too easy.

The keystore is what protects an abuse survivor whose device is taken: Argon2id slows each
guess down, it does not make a short or common passphrase strong. zxcvbn's score 3 means
"safely unguessable: moderate protection from an offline slow-hash attack", which is what a
copied keystore faces.
"""

from __future__ import annotations

from typing import Final

from zxcvbn import zxcvbn

from vault.crypto.errors import PassphraseRejectedError
from vault_client.types import PassphraseStrength

MIN_SCORE: Final = 3
_CHECKED_CHARACTERS: Final = 100
"""zxcvbn's time grows with length; beyond this a passphrase is long enough to judge by its
start (the rest only adds to it)."""


def passphrase_strength(passphrase: str) -> PassphraseStrength:
    """The estimate for *passphrase* (never logged, never sent anywhere)."""
    result = zxcvbn(passphrase[:_CHECKED_CHARACTERS]) if passphrase else None
    if result is None:
        return PassphraseStrength(0, False, "The passphrase is empty.",
                                  ("Use four or more words that are not a saying.",), "instantly")
    feedback = result.get("feedback", {})
    suggestions = tuple(feedback.get("suggestions") or ())
    if not suggestions and result["score"] < MIN_SCORE:
        suggestions = ("Add another word or two. Uncommon words are better.",)
    return PassphraseStrength(
        int(result["score"]), int(result["score"]) >= MIN_SCORE,
        str(feedback.get("warning") or ""), suggestions,
        str(result["crack_times_display"]["offline_slow_hashing_1e4_per_second"]))


def require_strong(passphrase: str, what: str) -> None:
    """Refuse (:class:`PassphraseRejectedError`) a passphrase too easy to guess for *what*."""
    strength = passphrase_strength(passphrase)
    if strength.acceptable:
        return
    reason = f" {strength.warning}" if strength.warning else ""
    hint = " ".join(strength.suggestions)
    raise PassphraseRejectedError(
        f"this passphrase is too easy to guess for {what} (someone who copies it could find "
        f"it in {strength.crack_time}).{reason} {hint} Four or more uncommon words work well."
    )
