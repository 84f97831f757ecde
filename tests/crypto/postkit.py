"""Helpers for post, timeline and grant tests: a small real group and post builders."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from typing import Any

import nacl.bindings

from tests.crypto.logfactory import T0, LogFactory, seeded_random
from vault.crypto import labels
from vault.crypto.epochs import post_key
from vault.crypto.group_state import GroupState
from vault.crypto.identity import Identity
from vault.crypto.log_entries import Role
from vault.crypto.padding import pad
from vault.crypto.post_body import PostBody, PostKind
from vault.crypto.posts import OpenedPost, PostEnvelope, open_post, seal_post
from vault.crypto.primitives import sign


@dataclass
class Group:
    """A factory group with an owner, a moderator, two members and one outsider."""

    f: LogFactory = field(default_factory=lambda: LogFactory("posts"))

    def __post_init__(self) -> None:
        self.owner = self.f.owner
        self.alice = self.f.add_member()
        self.bob = self.f.add_member()
        self.mod = self.f.add_member(Role.MODERATOR)
        self.outsider = self.f.identity()
        self.random = seeded_random("post-ids")
        self._seqs: dict[bytes, itertools.count[int]] = {}
        self._clock = itertools.count(T0 + 10_000_000, 1000)

    @property
    def state(self) -> GroupState:
        return self.f.state

    @property
    def key(self) -> bytes:
        return self.f.epoch_keys[self.state.epoch]

    def body(self, author: Identity, kind: PostKind = PostKind.POST, **changes: Any) -> PostBody:
        state = changes.pop("state", self.state)
        seq = changes.pop("author_seq", None)
        if seq is None:
            seq = next(self._seqs.setdefault(author.sign_pk, itertools.count(1)))
        fields: dict[str, Any] = {
            "author": author.sign_pk,
            "group_id": state.group_id,
            "epoch": state.epoch,
            "post_id": self.random(16),
            "author_seq": seq,
            "log_seq": state.seq,
            "log_head": state.head,
            "timestamp_ms": next(self._clock),
            "kind": kind,
            "text": "hello",
        }
        fields.update(changes)
        return PostBody(**fields)

    def seal(self, author: Identity, body: PostBody, key: bytes | None = None) -> PostEnvelope:
        return seal_post(author, self.key if key is None else key, body, random=self.random)

    def post(self, author: Identity, kind: PostKind = PostKind.POST, **changes: Any) -> OpenedPost:
        """Write, seal and open one post (every check passes)."""
        env = self.seal(author, self.body(author, kind, **changes))
        return open_post(env, self.key, self.state)


def craft(
    signer: Identity,
    body_bytes: bytes,
    epoch_key: bytes,
    *,
    group_id: bytes,
    epoch: int,
    post_id: bytes,
    log_seq: int,
    log_head: bytes,
    expires_at_ms: int | None = None,
    nonce: bytes = b"\x07" * 24,
    plaintext: bytes | None = None,
) -> PostEnvelope:
    """An envelope with any header and any signed body bytes: what a malicious member
    holding the epoch key could upload."""
    if plaintext is None:
        plaintext = pad(body_bytes + sign(signer.sign_sk, labels.POST_SIGNATURE, body_bytes))
    shell = PostEnvelope(group_id, epoch, post_id, log_seq, log_head, expires_at_ms, nonce, b"")
    ciphertext = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
        plaintext, shell.header, nonce, post_key(epoch_key, group_id, epoch)
    )
    return replace(shell, ciphertext=ciphertext)


def craft_from(signer: Identity, body: PostBody, epoch_key: bytes, **header: Any) -> PostEnvelope:
    """Like :func:`craft`, header defaulting to the body's fields."""
    fields: dict[str, Any] = {
        "group_id": body.group_id, "epoch": body.epoch, "post_id": body.post_id,
        "log_seq": body.log_seq, "log_head": body.log_head, "expires_at_ms": body.expires_at_ms,
    }
    fields.update(header)
    body_bytes = fields.pop("body_bytes", body.encode())
    return craft(signer, body_bytes, epoch_key, **fields)
