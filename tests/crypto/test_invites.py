"""Invites: QR-code URIs, invite keys, join proofs and join requests."""

from __future__ import annotations

import contextlib
import time

import nacl.bindings
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from vault.crypto import invites, labels
from vault.crypto.encoding import Tag, b64encode
from vault.crypto.errors import InviteUriError, MalformedError, SignatureError, VaultError
from vault.crypto.identity import Identity, PublicIdentity
from vault.crypto.invites import (
    InviteLink,
    JoinRequest,
    invite_keypair,
    join_proof,
    make_join_request,
    new_invite,
    normalize_relay_url,
    parse_invite_uri,
    verify_join_proof,
)
from vault.crypto.limits import MAX_URI_LENGTH
from vault.crypto.log import join_proof_message
from vault.crypto.log import join_proof_message as log_join_proof_message
from vault.crypto.primitives import derive_key, verify

GROUP = bytes(range(32))
INVITE = bytes(range(100, 116))
SECRET = bytes(range(200, 232))
LINK = InviteLink("https://relay.example", GROUP, INVITE, SECRET)
G, N, S = b64encode(GROUP), b64encode(INVITE), b64encode(SECRET)  # N: the invite id
FRAGMENT = f"v1.{G}.{N}.{S}"
URI = f"https://relay.example/join#{FRAGMENT}"


def pinned(seed: int) -> Identity:
    return Identity(bytes([seed]) * 32, bytes([seed + 1]) * 32)


# --- URIs ------------------------------------------------------------------------------


def test_uri_layout() -> None:
    assert LINK.to_uri() == URI
    assert URI == (
        "https://relay.example/join#v1.AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"
        ".ZGVmZ2hpamtsbW5vcHFycw.yMnKy8zNzs_Q0dLT1NXW19jZ2tvc3d7f4OHi4-Tl5uc"
    )
    assert parse_invite_uri(URI) == LINK
    assert parse_invite_uri(f"  \n{URI}\t ") == LINK


def test_repr_hides_the_secret() -> None:
    shown = repr(LINK) + str(LINK)
    for form in (S, SECRET.hex(), repr(SECRET)):
        assert form not in shown
    assert "hidden" in shown and G in shown


@pytest.mark.parametrize(
    ("given_url", "normal"),
    [
        ("https://relay.example/", "https://relay.example"),
        ("HTTPS://Relay.EXAMPLE:443", "https://relay.example"),
        ("https://relay.example:8443/vault/", "https://relay.example:8443/vault"),
        ("https://relay.example:08443/a/b", "https://relay.example:8443/a/b"),
        ("https://relay.example/a%20b/c~d", "https://relay.example/a%20b/c~d"),
        ("http://localhost:8080", "http://localhost:8080"),
        ("http://LOCALHOST:80/", "http://localhost"),
        ("http://127.0.0.1:5000", "http://127.0.0.1:5000"),
        ("http://127.255.1.2", "http://127.255.1.2"),
        ("http://[::1]:5000", "http://[::1]:5000"),
        ("http://[0:0:0:0:0:0:0:1]", "http://[::1]"),
        ("https://[2001:DB8::1]", "https://[2001:db8::1]"),
        ("https://203.0.113.7", "https://203.0.113.7"),
        ("https://xn--bcher-kva.example", "https://xn--bcher-kva.example"),
    ],
)
def test_relay_url_normalisation(given_url: str, normal: str) -> None:
    assert normalize_relay_url(given_url) == normal
    link = InviteLink(given_url, GROUP, INVITE, SECRET)
    assert link.relay_url == normal
    assert parse_invite_uri(link.to_uri()) == link
    assert parse_invite_uri(f"{given_url.removesuffix('/')}/join#{FRAGMENT}") == link


NOT_INVITE = invites.NOT_AN_INVITE
BAD_CASES = [
    # not an invite at all
    ("", NOT_INVITE),
    ("   ", NOT_INVITE),
    ("hello", NOT_INVITE),
    ("WIFI:S:home;T:WPA;P:secret;;", NOT_INVITE),
    (f"ftp://relay.example/join#{FRAGMENT}", NOT_INVITE),
    (f"vault://relay.example/join#{FRAGMENT}", NOT_INVITE),
    (f"relay.example/join#{FRAGMENT}", NOT_INVITE),
    (f"https:relay.example/join#{FRAGMENT}", NOT_INVITE),
    (f"https://relay.example/#{FRAGMENT}", NOT_INVITE),
    (f"https://relay.example/joinus#{FRAGMENT}", NOT_INVITE),
    (f"https://relay.example/join/#{FRAGMENT}", NOT_INVITE),
    (f"https://relay.example#{FRAGMENT}", NOT_INVITE),
    ("https://relay.example/", NOT_INVITE),
    # incomplete
    ("https://relay.example/join", invites.INCOMPLETE),
    ("https://relay.example/join#", invites.INCOMPLETE),
    (f"https://relay.example/join#v1.{G}", invites.INCOMPLETE),
    (f"https://relay.example/join#v1.{G}.{N}", invites.INCOMPLETE),
    (f"https://relay.example/join#v1.{G}.{N}.", invites.INCOMPLETE),
    (f"https://relay.example/join#v1.{G}.{N}.{S[:-1]}", invites.INCOMPLETE),
    (f"https://relay.example/join#v1.{G}.{N}.{S[:20]}", invites.INCOMPLETE),
    (f"https://relay.example/join#v1.{G[:-2]}.{N}.{S}", invites.INCOMPLETE),
    # newer version
    (f"https://relay.example/join#v2.{G}.{N}.{S}", invites.NEWER),
    ("https://relay.example/join#v7.anything-at-all", invites.NEWER),
    (f"https://relay.example/join#v10.{G}.{N}.{S}", invites.NEWER),
    # damaged
    (f"https://relay.example/join#v0.{G}.{N}.{S}", invites.DAMAGED),
    (f"https://relay.example/join#v01.{G}.{N}.{S}", invites.DAMAGED),
    (f"https://relay.example/join#V1.{G}.{N}.{S}", invites.DAMAGED),
    (f"https://relay.example/join#{G}.{N}.{S}", invites.DAMAGED),
    (f"https://relay.example/join#v1.{G}.{N}.{S}.extra", invites.DAMAGED),
    (f"https://relay.example/join#v1.{G}.{N}.{S}.", invites.DAMAGED),
    (f"https://relay.example/join#v1.{G}.{N}.{S}A", invites.DAMAGED),
    (f"https://relay.example/join#v1.{G}.{N}.{S[:-1]}=", invites.DAMAGED),
    (f"https://relay.example/join#v1.{G}.{N}.{S[:-1]}+", invites.DAMAGED),
    (f"https://relay.example/join#v1.{G}.{N}.{S[:-1]}/", invites.DAMAGED),
    (f"https://relay.example/join#v1.{G}.{N}.{S[:-1]}\u00e9", invites.DAMAGED),
    (f"https://relay.example/join#v1.{G[:-1]}B.{N}.{S}", invites.DAMAGED),  # non-canonical
    (f"https://relay.example/join#v1.{G}.{N}{N[0]}.{S}", invites.DAMAGED),
    (f"https://relay.example/join?ref=chat#{FRAGMENT}", invites.DAMAGED),
    (f"https://relay.example/join?#{FRAGMENT}", invites.DAMAGED),
    (f"https://relay.example/join#{FRAGMENT}#more", invites.DAMAGED),
    (f"https://relay.example/join#{FRAGMENT} trailing words", invites.DAMAGED),
    # plain http away from loopback
    (f"http://relay.example/join#{FRAGMENT}", invites.INSECURE),
    (f"http://10.0.0.1/join#{FRAGMENT}", invites.INSECURE),
    (f"http://[::2]/join#{FRAGMENT}", invites.INSECURE),
    (f"http://[::ffff:127.0.0.1]/join#{FRAGMENT}", invites.INSECURE),
    (f"http://localhost.evil.example/join#{FRAGMENT}", invites.INSECURE),
    (f"http://127.0.0.1.evil.example/join#{FRAGMENT}", invites.INSECURE),
    (f"https://relay.example//join#{FRAGMENT}", invites.BAD_SERVER),
    # user names and passwords
    (f"https://relay.example@evil.example/join#{FRAGMENT}", invites.USERINFO),
    (f"https://user:pass@relay.example/join#{FRAGMENT}", invites.USERINFO),
    (f"http://localhost@evil.example/join#{FRAGMENT}", invites.USERINFO),
    # bad server addresses
    (f"https:///join#{FRAGMENT}", invites.BAD_SERVER),
    (f"https://relay.example:/join#{FRAGMENT}", invites.BAD_SERVER),
    (f"https://relay.example:0/join#{FRAGMENT}", invites.BAD_SERVER),
    (f"https://relay.example:65536/join#{FRAGMENT}", invites.BAD_SERVER),
    (f"https://relay.example:123456/join#{FRAGMENT}", invites.BAD_SERVER),
    (f"https://relay.example:https/join#{FRAGMENT}", invites.BAD_SERVER),
    (f"https://relay..example/join#{FRAGMENT}", invites.BAD_SERVER),
    (f"https://relay.example./join#{FRAGMENT}", invites.BAD_SERVER),
    (f"https://-relay.example/join#{FRAGMENT}", invites.BAD_SERVER),
    (f"https://relay_1.example/join#{FRAGMENT}", invites.BAD_SERVER),
    (f"https://rélay.example/join#{FRAGMENT}", invites.BAD_SERVER),
    (f"https://{'a' * 64}.example/join#{FRAGMENT}", invites.BAD_SERVER),
    (f"https://{'a.' * 127}a/join#{FRAGMENT}", invites.BAD_SERVER),
    (f"https://1.2.3/join#{FRAGMENT}", invites.BAD_SERVER),
    (f"https://256.1.1.1/join#{FRAGMENT}", invites.BAD_SERVER),
    (f"https://0x7f.1/join#{FRAGMENT}", invites.BAD_SERVER),
    (f"http://2130706433/join#{FRAGMENT}", invites.BAD_SERVER),
    (f"http://127.000.0.1/join#{FRAGMENT}", invites.BAD_SERVER),
    (f"https://[::1/join#{FRAGMENT}", invites.BAD_SERVER),
    (f"https://[fe80::1%25eth0]/join#{FRAGMENT}", invites.BAD_SERVER),
    (f"https://[zz::1]/join#{FRAGMENT}", invites.BAD_SERVER),
    (f"https://relay.example/a//join#{FRAGMENT}", invites.BAD_SERVER),
    (f"https://relay.example/../join#{FRAGMENT}", invites.BAD_SERVER),
    (f"https://relay.example/./join#{FRAGMENT}", invites.BAD_SERVER),
    (f"https://relay.example/a%2/join#{FRAGMENT}", invites.BAD_SERVER),
    (f"https://relay.example/a b/join#{FRAGMENT}", invites.BAD_SERVER),
    (f"https://relay.example/a\\b/join#{FRAGMENT}", invites.BAD_SERVER),
    (f"https://relay.example/\u00e9/join#{FRAGMENT}", invites.BAD_SERVER),
    (f"https://relay.exa mple/join#{FRAGMENT}", invites.BAD_SERVER),
    # too long
    (f"https://relay.example/{'a/' * 1000}join#{FRAGMENT}", invites.TOO_LONG),
    ("x" * (MAX_URI_LENGTH + 1), invites.TOO_LONG),
]


@pytest.mark.parametrize(("text", "message"), BAD_CASES)
def test_malformed_uris(text: str, message: str) -> None:
    with pytest.raises(InviteUriError) as info:
        parse_invite_uri(text)
    assert info.value.message == message
    shown = str(info.value) + repr(info.value)
    assert S not in shown and S[:10] not in shown and "relay.example" not in shown


def test_non_text_is_not_an_invite() -> None:
    for junk in (None, b"https://relay.example/join", 42):
        with pytest.raises(InviteUriError, match="not a Vault invite"):
            parse_invite_uri(junk)  # type: ignore[arg-type]


def test_longest_relay_url_fits_the_limit() -> None:
    prefix = "https://relay.example/"
    room = invites.MAX_RELAY_URL_LENGTH - len(prefix)
    longest = prefix + "p" * room
    uri = InviteLink(longest, GROUP, INVITE, SECRET).to_uri()
    assert len(uri) == MAX_URI_LENGTH
    assert parse_invite_uri(uri).relay_url == longest
    with pytest.raises(InviteUriError, match="too long"):
        InviteLink(longest + "p", GROUP, INVITE, SECRET)
    with pytest.raises(InviteUriError, match="too long"):
        parse_invite_uri(uri.replace("/join", "p/join"))


def test_link_construction_rules() -> None:
    for bad in (
        (GROUP[:-1], INVITE, SECRET),
        (GROUP, INVITE + b"x", SECRET),
        (GROUP, INVITE, SECRET[:16]),
        (GROUP, INVITE, "secret"),
    ):
        with pytest.raises(ValueError):
            InviteLink("https://relay.example", *bad)
    for url in ("http://relay.example", "https://relay.example?x=1", "https://r.example#f", ""):
        with pytest.raises(InviteUriError):
            InviteLink(url, GROUP, INVITE, SECRET)
    with pytest.raises(InviteUriError):
        normalize_relay_url(None)  # type: ignore[arg-type]


hosts = st.one_of(
    st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?(\.[a-z]{2,8}){1,3}", fullmatch=True),
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(lambda a: f"[{a}]"),
)
paths = st.lists(st.from_regex(r"[A-Za-z0-9._~-]{1,12}", fullmatch=True), max_size=3).map(
    lambda segments: "".join("/" + s for s in segments if s not in (".", ".."))
)


@given(
    hosts,
    st.one_of(st.none(), st.integers(1, 65535)),
    paths,
    st.binary(min_size=32, max_size=32),
    st.binary(min_size=16, max_size=16),
    st.binary(min_size=32, max_size=32),
)
def test_uri_round_trip(
    host: str, port: int | None, path: str, group: bytes, invite: bytes, secret: bytes
) -> None:
    try:
        url = f"https://{host}{'' if port is None else f':{port}'}{path}"
        link = InviteLink(url, group, invite, secret)
    except InviteUriError:
        assume(False)  # e.g. a generated name whose last label is all digits
        raise
    uri = link.to_uri()
    assert len(uri) <= MAX_URI_LENGTH
    assert parse_invite_uri(uri) == link
    assert InviteLink(link.relay_url, group, invite, secret) == link  # normal form is stable


@settings(max_examples=500)
@given(st.text(max_size=300))
def test_junk_raises_only_invite_uri_errors(text: str) -> None:
    with contextlib.suppress(InviteUriError):
        parse_invite_uri(text)


@settings(max_examples=500)
@given(st.text(alphabet="htps:/[]@.#v1?%0-9aAZz_-~\u00e9 ", max_size=200))
def test_uri_shaped_junk_raises_only_invite_uri_errors(text: str) -> None:
    for candidate in (text, "https://" + text, f"https://relay.example/join#{text}"):
        with contextlib.suppress(InviteUriError):
            parse_invite_uri(candidate)


@settings(max_examples=500)
@given(st.integers(0, len(URI)), st.integers(0, 3), st.text(max_size=3))
def test_edited_uris_parse_or_raise_invite_uri_errors(position: int, cut: int, insert: str) -> None:
    edited = URI[:position] + insert + URI[position + cut :]
    try:
        link = parse_invite_uri(edited)
    except InviteUriError as exc:
        assert S not in str(exc)
    else:
        assert parse_invite_uri(link.to_uri()) == link


# --- keys and proofs ---------------------------------------------------------------------


def test_new_invite_draws_id_then_secret() -> None:
    draws: list[int] = []

    def rnd(n: int) -> bytes:
        draws.append(n)
        return bytes([len(draws)]) * n

    assert new_invite(rnd) == (b"\x01" * 16, b"\x02" * 32)
    assert draws == [16, 32]
    invite_id, secret = new_invite()
    assert len(invite_id) == 16 and len(secret) == 32


def test_invite_keypair_derivation() -> None:
    sk, pk = invite_keypair(SECRET)
    seed = derive_key(SECRET, labels.INVITE_KEY)
    assert (pk, sk) == nacl.bindings.crypto_sign_seed_keypair(seed)
    assert sk[32:] == pk and len(sk) == 64
    assert invite_keypair(SECRET) == (sk, pk)
    assert invite_keypair(bytes(32))[1] != pk
    assert pk.hex() == "3747aed080617f054254644fa332090a97f36e363e7b011a0f761c574bc1cb99"
    with pytest.raises(ValueError):
        invite_keypair(SECRET[:31])


def test_join_proof_binds_group_invite_and_joiner() -> None:
    joiner = pinned(1).public
    _sk, pk = invite_keypair(SECRET)
    proof = join_proof(SECRET, GROUP, INVITE, joiner)
    assert join_proof_message is log_join_proof_message
    verify(pk, labels.JOIN_PROOF, GROUP + INVITE + joiner.encode(), proof, "proof")
    verify_join_proof(pk, GROUP, INVITE, joiner, proof)
    other = pinned(3).public
    _, wrong_pk = invite_keypair(bytes(32))
    for args in (
        (wrong_pk, GROUP, INVITE, joiner),
        (pk, bytes(32), INVITE, joiner),
        (pk, GROUP, bytes(16), joiner),
        (pk, GROUP, INVITE, other),
    ):
        with pytest.raises(SignatureError, match="join proof"):
            verify_join_proof(*args, proof)
    with pytest.raises(SignatureError):
        verify_join_proof(pk, GROUP, INVITE, joiner, proof[:-1] + bytes([proof[-1] ^ 1]))


# --- join requests ---------------------------------------------------------------------


JOINER = pinned(5)
REQUEST = make_join_request(JOINER, LINK, now_ms=1_700_000_000_000)
PINNED_REQUEST = (
    "0901000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f6465666768696a6b6c6d"
    "6e6f7071727301016e7a1cdd29b0b78fd13af4c5598feff4ef2a97166e3ca6f2e4fbfccd80505bf1f5b2d6e6"
    "0f9477e310c2982daaa6c9136c108a1777c5947e448fa37d68174557712c42e78021df3bc54c7ef013b8937c"
    "524ff4a26537f3ae6d031f509de12fd911c6bca5c7be065af2d924042d28eda47435c10be4d70eb55e347da0"
    "c1cea200d8ef6f41ca7047d51f1109b6bd7abffbabd5cbc691b34c6e231126654f919cc2335acf473d84829e"
    "08f3a5747f17cf93d81c1250e4c8b46da0c393b43f8d04080000018bcfe568003ce3c9910de5dca3b63a3aa7"
    "c7764106ecf4e6b48c0cce1b4ea28e73ab3b2a61a699b785b804082d72281c5d1be315ff96d914badb08ae80"
    "8d36a935ddf3bc01"
)


def test_join_request_layout_and_round_trip() -> None:
    raw = REQUEST.encode()
    assert len(raw) == JoinRequest.ENCODED_SIZE == 316
    assert raw[:2] == bytes([Tag.JOIN_REQUEST, 1])
    assert raw[2:34] == GROUP and raw[34:50] == INVITE
    assert raw[50:180] == JOINER.public.encode()
    assert raw[180:244] == REQUEST.proof == join_proof(SECRET, GROUP, INVITE, JOINER.public)
    assert raw[244:252] == (1_700_000_000_000).to_bytes(8, "big")
    assert raw[252:] == REQUEST.signature
    verify(JOINER.sign_pk, labels.JOIN_REQUEST, raw[:252], raw[252:], "join request")
    decoded = JoinRequest.decode(raw)
    assert decoded == REQUEST and decoded.raw == raw
    assert decoded.requested_at_ms == 1_700_000_000_000
    decoded.verify(invite_keypair(SECRET)[1])
    assert raw.hex() == PINNED_REQUEST


def test_join_request_default_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(invites, "default_clock", lambda: 123)
    assert make_join_request(JOINER, LINK).requested_at_ms == 123
    now = time.time_ns() // 1_000_000
    monkeypatch.undo()
    assert abs(make_join_request(JOINER, LINK).requested_at_ms - now) < 60_000


def test_join_request_proof_checked_against_the_invite_key() -> None:
    _, other_pk = invite_keypair(bytes(32))
    with pytest.raises(SignatureError, match="join proof"):
        REQUEST.verify(other_pk)
    # A request built from a guessed secret fails the real invite's key.
    guessed = InviteLink(LINK.relay_url, GROUP, INVITE, bytes(32))
    with pytest.raises(SignatureError):
        make_join_request(JOINER, guessed).verify(invite_keypair(SECRET)[1])


def test_every_single_byte_change_to_a_join_request_is_rejected() -> None:
    raw = REQUEST.encode()
    for position in range(len(raw)):
        for delta in (0x01, 0x80, 0xFF):
            changed = bytearray(raw)
            changed[position] ^= delta
            with pytest.raises((MalformedError, SignatureError)):
                JoinRequest.decode(bytes(changed))


@settings(max_examples=300)
@given(st.integers(0, 315), st.integers(1, 255))
def test_any_changed_byte_is_rejected(position: int, delta: int) -> None:
    changed = bytearray(REQUEST.encode())
    changed[position] = (changed[position] + delta) % 256
    with pytest.raises(VaultError):
        JoinRequest.decode(bytes(changed))


def test_join_request_strict_lengths_and_relabelled_joiner() -> None:
    raw = REQUEST.encode()
    with pytest.raises(MalformedError, match="truncated"):
        JoinRequest.decode(raw[:-1])
    with pytest.raises(MalformedError, match="trailing"):
        JoinRequest.decode(raw + b"\x00")
    # Mallory re-signs Alice's request with her own key but cannot keep Alice as joiner.
    mallory = pinned(9)
    forged = raw[:252] + mallory.sign(labels.JOIN_REQUEST, raw[:252])
    with pytest.raises(SignatureError, match="join request"):
        JoinRequest.decode(forged)
    # Swapping in Mallory's identity breaks the proof, which binds the joiner's keys.
    swapped = raw[:50] + mallory.public.encode() + raw[180:252]
    resigned = swapped + mallory.sign(labels.JOIN_REQUEST, swapped)
    request = JoinRequest.decode(resigned)
    with pytest.raises(SignatureError, match="join proof"):
        request.verify(invite_keypair(SECRET)[1])


@settings(max_examples=25, deadline=None)
@given(
    st.binary(min_size=32, max_size=32),
    st.binary(min_size=32, max_size=32),
    st.integers(0, 2**64 - 1),
)
def test_join_request_round_trip(seed: bytes, secret: bytes, now_ms: int) -> None:
    joiner = Identity(seed, seed[::-1])
    link = InviteLink("https://relay.example", GROUP, INVITE, secret)
    request = make_join_request(joiner, link, now_ms=now_ms)
    decoded = JoinRequest.decode(request.encode())
    assert decoded == request
    assert isinstance(decoded.joiner, PublicIdentity)
    decoded.verify(invite_keypair(secret)[1])


def test_trim_set_is_white_space_and_byte_order_mark() -> None:
    """§8.2: Unicode White_Space and U+FEFF, not str.strip()'s set (which adds U+001C-U+001F
    and lacks U+FEFF)."""
    python_space = {chr(c) for c in range(0x110000) if chr(c).isspace()}
    separators = {chr(c) for c in range(0x1C, 0x20)}
    assert set(invites.TRIMMED) == (python_space - separators) | {"\ufeff"}
    link = InviteLink("https://relay.example.org", bytes(32), bytes(16), bytes(32))
    assert parse_invite_uri("\ufeff" + link.to_uri() + "\u0085") == link
    for text in ("\x1c" + link.to_uri(), link.to_uri() + "\x1f", "\u200b" + link.to_uri()):
        with pytest.raises(InviteUriError):
            parse_invite_uri(text)
