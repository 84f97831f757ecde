"""Epoch keys, commitments, subkeys, and grants: every check of open_grant both ways."""

from __future__ import annotations

import struct
from dataclasses import dataclass

import nacl.bindings
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.crypto.logfactory import LogFactory, seeded_random
from vault.crypto import labels
from vault.crypto.commitments import commitment_group_id, epoch_commitment
from vault.crypto.encoding import Tag
from vault.crypto.epochs import (
    EPOCH_GRANT_SIZE,
    GRANT_CONTENT_SIZE,
    SEALED_GRANT_SIZE,
    EpochGrant,
    GrantContent,
    build_grants,
    metadata_key,
    new_epoch_key,
    open_grant,
    post_key,
)
from vault.crypto.errors import DecryptionError, GrantError, MalformedError, VaultError
from vault.crypto.identity import Identity, PublicIdentity
from vault.crypto.log_entries import Role
from vault.crypto.primitives import sign

GID = bytes(range(32))
KEY = bytes(range(100, 132))


def test_new_epoch_key_uses_the_random_source() -> None:
    assert new_epoch_key(lambda n: b"\x05" * n) == b"\x05" * 32
    assert len(new_epoch_key()) == 32 and new_epoch_key() != new_epoch_key()
    with pytest.raises(ValueError):
        new_epoch_key(lambda n: b"\x05" * (n - 1))


def test_commitment_is_the_labelled_hash_of_group_epoch_key() -> None:
    framed = bytes((len(labels.EPOCH_COMMITMENT),)) + labels.EPOCH_COMMITMENT
    expected = nacl.bindings.crypto_generichash_blake2b_salt_personal(
        framed + GID + struct.pack(">Q", 7) + KEY, digest_size=32
    )
    assert epoch_commitment(GID, 7, KEY) == expected
    assert epoch_commitment(GID, 8, KEY) != expected
    assert epoch_commitment(bytes(32), 7, KEY) != expected
    with pytest.raises(ValueError):
        epoch_commitment(GID, 7, KEY[:31])
    with pytest.raises(ValueError):
        epoch_commitment(GID[:31], 7, KEY)


def test_subkeys_are_keyed_blake2b_under_distinct_labels() -> None:
    for label, derive in ((labels.POST_KEY, post_key), (labels.METADATA_KEY, metadata_key)):
        framed = bytes((len(label),)) + label
        expected = nacl.bindings.crypto_generichash_blake2b_salt_personal(
            framed + GID + struct.pack(">Q", 3), digest_size=32, key=KEY
        )
        assert derive(KEY, GID, 3) == expected
    assert post_key(KEY, GID, 3) != metadata_key(KEY, GID, 3)
    assert post_key(KEY, GID, 3) != post_key(KEY, GID, 4)
    assert post_key(KEY, GID, 3) != post_key(KEY, bytes(32), 3)


# --- grants -------------------------------------------------------------------------------


@dataclass
class Grp:
    f: LogFactory
    alice: Identity
    bob: Identity
    admin: Identity
    old_admin: Identity
    leaver: Identity


@pytest.fixture(scope="module")
def group() -> Grp:
    f = LogFactory("grants")
    g = Grp(f, f.add_member(), f.add_member(), f.add_member(Role.ADMIN),
            f.add_member(Role.ADMIN), f.add_member())
    f.remove(g.old_admin)
    f.remove(g.leaver)  # now at epoch 2
    return g


def grants_for(f: LogFactory, granter: Identity, epoch: int, key: bytes | None = None,
               *recipients: Identity) -> dict[bytes, EpochGrant]:
    key = f.epoch_keys[epoch] if key is None else key
    grants = build_grants(granter, f.group_id, epoch, key, [r.public for r in recipients])
    return {g.recipient: g for g in grants}


def forge(
    granter: Identity, *, group_id: bytes, epoch: int, recipient: PublicIdentity, key: bytes,
    box_pk: bytes | None = None, seal_to: bytes | None = None, header_group: bytes | None = None,
    header_epoch: int | None = None, header_recipient: bytes | None = None,
    signer: Identity | None = None,
) -> EpochGrant:
    """A grant with any content, sealed to any box key: what a hostile admin could make."""
    content = (bytes((Tag.GRANT_CONTENT, 1)) + group_id + struct.pack(">Q", epoch)
               + recipient.sign_pk + (box_pk or recipient.box_pk) + granter.sign_pk + key)
    content += sign((signer or granter).sign_sk, labels.EPOCH_GRANT, content)
    sealed = nacl.bindings.crypto_box_seal(content, seal_to or recipient.box_pk)
    return EpochGrant(header_group or group_id, epoch if header_epoch is None else header_epoch,
                      header_recipient or recipient.sign_pk, sealed)


def test_every_member_opens_their_grant(group: Grp) -> None:
    g = group
    f = g.f
    members = [f.owner, g.alice, g.bob, g.admin]
    for epoch in (0, 1, 2):  # epoch 0's commitment binds the zero group id
        grants = grants_for(f, f.owner, epoch, None, *members)
        for me in members:
            assert open_grant(grants[me.sign_pk], me, f.state) == f.epoch_keys[epoch]
    grants = grants_for(f, g.admin, 2, None, g.alice)
    assert open_grant(grants[g.alice.sign_pk], g.alice, f.state) == f.epoch_keys[2]


def test_grant_wire_form_round_trips_and_has_fixed_size(group: Grp) -> None:
    g = group
    f = g.f
    (grant,) = build_grants(f.owner, f.group_id, 2, f.epoch_keys[2], [g.alice.public])
    raw = grant.encode()
    assert len(raw) == EPOCH_GRANT_SIZE == 360 and len(grant.sealed) == SEALED_GRANT_SIZE == 282
    assert GRANT_CONTENT_SIZE == 234
    assert raw[:2] == bytes((Tag.EPOCH_GRANT, 1))
    assert raw[2:34] == f.group_id and raw[34:42] == struct.pack(">Q", 2)
    assert raw[42:74] == g.alice.sign_pk
    again = EpochGrant.decode(raw)
    assert again == grant and again.encode() == raw
    # the eagerly built encoding equals the generic one
    assert EpochGrant(grant.group_id, grant.epoch, grant.recipient, grant.sealed).encode() == raw


def test_grant_decode_is_strict(group: Grp) -> None:
    g = group
    f = g.f
    (grant,) = build_grants(f.owner, f.group_id, 2, f.epoch_keys[2], [g.alice.public])
    short = EpochGrant(grant.group_id, grant.epoch, grant.recipient, grant.sealed[:-1]).encode()
    with pytest.raises(MalformedError, match="282 bytes"):
        EpochGrant.decode(short)
    with pytest.raises(MalformedError, match="trailing"):
        EpochGrant.decode(grant.encode() + b"\x00")
    with pytest.raises(MalformedError, match="not a epoch grant"):
        EpochGrant.decode(b"\x04" + grant.encode()[1:])


def _decoded(data: bytes | bytearray) -> object:
    try:
        grant = EpochGrant.decode(data)
    except MalformedError as error:
        return ("malformed", error.message)
    return (grant.group_id, grant.epoch, grant.recipient, grant.sealed)


def test_grant_decode_reads_bytes_as_its_field_reader_does(group: Grp) -> None:
    """Bytes of a grant's size are read by slicing (a relay decodes thousands at once);
    any other input by the field reader. Both must agree on every change to the framing:
    a changed or moved header, a length field that lies, a byte short or over."""
    g = group
    f = g.f
    (grant,) = build_grants(f.owner, f.group_id, 2, f.epoch_keys[2], [g.alice.public])
    raw = grant.encode()
    variants = [raw, raw[:-1], raw + b"\x00", raw[1:], b"\x00" + raw[:-1]]
    for position in (0, 1, 2, 33, 34, 41, 42, 73, 74, 75, 76, 77, 78, len(raw) - 1):
        for flip in (1, 0x80, 0xFF):
            changed = bytearray(raw)
            changed[position] ^= flip
            variants.append(bytes(changed))
    outcomes = [(_decoded(v), _decoded(bytearray(v))) for v in variants]
    assert all(fast == careful for fast, careful in outcomes)
    assert outcomes[0][0] == (grant.group_id, 2, grant.recipient, grant.sealed)
    assert sum(fast[0] == "malformed" for fast, _ in outcomes) == 4 + 3 * 6  # type: ignore[index]


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_any_changed_byte_of_a_grant_is_rejected(group: Grp, data: st.DataObject) -> None:
    g = group
    f = g.f
    (grant,) = build_grants(f.owner, f.group_id, 2, f.epoch_keys[2], [g.alice.public])
    raw = bytearray(grant.encode())
    position = data.draw(st.integers(0, len(raw) - 1))
    raw[position] ^= data.draw(st.integers(1, 255))
    with pytest.raises(VaultError):
        open_grant(EpochGrant.decode(bytes(raw)), g.alice, f.state)


def test_grant_for_someone_else_is_refused(group: Grp) -> None:
    g = group
    f = g.f
    grants = grants_for(f, f.owner, 2, None, g.alice, g.bob)
    with pytest.raises(GrantError, match="addressed to another member"):
        open_grant(grants[g.bob.sign_pk], g.alice, f.state)
    # the relay relabels bob's grant as alice's: she cannot open a box sealed to bob
    relabelled = EpochGrant(f.group_id, 2, g.alice.sign_pk, grants[g.bob.sign_pk].sealed)
    with pytest.raises(DecryptionError):
        open_grant(relabelled, g.alice, f.state)


def test_sealed_recipient_must_match_header_and_me(group: Grp) -> None:
    g = group
    f = g.f
    alice, bob = g.alice, g.bob
    # content names bob but is sealed to alice's box and routed to alice
    grant = forge(f.owner, group_id=f.group_id, epoch=2, recipient=bob.public,
                  key=f.epoch_keys[2], seal_to=alice.public.box_pk,
                  header_recipient=alice.sign_pk)
    with pytest.raises(GrantError, match="sealed recipient differs"):
        open_grant(grant, alice, f.state)


def test_swapped_box_key_is_refused(group: Grp) -> None:
    g = group
    f = g.f
    alice, mallory = g.alice, Identity.generate(seeded_random("mallory"))
    # content names alice's signing key with mallory's box key (a relay/admin key swap)
    grant = forge(f.owner, group_id=f.group_id, epoch=2, recipient=alice.public,
                  key=f.epoch_keys[2], box_pk=mallory.public.box_pk,
                  seal_to=alice.public.box_pk)
    with pytest.raises(GrantError, match="different box key"):
        open_grant(grant, alice, f.state)
    # and a grant built for a swapped identity is sealed to the wrong box: alice cannot open it
    swapped = PublicIdentity(alice.sign_pk, mallory.public.box_pk, alice.public.binding_sig)
    (built,) = build_grants(f.owner, f.group_id, 2, f.epoch_keys[2], [swapped])
    with pytest.raises(DecryptionError):
        open_grant(built, alice, f.state)


def test_wrong_group_is_refused(group: Grp) -> None:
    g = group
    f = g.f
    alice = g.alice
    other = bytes(32)
    inner = forge(f.owner, group_id=other, epoch=2, recipient=alice.public,
                  key=f.epoch_keys[2], header_group=f.group_id)
    with pytest.raises(GrantError, match="sealed group differs"):
        open_grant(inner, alice, f.state)
    both = forge(f.owner, group_id=other, epoch=2, recipient=alice.public, key=f.epoch_keys[2])
    with pytest.raises(GrantError, match="for another group"):
        open_grant(both, alice, f.state)
    # a genuine grant of another group replayed here
    g2 = LogFactory("other-group")
    bob2 = g2.add_member(identity=alice)
    (foreign,) = build_grants(g2.owner, g2.group_id, 0, g2.epoch_keys[0], [bob2.public])
    with pytest.raises(GrantError, match="for another group"):
        open_grant(foreign, alice, f.state)


def test_wrong_epoch_is_refused(group: Grp) -> None:
    g = group
    f = g.f
    alice = g.alice
    inner = forge(f.owner, group_id=f.group_id, epoch=1, recipient=alice.public,
                  key=f.epoch_keys[1], header_epoch=2)
    with pytest.raises(GrantError, match="sealed epoch differs"):
        open_grant(inner, alice, f.state)
    future = forge(f.owner, group_id=f.group_id, epoch=3, recipient=alice.public, key=KEY)
    with pytest.raises(GrantError, match="epoch 3, which this device's membership log"):
        open_grant(future, alice, f.state)
    # a real epoch-1 key presented as epoch 2 (consistently) fails the commitment
    mislabelled = forge(f.owner, group_id=f.group_id, epoch=2, recipient=alice.public,
                        key=f.epoch_keys[1])
    with pytest.raises(GrantError, match="commitment"):
        open_grant(mislabelled, alice, f.state)


def test_made_up_key_fails_the_commitment(group: Grp) -> None:
    g = group
    f = g.f
    grants = grants_for(f, f.owner, 2, new_epoch_key(seeded_random("fake")), g.alice)
    with pytest.raises(GrantError, match="does not match the commitment") as info:
        open_grant(grants[g.alice.sign_pk], g.alice, f.state)
    assert f.epoch_keys[2].hex() not in str(info.value)
    # epoch 0 binds the zero group id; committing with the real id does not match
    assert commitment_group_id(f.group_id, 0) == bytes(32)
    assert f.state.epoch_commitments[0] == epoch_commitment(bytes(32), 0, f.epoch_keys[0])
    assert f.state.epoch_commitments[0] != epoch_commitment(f.group_id, 0, f.epoch_keys[0])


def test_granter_must_be_an_admin_now_or_before(group: Grp) -> None:
    g = group
    f = g.f
    alice, bob = g.alice, g.bob
    by_member = grants_for(f, bob, 2, None, alice)
    with pytest.raises(GrantError, match="not an admin"):
        open_grant(by_member[alice.sign_pk], alice, f.state)
    outsider = Identity.generate(seeded_random("outsider"))
    by_outsider = grants_for(f, outsider, 2, None, alice)
    with pytest.raises(GrantError, match="not an admin"):
        open_grant(by_outsider[alice.sign_pk], alice, f.state)
    by_removed_member = grants_for(f, g.leaver, 1, None, alice)
    with pytest.raises(GrantError, match="not an admin"):
        open_grant(by_removed_member[alice.sign_pk], alice, f.state)
    # an admin who was removed later still vouches for the epochs they knew
    by_former_admin = grants_for(f, g.old_admin, 0, None, alice)
    assert open_grant(by_former_admin[alice.sign_pk], alice, f.state) == f.epoch_keys[0]


def test_signature_by_another_key_is_refused(group: Grp) -> None:
    g = group
    f = g.f
    alice, bob = g.alice, g.bob
    grant = forge(f.owner, group_id=f.group_id, epoch=2, recipient=alice.public,
                  key=f.epoch_keys[2], signer=bob)
    with pytest.raises(GrantError, match="signature does not verify"):
        open_grant(grant, alice, f.state)


def test_tampered_or_junk_sealed_bytes(group: Grp) -> None:
    g = group
    f = g.f
    alice = g.alice
    (grant,) = build_grants(f.owner, f.group_id, 2, f.epoch_keys[2], [alice.public])
    for position in (0, 31, 32, 100, len(grant.sealed) - 1):
        sealed = bytearray(grant.sealed)
        sealed[position] ^= 1
        with pytest.raises(DecryptionError):
            open_grant(EpochGrant(grant.group_id, 2, grant.recipient, bytes(sealed)), alice,
                       f.state)
    with pytest.raises(DecryptionError):
        open_grant(EpochGrant(grant.group_id, 2, grant.recipient, b""), alice, f.state)
    junk = nacl.bindings.crypto_box_seal(b"\x04\x01" + bytes(10), alice.public.box_pk)
    with pytest.raises(GrantError, match="not a valid grant"):
        open_grant(EpochGrant(grant.group_id, 2, grant.recipient, junk), alice, f.state)


def test_build_grants_input_checks(group: Grp) -> None:
    g = group
    f = g.f
    alice = g.alice
    with pytest.raises(ValueError, match="twice"):
        build_grants(f.owner, f.group_id, 2, f.epoch_keys[2], [alice.public, alice.public])
    with pytest.raises(ValueError, match="32 bytes"):
        build_grants(f.owner, f.group_id, 2, b"short", [alice.public])
    with pytest.raises(ValueError, match="group id"):
        build_grants(f.owner, b"short", 2, f.epoch_keys[2], [alice.public])
    assert build_grants(f.owner, f.group_id, 2, f.epoch_keys[2], []) == ()


def test_grant_content_matches_the_documented_layout(group: Grp) -> None:
    g = group
    f = g.f
    alice = g.alice
    (grant,) = build_grants(f.owner, f.group_id, 2, f.epoch_keys[2], [alice.public])
    plain = nacl.bindings.crypto_box_seal_open(grant.sealed, alice.public.box_pk, alice.box_sk)
    content = GrantContent.decode(plain)
    assert plain == (bytes((Tag.GRANT_CONTENT, 1)) + f.group_id + struct.pack(">Q", 2)
                     + alice.sign_pk + alice.public.box_pk + f.owner.sign_pk + f.epoch_keys[2]
                     + content.signature)
    assert content.raw == plain and content.signed_bytes == plain[:-64]
    assert f.epoch_keys[2].hex() not in repr(content)


def test_a_former_admin_vouches_only_for_epochs_it_administered() -> None:
    f = LogFactory("grant-roles")
    member, reader = f.add_member(), f.add_member()
    f.rotate()                                 # epoch 1 starts; member is not an admin yet
    f.set_role(member, Role.ADMIN)             # promoted during epoch 1
    f.rotate()                                 # epoch 2 starts while member is admin
    f.set_role(member, Role.MEMBER)            # demoted during epoch 2
    f.rotate()                                 # epoch 3: no longer admin
    for epoch in (1, 2):
        grant = grants_for(f, member, epoch, None, reader)[reader.sign_pk]
        assert open_grant(grant, reader, f.state) == f.epoch_keys[epoch]
    for epoch in (0, 3):
        grant = grants_for(f, member, epoch, None, reader)[reader.sign_pk]
        with pytest.raises(GrantError, match="not an admin"):
            open_grant(grant, reader, f.state)
