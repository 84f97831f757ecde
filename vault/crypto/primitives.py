"""Thin, labelled wrappers over the libsodium calls every construction uses.

* ``labelled_hash``: BLAKE2b over ``frame(label) || data``.
* ``derive_key``: keyed BLAKE2b (the construction behind libsodium's ``crypto_kdf``)
  with the parent key as the key and ``frame(label) || context`` as the message.
* ``sign`` / ``verify``: Ed25519 over ``frame(label) || message``.

``frame(label)`` is ``u8 len(label) || label``. Randomness and time are parameters
everywhere (``RandomSource`` / ``Clock``), defaulting to the real ones.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import nacl.bindings
import nacl.exceptions
import nacl.utils

from vault.crypto.errors import SignatureError

RandomSource = Callable[[int], bytes]
"""Returns *n* uniformly random bytes. Default: :func:`nacl.utils.random`."""

Clock = Callable[[], int]
"""Returns the current time in milliseconds since the Unix epoch."""

KEY_SIZE = 32
HASH_SIZE = 32
SIGNATURE_SIZE = 64
PUBLIC_KEY_SIZE = 32

default_random: RandomSource = nacl.utils.random
_blake2b = nacl.bindings.crypto_generichash_blake2b_salt_personal


def draw(random: RandomSource, size: int) -> bytes:
    """*size* bytes from *random*, refusing a source that returns another length (a
    pinned test source that ran dry, say) rather than letting a short nonce or key
    reach libsodium."""
    value = random(size)
    if len(value) != size:
        raise ValueError("the random source returned the wrong number of bytes")
    return value


def default_clock() -> int:
    return time.time_ns() // 1_000_000


def frame(label: bytes) -> bytes:
    if not 0 < len(label) < 256:
        raise ValueError("labels are 1 to 255 bytes")
    return bytes((len(label),)) + label


def labelled_hash(label: bytes, data: bytes, size: int = HASH_SIZE) -> bytes:
    digest: bytes = _blake2b(frame(label) + data, digest_size=size)
    return digest


def derive_key(parent_key: bytes, label: bytes, context: bytes = b"") -> bytes:
    if len(parent_key) != KEY_SIZE:
        raise ValueError("parent key must be 32 bytes")
    digest: bytes = _blake2b(frame(label) + context, digest_size=KEY_SIZE, key=parent_key)
    return digest


def sign(secret_key: bytes, label: bytes, message: bytes) -> bytes:
    """Ed25519 signature over ``frame(label) || message``.

    ``secret_key`` is libsodium's 64-byte form (seed || public key).
    """
    signed: bytes = nacl.bindings.crypto_sign(frame(label) + message, secret_key)
    return signed[:SIGNATURE_SIZE]


def verify(public_key: bytes, label: bytes, message: bytes, signature: bytes, what: str) -> None:
    """Raise :class:`SignatureError` unless *signature* is valid; never returns data."""
    if len(signature) != SIGNATURE_SIZE or len(public_key) != PUBLIC_KEY_SIZE:
        raise SignatureError(f"{what}: signature does not verify")
    try:
        nacl.bindings.crypto_sign_open(signature + frame(label) + message, public_key)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError):
        raise SignatureError(f"{what}: signature does not verify") from None
