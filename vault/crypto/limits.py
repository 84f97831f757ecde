"""The protocol's size bounds that more than one module (or the relay, or the local store)
uses, in one place (protocol §11, Limits). Bytes unless stated. A bound that belongs to one
construction alone stays beside it: the keystore's Argon2 bounds and file size
(``keystore``), the timeline's largest sequence jump (``timeline``), an invite's relay
address length (``invites``).

A leaf: it imports only the primitive sizes, so the relay, the SDK and every core module can
use it without pulling in any construction. Each bound names the protocol section it comes from.
"""

from __future__ import annotations

from typing import Final

from vault.crypto.primitives import (
    AEAD_NONCE_SIZE,
    AEAD_TAG_SIZE,
    HASH_SIZE,
    PUBLIC_KEY_SIZE,
    SEALED_BOX_OVERHEAD,
    SIGNATURE_SIZE,
)

KIB: Final = 1024
MIB: Final = 1024 * KIB

# --- padding (§1.3) -------------------------------------------------------------------------
MIN_BUCKET: Final = 256
"""Smallest padding bucket for posts and metadata (§1.3)."""
MAX_BUCKET: Final = 64 * KIB
"""Largest padding bucket for posts and metadata: the most a padded post plaintext is (§1.3)."""
MAX_PADDABLE: Final = MAX_BUCKET - 1
"""Most data :func:`~vault.crypto.padding.pad` takes: one byte goes to the marker (§1.3)."""

# --- membership log (§4) --------------------------------------------------------------------
MAX_LOG_ENTRY_SIZE: Final = 64 * KIB
"""Largest encoded log entry, signature included; also bounds the entry's body (§4.1)."""
MAX_METADATA_ENVELOPE_SIZE: Final = 16 * KIB
"""Largest MetadataEnvelope, which is the ciphertext a METADATA entry carries (§4.3, §7.2)."""
MAX_INVITE_USES: Final = 10_000
"""Most uses an invite may allow (§4.6)."""
MAX_FUTURE_SKEW_MS: Final = 5 * 60 * 1000
"""How far in the future a timestamp may be, in milliseconds (§4.7)."""

# --- epoch grants (§5) ----------------------------------------------------------------------
_GRANT_CONTENT_SIZE: Final = 2 + HASH_SIZE + 8 + 4 * 32 + SIGNATURE_SIZE
MAX_GRANT_SIZE: Final = 2 + HASH_SIZE + 8 + PUBLIC_KEY_SIZE + 4 + (
    _GRANT_CONTENT_SIZE + SEALED_BOX_OVERHEAD
)
"""An EpochGrant (fixed size, 360): header, group id, epoch, recipient, u32 length, sealed
GrantContent (§5.3-5.4). Equal to ``vault.crypto.epochs.EPOCH_GRANT_SIZE`` (tests check)."""

# --- posts (§6) -----------------------------------------------------------------------------
MAX_REFS: Final = 64
"""Most post ids a post references (§6.1)."""
MAX_TEXT: Final = 32 * KIB
"""Longest post text, in UTF-8 bytes (§6.1)."""
MAX_REACTION: Final = 64
"""Longest reaction text, in UTF-8 bytes (§6.1)."""
MAX_CONTENT_WARNING: Final = 512
"""Longest content warning, in UTF-8 bytes (§6.1)."""
MAX_ATTACHMENTS: Final = 16
"""Most attachments on one post (§6.1)."""
MAX_POLL_OPTIONS: Final = 10
"""Most options a poll offers (§6.1, POST-7); a poll has at least 2."""
MAX_POLL_OPTION: Final = 100
"""Longest poll option, in UTF-8 bytes (§6.1, POST-7)."""
_MAX_ENVELOPE_HEADER: Final = 2 + HASH_SIZE + 8 + 16 + 8 + HASH_SIZE + 1 + 8
MAX_ENVELOPE_SIZE: Final = (
    _MAX_ENVELOPE_HEADER + AEAD_NONCE_SIZE + 4 + MAX_BUCKET + AEAD_TAG_SIZE
)
"""Largest valid PostEnvelope (65,687): the 107-byte header with an expiry, the nonce, the u32
length and the largest bucket plus its tag (§6.3)."""

# --- attachments (§6.5) ---------------------------------------------------------------------
MIN_ATTACHMENT_BUCKET: Final = 256
"""Smallest attachment bucket (§6.5)."""
MAX_ATTACHMENT_BUCKET: Final = 10 * MIB
"""Largest attachment bucket: padded attachment data is at most this (§6.5)."""
MAX_ATTACHMENT_SIZE: Final = MAX_ATTACHMENT_BUCKET - 1
"""Most attachment data, before padding: one byte of the bucket is the marker (§6.5)."""
MAX_BLOB_SIZE: Final = MAX_ATTACHMENT_BUCKET + AEAD_NONCE_SIZE + AEAD_TAG_SIZE
"""Largest encrypted blob the relay stores: the largest bucket, nonce and tag (§6.5)."""
MAX_MEDIA_TYPE: Final = 127
"""Longest attachment media type, in characters (§6.5)."""
MAX_FILE_NAME: Final = 255
"""Longest attachment file name, in UTF-8 bytes (§6.5)."""

# --- group metadata (§7) --------------------------------------------------------------------
MAX_GROUP_NAME: Final = 128
"""Longest group name, in UTF-8 bytes after NFC (§7.1)."""
MAX_DESCRIPTION: Final = 4096
"""Longest group description, in UTF-8 bytes (§7.1)."""
MAX_RULES: Final = 8192
"""Longest group rules, in UTF-8 bytes (§7.1)."""
MAX_DISPLAY_NAME: Final = 64
"""Longest display name, in UTF-8 bytes after NFC (§7.1)."""
MAX_CHANNELS: Final = 32
"""Most channels a group lists besides its main one (§7.1)."""
MAX_CHANNEL_NAME: Final = 64
"""Longest channel name, in UTF-8 bytes after NFC (§7.1)."""

# --- invites and joining (§8) ---------------------------------------------------------------
MAX_URI_LENGTH: Final = 2048
"""Longest invite URI, in characters (§8.1)."""
MAX_JOIN_REQUEST_SIZE: Final = 2 + HASH_SIZE + 16 + (2 + 2 * PUBLIC_KEY_SIZE + SIGNATURE_SIZE) + (
    2 * SIGNATURE_SIZE + 8
)
"""A JoinRequest (fixed size, 316): header, group id, invite id, the joiner's PublicIdentity,
proof, timestamp and signature (§8.5). Equal to ``JoinRequest.ENCODED_SIZE`` (tests check)."""

# --- on the device (§3) ---------------------------------------------------------------------
MAX_KEYSTORE_NAME_BYTES: Final = 255
"""Longest keystore entry name, in UTF-8 bytes (§3.2)."""
MAX_KEYSTORE_SECRET_BYTES: Final = 64 * KIB
"""Largest secret one keystore entry holds (§3.2)."""
MAX_KEYSTORE_ENTRIES: Final = 10_000
"""Most entries one keystore holds (§3.2)."""
MAX_KEYSTORE_CONTENTS_BYTES: Final = 16 * MIB
"""Largest KeystoreContents encoding, the keystore's plaintext (§3.2)."""
MAX_RECORD_KIND: Final = 64
"""Longest local record kind, in UTF-8 bytes (§3.4)."""
MAX_RECORD_ID: Final = 256
"""Longest local record id (§3.4)."""
MAX_RECORD_SIZE: Final = 16 * MIB
"""Largest local record plaintext (§3.4)."""

MAX_STORED_ENVELOPE_FIELD: Final = 70 * 1024
"""Bound on a StoredPost's ``envelope`` field (§3.4, tag 0x11): headroom over
MAX_ENVELOPE_SIZE, so only a damaged length stops here; the nested decoder is exact."""
MAX_STORED_BODY_FIELD: Final = 64 * 1024
"""Bound on a StoredPost's ``body`` field (§3.4); a PostBody is at most 42,125 bytes (§6.2)."""
MAX_PENDING_REQUEST_FIELD: Final = 4096
"""Bound on a PendingJoin's ``request`` field (§3.4); a JoinRequest is MAX_JOIN_REQUEST_SIZE."""

# The relay's request bounds (vault/api/schemas.py) are the exact maxima above. A local
# record's nested fields keep the wider bounds just above, as the spec's §3.4 table states;
# no valid object is larger than the exact maxima, and an invalid one between the two
# bounds is refused either way, by the nested decoder.
