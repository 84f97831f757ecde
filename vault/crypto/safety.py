"""Safety numbers: what two members read to each other to check they see the same keys.

Derivation (exact, so other implementations can reproduce it)::

    low, high = sorted((a.fingerprint, b.fingerprint))        # 32 bytes each, bytewise order
    digest    = labelled_hash("vault/v1/safety-number", low || high, size=60)
    group i   = int.from_bytes(digest[5*i : 5*i+5], "big") % 100000, zero-padded to 5 digits
    number    = the 12 groups, i = 0..11, joined by single spaces

Fingerprints commit to both of an identity's public keys, so a swapped signing key or
box key changes the number. Sorting makes it the same on both phones. The modulo bias
(2**40 is not a multiple of 100000) is below one in ten million per group.

Group codes: what members read to each other to check they see the same *group*. A safety
number compares two people's keys and stays the same across a fork of the membership log;
the group code commits to the verified log itself::

    digest = labelled_hash("vault/v1/group-code", group_id || u64 seq || head || u64 epoch,
                           size=20)
    code   = 4 groups of 5 digits, made from the digest as a safety number's are

Two members compare the code *at the same log entry* (``seq``): equal codes mean both
verified the same log up to it; different codes at one seq mean they are shown different
logs (a fork). A member further along can show the code at an earlier entry
(:meth:`GroupState.hash_at` gives every head).
"""

from __future__ import annotations

import struct
from typing import Final

from vault.crypto import labels
from vault.crypto.identity import PublicIdentity
from vault.crypto.primitives import HASH_SIZE, labelled_hash

GROUPS: Final = 12
GROUP_DIGITS: Final = 5
_GROUP_BYTES: Final = 5
_MODULUS: Final = 10**GROUP_DIGITS
CODE_GROUPS: Final = 4
_U64 = struct.Struct(">Q")


def _digits(digest: bytes) -> str:
    return " ".join(
        f"{int.from_bytes(digest[i : i + _GROUP_BYTES], 'big') % _MODULUS:0{GROUP_DIGITS}d}"
        for i in range(0, len(digest), _GROUP_BYTES)
    )


def safety_number(a: PublicIdentity, b: PublicIdentity) -> str:
    """60 decimal digits in 12 groups of 5, the same whichever order *a* and *b* come in.

    Raises :class:`ValueError` when both are the same identity: a safety number compares
    two people's keys, and comparing a key with itself proves nothing.
    """
    fa, fb = a.fingerprint, b.fingerprint
    if fa == fb:
        raise ValueError("a safety number compares two different identities")
    low, high = (fa, fb) if fa < fb else (fb, fa)
    return _digits(labelled_hash(labels.SAFETY_NUMBER, low + high, size=GROUPS * _GROUP_BYTES))


def group_code(group_id: bytes, seq: int, head: bytes, epoch: int) -> str:
    """20 decimal digits in 4 groups of 5 that commit to a verified log up to entry *seq*
    (whose hash is *head*) and the epoch in force there (see the module docstring)."""
    if len(group_id) != HASH_SIZE or len(head) != HASH_SIZE:
        raise ValueError("group id and head are 32 bytes")
    if not (0 <= seq < 2**64 and 0 <= epoch < 2**64):
        raise ValueError("seq and epoch are u64")
    message = group_id + _U64.pack(seq) + head + _U64.pack(epoch)
    return _digits(labelled_hash(labels.GROUP_CODE, message, size=CODE_GROUPS * _GROUP_BYTES))
