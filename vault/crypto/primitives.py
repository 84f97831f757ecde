"""Thin, labelled wrappers over the libsodium calls every construction uses.

* ``labelled_hash``: BLAKE2b over ``frame(label) || data``.
* ``derive_key``: keyed BLAKE2b (the construction behind libsodium's ``crypto_kdf``)
  with the parent key as the key and ``frame(label) || context`` as the message.
* ``sign`` / ``verify``: Ed25519 over ``frame(label) || message``.
* ``aead_seal`` / ``aead_open``: XChaCha20-Poly1305-IETF, the one AEAD every sealed object
  uses (posts, metadata, attachments, keystore, local records); any failure to open is the
  one opaque :class:`~vault.crypto.errors.DecryptionError`.

``frame(label)`` is ``u8 len(label) || label``. Randomness and time are parameters
everywhere (``RandomSource`` / ``Clock``), defaulting to the real ones.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final

import nacl.bindings
import nacl.exceptions
import nacl.utils

from vault.crypto.errors import DecryptionError, SignatureError

RandomSource = Callable[[int], bytes]
"""Returns *n* uniformly random bytes. Default: :func:`nacl.utils.random`."""

Clock = Callable[[], int]
"""Returns the current time in milliseconds since the Unix epoch."""

KEY_SIZE = 32
HASH_SIZE = 32
SIGNATURE_SIZE = 64
PUBLIC_KEY_SIZE = 32
ZERO_HASH: Final = bytes(HASH_SIZE)
"""All zero: the group id and predecessor hash of a genesis entry, which has neither."""
AEAD_NONCE_SIZE: Final[int] = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
AEAD_TAG_SIZE: Final[int] = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_ABYTES
SEALED_BOX_OVERHEAD: Final[int] = nacl.bindings.crypto_box_SEALBYTES

default_random: RandomSource = nacl.utils.random
_blake2b = nacl.bindings.crypto_generichash_blake2b_salt_personal
_aead_encrypt = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt
_aead_decrypt = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt


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


def aead_seal(key: bytes, nonce: bytes, plaintext: bytes, associated_data: bytes) -> bytes:
    """``ciphertext || tag`` of *plaintext* under *key* (32 bytes) and *nonce* (24 bytes, drawn
    by the caller through :func:`draw`), authenticating *associated_data* too."""
    ciphertext: bytes = _aead_encrypt(plaintext, associated_data, nonce, key)
    return ciphertext


def aead_open(key: bytes, nonce: bytes, ciphertext: bytes, associated_data: bytes) -> bytes:
    """The plaintext of :func:`aead_seal`'s output, or :class:`DecryptionError` for every
    cause (wrong key, nonce or associated data, altered or truncated bytes): no oracle."""
    try:
        plaintext: bytes = _aead_decrypt(ciphertext, associated_data, nonce, key)
    except nacl.exceptions.CryptoError:  # PyNaCl's ValueError and TypeError included
        raise DecryptionError() from None
    return plaintext


def verify(public_key: bytes, label: bytes, message: bytes, signature: bytes, what: str) -> None:
    """Raise :class:`SignatureError` unless *signature* is valid; never returns data."""
    if len(signature) != SIGNATURE_SIZE or len(public_key) != PUBLIC_KEY_SIZE:
        raise SignatureError(f"{what}: signature does not verify")
    try:
        nacl.bindings.crypto_sign_open(signature + frame(label) + message, public_key)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError):
        raise SignatureError(f"{what}: signature does not verify") from None
