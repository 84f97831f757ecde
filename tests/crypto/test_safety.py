"""Safety numbers: 60 digits, symmetric, stable, and different for different keys."""

from __future__ import annotations

import re

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from vault.crypto import labels
from vault.crypto.identity import Identity, PublicIdentity
from vault.crypto.primitives import labelled_hash
from vault.crypto.safety import safety_number

SHAPE = re.compile(r"[0-9]{5}( [0-9]{5}){11}")


def pinned(seed: int) -> PublicIdentity:
    return Identity(bytes([seed]) * 32, bytes([seed + 1]) * 32).public


ALICE, BOB = pinned(1), pinned(3)


def documented(a: PublicIdentity, b: PublicIdentity) -> str:
    low, high = sorted((a.fingerprint, b.fingerprint))
    digest = labelled_hash(labels.SAFETY_NUMBER, low + high, size=60)
    return " ".join(
        str(int.from_bytes(digest[i : i + 5], "big") % 100000).zfill(5) for i in range(0, 60, 5)
    )


def test_known_answer() -> None:
    number = safety_number(ALICE, BOB)
    assert number == ("34175 82990 82911 55083 09307 50827 87740 08091 92443 04119 34373 57903")
    assert number == documented(ALICE, BOB)
    assert SHAPE.fullmatch(number)
    assert len(number.replace(" ", "")) == 60


def test_same_identity_is_refused() -> None:
    with pytest.raises(ValueError, match="two different identities"):
        safety_number(ALICE, ALICE)
    with pytest.raises(ValueError):
        safety_number(ALICE, Identity(bytes([1]) * 32, bytes([2]) * 32).public)


def test_swapped_keys_change_the_number() -> None:
    mallory = pinned(9)
    # A relay that swaps Bob's box key (with a forged binding) changes the number.
    swapped = PublicIdentity(BOB.sign_pk, mallory.box_pk, BOB.binding_sig)
    assert safety_number(ALICE, swapped) != safety_number(ALICE, BOB)
    assert safety_number(ALICE, mallory) != safety_number(ALICE, BOB)
    assert safety_number(BOB, mallory) != safety_number(ALICE, mallory)


seeds = st.binary(min_size=32, max_size=32)


@given(seeds, seeds, seeds, seeds)
def test_symmetric_stable_and_well_formed(s1: bytes, s2: bytes, s3: bytes, s4: bytes) -> None:
    a, b = Identity(s1, s2).public, Identity(s3, s4).public
    assume(a.fingerprint != b.fingerprint)
    number = safety_number(a, b)
    assert number == safety_number(b, a) == safety_number(a, b)
    assert number == documented(a, b)
    assert SHAPE.fullmatch(number)


def test_distinct_pairs_give_distinct_numbers() -> None:
    people = [pinned(seed) for seed in range(0, 60, 2)]
    numbers = {safety_number(a, b) for i, a in enumerate(people) for b in people[i + 1 :]}
    assert len(numbers) == len(people) * (len(people) - 1) // 2
