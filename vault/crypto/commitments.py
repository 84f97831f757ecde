"""Epoch-key commitments: how the membership log pins each epoch's key.

The log entry that starts an epoch carries ``epoch_commitment(group_id, epoch, key)``, so a
key that an admin or the relay made up is caught by every member (:mod:`vault.crypto.epochs`
checks a granted key against it).

``commitment = H("vault/v1/epoch-commitment", group_id || u64 epoch || key)``

Epoch 0's commitment sits inside the genesis entry, whose hash *is* the group id, so it binds
32 zero bytes in place of the group id; :func:`commitment_group_id` gives the value to bind
for any epoch. :func:`epoch_context` (``group_id || u64 epoch``) is also the context of the
epoch's subkeys.

A leaf below both the log (which puts commitments into entries) and the grants (which check
keys against them).
"""

from __future__ import annotations

import struct
from typing import Final

from vault.crypto import labels
from vault.crypto.encoding import U64_MAX
from vault.crypto.primitives import HASH_SIZE, KEY_SIZE, ZERO_HASH, labelled_hash

EPOCH_KEY_SIZE: Final = KEY_SIZE
COMMITMENT_SIZE: Final = HASH_SIZE

_U64 = struct.Struct(">Q")


def epoch_context(group_id: bytes, epoch: int) -> bytes:
    """``group_id || u64 epoch``: what a commitment and an epoch's subkeys are bound to."""
    if len(group_id) != HASH_SIZE:
        raise ValueError("group id must be 32 bytes")
    if not 0 <= epoch <= U64_MAX:
        raise ValueError("epoch out of range")
    return group_id + _U64.pack(epoch)


def commitment_group_id(group_id: bytes, epoch: int) -> bytes:
    """The group id an epoch commitment binds: zero bytes for epoch 0, else the group id."""
    return ZERO_HASH if epoch == 0 else group_id


def epoch_commitment(group_id: bytes, epoch: int, key: bytes) -> bytes:
    """``H("vault/v1/epoch-commitment", group_id || u64 epoch || key)``: goes into the log.

    Pass :func:`commitment_group_id` ``(group_id, epoch)`` as *group_id* (zero bytes for
    epoch 0, whose commitment sits in the genesis entry).
    """
    if len(key) != EPOCH_KEY_SIZE:
        raise ValueError("epoch key must be 32 bytes")
    return labelled_hash(labels.EPOCH_COMMITMENT, epoch_context(group_id, epoch) + key)
