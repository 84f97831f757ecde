"""Invites: the QR-code URI, the invite key pair, join proofs and join requests.

URI (at most 2,048 characters)::

    <relay_url>/join#v1.<b64 group_id>.<b64 invite_id>.<b64 secret>

``b64`` is unpadded base64url (43, 22 and 43 characters). Everything secret is in the
fragment, which browsers and HTTP clients never send, so no server log sees it.
``relay_url`` is ``https://host[:port][/path]``; plain ``http`` only for loopback hosts
(``localhost``, 127.0.0.0/8, ``::1``). No user name or password, query or fragment.
It is normalised: scheme and host lower case, default port dropped, no trailing slash.

Keys: ``seed = derive_key(secret, "vault/v1/invite-key")``, then the Ed25519 key pair of
that seed. The log records only the public key. A join proof is the invite key's
signature (label ``vault/v1/join-proof``) over ``group_id[32] || invite_id[16] ||
joiner identity (130 bytes, with its header)``, binding the joiner's keys to the secret
(the message is defined once, by :func:`vault.crypto.log.join_proof_message`).

JoinRequest (``Tag.JOIN_REQUEST``), 316 bytes::

    tag || version || group_id[32] || invite_id[16] || joiner identity (130)
    || proof[64] || requested_at_ms u64 || signature[64]

``signature`` is the joiner's (label ``vault/v1/join-request``) over all bytes before it.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import ClassVar, Final

import nacl.bindings

from vault.crypto import labels
from vault.crypto.encoding import PROTOCOL_VERSION, Reader, Tag, Writer, b64decode, b64encode
from vault.crypto.errors import InviteUriError, MalformedError
from vault.crypto.identity import Identity, PublicIdentity
from vault.crypto.limits import MAX_URI_LENGTH
from vault.crypto.log import join_proof_message
from vault.crypto.log_entries import GROUP_ID_SIZE, INVITE_ID_SIZE
from vault.crypto.primitives import (
    SIGNATURE_SIZE,
    RandomSource,
    default_clock,
    default_random,
    derive_key,
    draw,
    sign,
)
from vault.crypto.primitives import verify as verify_signature

__all__ = [
    "SECRET_SIZE",
    "TRIMMED",
    "InviteLink",
    "JoinRequest",
    "invite_keypair",
    "join_proof",
    "make_join_request",
    "new_invite",
    "normalize_relay_url",
    "parse_invite_uri",
    "verify_join_proof",
]

SECRET_SIZE: Final = 32
URI_VERSION: Final = "v1"
_FRAGMENT_CHARS: Final = (43, 22, 43)  # b64 lengths of group id, invite id, secret
_SUFFIX_LENGTH: Final = len("/join#") + len(URI_VERSION) + sum(n + 1 for n in _FRAGMENT_CHARS)
MAX_RELAY_URL_LENGTH: Final = MAX_URI_LENGTH - _SUFFIX_LENGTH

NOT_AN_INVITE: Final = (
    "This is not a Vault invite. Scan the QR code shown in Vault, or ask for a new invite."
)
INCOMPLETE: Final = "This invite link is incomplete — ask for a new one, or copy the whole link."
DAMAGED: Final = "This invite link is damaged — ask for a new one."
NEWER: Final = "This invite was made by a newer version of Vault — update Vault, then try again."
TOO_LONG: Final = "This is too long to be a Vault invite."
INSECURE: Final = (
    "This invite points to a server without a secure (https) connection, "
    "so Vault will not use it — ask for a new invite."
)
USERINFO: Final = (
    "This invite's server address contains a user name or password, which Vault "
    "does not accept — ask for a new invite."
)
BAD_SERVER: Final = "The server address in this invite is not valid — ask for a new invite."

_URI = re.compile(
    r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<authority>[^/?#]*)(?P<path>[^?#]*)"
    r"(?:\?(?P<query>[^#]*))?(?:#(?P<fragment>.*))?",
    re.DOTALL,
)
_IPV6_AUTHORITY = re.compile(r"\[(?P<host>[0-9A-Fa-f:.]+)\](?::(?P<port>[0-9]{1,5}))?")
_NAME_AUTHORITY = re.compile(r"(?P<host>[A-Za-z0-9.-]+)(?::(?P<port>[0-9]{1,5}))?")
_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
_NUMERIC_LABEL = re.compile(r"[0-9]+|0x[0-9a-f]*")
_SEGMENT = re.compile(r"(?:[A-Za-z0-9._~!$&'()*+,;=:@-]|%[0-9A-Fa-f]{2})+")
_NEWER_VERSION = re.compile(r"v[1-9][0-9]{0,8}")
_DEFAULT_PORTS: Final = {"https": 443, "http": 80}
TRIMMED: Final = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
    "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
)
"""The characters trimmed from both ends of scanned or pasted text (protocol §8.2): Unicode's
White_Space (U+0009-U+000D, U+0020, U+0085, U+00A0, U+1680, U+2000-U+200A, U+2028, U+2029,
U+202F, U+205F, U+3000) and U+FEFF. Not ``str.strip()``, which also trims U+001C-U+001F and
keeps U+FEFF, nor JavaScript's ``trim()``, which keeps U+0085."""
_LOOPBACK_V4: Final = ipaddress.IPv4Network("127.0.0.0/8")


def _authority(authority: str) -> tuple[str, bool, str | None]:
    """Canonical host text, whether it is a loopback host, and the port text if any."""
    if "@" in authority:
        raise InviteUriError(USERINFO)
    bracketed = _IPV6_AUTHORITY.fullmatch(authority)
    if bracketed is not None:
        try:
            v6 = ipaddress.IPv6Address(bracketed["host"])
        except ValueError:
            raise InviteUriError(BAD_SERVER) from None
        return f"[{v6.compressed}]", v6 == ipaddress.IPv6Address("::1"), bracketed["port"]
    named = _NAME_AUTHORITY.fullmatch(authority)
    if named is None or len(named["host"]) > 253:
        raise InviteUriError(BAD_SERVER)
    host = named["host"].lower()
    names = host.split(".")
    if _NUMERIC_LABEL.fullmatch(names[-1]):  # looks like an IPv4 address: must be one
        try:
            v4 = ipaddress.IPv4Address(host)
        except ValueError:
            raise InviteUriError(BAD_SERVER) from None
        return str(v4), v4 in _LOOPBACK_V4, named["port"]
    if not all(_LABEL.fullmatch(name) for name in names):
        raise InviteUriError(BAD_SERVER)
    return host, host == "localhost", named["port"]


def _path_ok(path: str) -> bool:
    return all(_SEGMENT.fullmatch(s) and s not in (".", "..") for s in path[1:].split("/"))


def normalize_relay_url(url: str) -> str:
    """Check a relay address and return its canonical form (raises :class:`InviteUriError`)."""
    if not isinstance(url, str):
        raise InviteUriError(BAD_SERVER)
    if len(url) > MAX_RELAY_URL_LENGTH:
        raise InviteUriError(TOO_LONG)
    if not all("!" <= ch <= "~" for ch in url):  # printable ASCII, no spaces
        raise InviteUriError(BAD_SERVER)
    match = _URI.fullmatch(url)
    if match is None:
        raise InviteUriError(BAD_SERVER)
    scheme = match["scheme"].lower()
    if scheme not in _DEFAULT_PORTS:
        raise InviteUriError(BAD_SERVER)
    if match["query"] is not None or match["fragment"] is not None:
        raise InviteUriError(BAD_SERVER)
    host, loopback, port_text = _authority(match["authority"])
    if scheme == "http" and not loopback:
        raise InviteUriError(INSECURE)
    port = int(port_text) if port_text is not None else _DEFAULT_PORTS[scheme]
    if not 0 < port <= 0xFFFF:
        raise InviteUriError(BAD_SERVER)
    netloc = host if port == _DEFAULT_PORTS[scheme] else f"{host}:{port}"
    path = match["path"].removesuffix("/")
    if path and not _path_ok(path):
        raise InviteUriError(BAD_SERVER)
    return f"{scheme}://{netloc}{path}"


@dataclass(frozen=True, repr=False)
class InviteLink:
    """What a QR code carries. ``relay_url`` is normalised on construction; ``repr``
    never shows the secret."""

    relay_url: str
    group_id: bytes
    invite_id: bytes
    secret: bytes = field(repr=False)

    def __post_init__(self) -> None:
        for name, size in (
            ("group_id", GROUP_ID_SIZE),
            ("invite_id", INVITE_ID_SIZE),
            ("secret", SECRET_SIZE),
        ):
            value = getattr(self, name)
            if not isinstance(value, bytes) or len(value) != size:
                raise ValueError(f"InviteLink.{name} must be {size} bytes")
        object.__setattr__(self, "relay_url", normalize_relay_url(self.relay_url))

    def to_uri(self) -> str:
        fields = (self.group_id, self.invite_id, self.secret)
        fragment = ".".join((URI_VERSION, *(b64encode(value) for value in fields)))
        return f"{self.relay_url}/join#{fragment}"

    def __repr__(self) -> str:
        return (
            f"InviteLink(relay_url={self.relay_url!r}, group_id={b64encode(self.group_id)!r}, "
            f"invite_id={b64encode(self.invite_id)!r}, secret=<hidden>)"
        )


def parse_invite_uri(text: str) -> InviteLink:
    """Parse scanned or pasted text. Every problem is an :class:`InviteUriError` whose
    message a person can act on; no message ever repeats any part of the text."""
    if not isinstance(text, str):
        raise InviteUriError(NOT_AN_INVITE)
    text = text.strip(TRIMMED)
    if not text:
        raise InviteUriError(NOT_AN_INVITE)
    if len(text) > MAX_URI_LENGTH:
        raise InviteUriError(TOO_LONG)
    match = _URI.fullmatch(text)
    if match is None or match["scheme"].lower() not in _DEFAULT_PORTS:
        raise InviteUriError(NOT_AN_INVITE)
    if not match["path"].endswith("/join"):
        raise InviteUriError(NOT_AN_INVITE)
    fragment = match["fragment"]
    if not fragment:
        raise InviteUriError(INCOMPLETE)
    fields = fragment.split(".")
    if fields[0] != URI_VERSION:
        raise InviteUriError(NEWER if _NEWER_VERSION.fullmatch(fields[0]) else DAMAGED)
    if match["query"] is not None:
        raise InviteUriError(DAMAGED)
    relay_part = text[: match.end("path") - len("/join")]
    if relay_part.endswith("/"):  # "//join": never in an invite Vault made
        raise InviteUriError(BAD_SERVER)
    relay_url = normalize_relay_url(relay_part)
    if len(fields) < 4:
        raise InviteUriError(INCOMPLETE)
    if len(fields) > 4:
        raise InviteUriError(DAMAGED)
    values = []
    for value, chars in zip(fields[1:], _FRAGMENT_CHARS, strict=True):
        if len(value) < chars:
            raise InviteUriError(INCOMPLETE)
        if len(value) > chars:
            raise InviteUriError(DAMAGED)
        try:
            values.append(b64decode(value, "invite"))
        except MalformedError:
            raise InviteUriError(DAMAGED) from None
    return InviteLink(relay_url, values[0], values[1], values[2])


def new_invite(random: RandomSource = default_random) -> tuple[bytes, bytes]:
    """A fresh ``(invite_id, secret)``: draws ``random(16)`` then ``random(32)``."""
    return draw(random, INVITE_ID_SIZE), draw(random, SECRET_SIZE)


def invite_keypair(secret: bytes) -> tuple[bytes, bytes]:
    """``(sk64, pk32)`` of the invite key; the log records only ``pk32``."""
    if len(secret) != SECRET_SIZE:
        raise ValueError("an invite secret is 32 bytes")
    pk, sk = nacl.bindings.crypto_sign_seed_keypair(derive_key(secret, labels.INVITE_KEY))
    return bytes(sk), bytes(pk)


def join_proof(secret: bytes, group_id: bytes, invite_id: bytes, joiner: PublicIdentity) -> bytes:
    """The invite key's signature binding *joiner*'s keys to this invite."""
    sk, _pk = invite_keypair(secret)
    return sign(sk, labels.JOIN_PROOF, join_proof_message(group_id, invite_id, joiner))


def verify_join_proof(
    invite_pk: bytes, group_id: bytes, invite_id: bytes, joiner: PublicIdentity, proof: bytes
) -> None:
    """Raise :class:`SignatureError` unless *proof* shows the joiner holds the invite secret."""
    verify_signature(
        invite_pk,
        labels.JOIN_PROOF,
        join_proof_message(group_id, invite_id, joiner),
        proof,
        "join proof (the joiner may not hold this invite's secret)",
    )


@dataclass(frozen=True)
class JoinRequest:
    """A joiner's signed request to be admitted through an invite (see module docs)."""

    group_id: bytes
    invite_id: bytes
    joiner: PublicIdentity
    proof: bytes
    requested_at_ms: int
    signature: bytes
    raw: bytes = field(repr=False)

    ENCODED_SIZE: ClassVar[int] = (
        2 + GROUP_ID_SIZE + INVITE_ID_SIZE + PublicIdentity.ENCODED_SIZE + 2 * SIGNATURE_SIZE + 8
    )

    def encode(self) -> bytes:
        return self.raw

    @classmethod
    def decode(cls, data: bytes) -> JoinRequest:
        """Decode and check the joiner's identity binding and signature (not the proof).

        Order (protocol §1.1): the structure, the joiner's header included (``malformed``),
        then the joiner's binding, then the request's signature (``bad_signature``).
        """
        reader = Reader(data, "join request", Tag.JOIN_REQUEST)
        group_id = reader.fixed(GROUP_ID_SIZE, "group id")
        invite_id = reader.fixed(INVITE_ID_SIZE, "invite id")
        if reader.fixed(2, "joiner") != bytes((Tag.PUBLIC_IDENTITY, PROTOCOL_VERSION)):
            raise MalformedError("join request: the joiner is not a version-1 public identity")
        joiner = PublicIdentity.read_unchecked(reader)
        proof = reader.fixed(SIGNATURE_SIZE, "join proof")
        requested_at_ms = reader.u64("request time")
        signed = reader.consumed()
        signature = reader.fixed(SIGNATURE_SIZE, "signature")
        reader.done()
        joiner.check_binding()
        verify_signature(joiner.sign_pk, labels.JOIN_REQUEST, signed, signature, "join request")
        raw = reader.consumed()
        return cls(group_id, invite_id, joiner, proof, requested_at_ms, signature, raw)

    def verify(self, invite_pk: bytes) -> None:
        """Raise :class:`SignatureError` unless the proof verifies under *invite_pk*."""
        verify_join_proof(invite_pk, self.group_id, self.invite_id, self.joiner, self.proof)


def make_join_request(
    joiner: Identity, link: InviteLink, *, now_ms: int | None = None
) -> JoinRequest:
    """Prove possession of *link*'s secret and bind *joiner*'s keys to it, signed by *joiner*."""
    public = joiner.public
    proof = join_proof(link.secret, link.group_id, link.invite_id, public)
    requested_at_ms = default_clock() if now_ms is None else now_ms
    signed = (
        Writer(Tag.JOIN_REQUEST)
        .fixed(link.group_id, GROUP_ID_SIZE)
        .fixed(link.invite_id, INVITE_ID_SIZE)
        .raw(public.encode())
        .fixed(proof, SIGNATURE_SIZE)
        .u64(requested_at_ms)
        .finish()
    )
    signature = joiner.sign(labels.JOIN_REQUEST, signed)
    return JoinRequest(
        link.group_id, link.invite_id, public, proof, requested_at_ms, signature, signed + signature
    )
