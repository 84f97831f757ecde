"""Safety numbers: what two members read to each other to check they see the same keys.

Derivation (exact, so other implementations can reproduce it)::

    low, high = sorted((a.fingerprint, b.fingerprint))        # 32 bytes each, bytewise order
    digest    = labelled_hash("vault/v1/safety-number", low || high, size=60)
    group i   = int.from_bytes(digest[5*i : 5*i+5], "big") % 100000, zero-padded to 5 digits
    number    = the 12 groups, i = 0..11, joined by single spaces

Fingerprints commit to both of an identity's public keys, so a swapped signing key or
box key changes the number. Sorting makes it the same on both phones. The modulo bias
(2**40 is not a multiple of 100000) is below one in ten million per group.
"""

from __future__ import annotations

from typing import Final

from vault.crypto import labels
from vault.crypto.identity import PublicIdentity
from vault.crypto.primitives import labelled_hash

GROUPS: Final = 12
GROUP_DIGITS: Final = 5
_GROUP_BYTES: Final = 5
_MODULUS: Final = 10**GROUP_DIGITS


def safety_number(a: PublicIdentity, b: PublicIdentity) -> str:
    """60 decimal digits in 12 groups of 5, the same whichever order *a* and *b* come in.

    Raises :class:`ValueError` when both are the same identity: a safety number compares
    two people's keys, and comparing a key with itself proves nothing.
    """
    fa, fb = a.fingerprint, b.fingerprint
    if fa == fb:
        raise ValueError("a safety number compares two different identities")
    low, high = (fa, fb) if fa < fb else (fb, fa)
    digest = labelled_hash(labels.SAFETY_NUMBER, low + high, size=GROUPS * _GROUP_BYTES)
    return " ".join(
        f"{int.from_bytes(digest[i : i + _GROUP_BYTES], 'big') % _MODULUS:0{GROUP_DIGITS}d}"
        for i in range(0, GROUPS * _GROUP_BYTES, _GROUP_BYTES)
    )
