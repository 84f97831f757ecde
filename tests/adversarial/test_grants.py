"""Epoch keys through a hostile relay: keys the relay (or a non-admin) made, keys that are
not the one the log commits to, grants of other members, groups and epochs, and every
byte of a grant tampered with. None is accepted: InvalidGrant with the reason, no
KeyReceived, no key stored, and nothing is written under a key the device does not hold."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

from vault_client import InvalidGrant, KeyReceived

from tests.adversarial.conftest import circle, texts
from tests.adversarial.hostile import HostileRelay
from tests.adversarial.test_posts import secrets_of
from vault.crypto.encoding import b64decode
from vault.crypto.epochs import EpochGrant, build_grants, new_epoch_key
from vault.crypto.errors import (
    DecryptionError,
    GrantError,
    MalformedError,
)
from vault.crypto.identity import Identity


def _readdress(grant: bytes, recipient: bytes) -> bytes:
    parsed = EpochGrant.decode(grant)
    return EpochGrant(parsed.group_id, parsed.epoch, recipient, parsed.sealed).encode()


def _relabel_epoch(grant: bytes, epoch: int) -> bytes:
    parsed = EpochGrant.decode(grant)
    return EpochGrant(parsed.group_id, epoch, parsed.recipient, parsed.sealed).encode()


def test_relay_hands_member_forged_epoch_key(people: SimpleNamespace, hostile: HostileRelay,
                                             canary: Callable[[str], str]) -> None:
    """Ann rotates; in place of Ben's grant for the new epoch the relay serves, in turn,
    each forgery below. Ben's device refuses each with the reason, keeps no key, and sends
    nothing: what he writes waits on his device, unsealed, until the real grant comes."""
    ann, ben, cleo = people.ann, people.ben, people.cleo
    gid = circle(canary, ann, ben, cleo)
    other = circle(canary, ann, ben)
    for group in (gid, other):
        ann.rotate(group)
    other_epoch = ann.group(other).epoch
    ben.sync(other)
    gid_b = b64decode(gid)
    epoch = ann.group(gid).epoch
    ben_identity = ben._device.view(gid).me.public  # public keys: the relay knows them
    ben_pk = ben_identity.sign_pk
    cleo_pk = b64decode(cleo.me(gid).member_id)
    ann_identity, _ = secrets_of(ann, gid)  # a compromised admin device
    cleo_identity, _ = secrets_of(cleo, gid)  # a member colluding with the relay
    relay_identity = Identity.generate()
    grants = dict(((e, r), raw) for e, raw in hostile.all_grants(gid_b)
                  for r in [EpochGrant.decode(raw).recipient])
    other_grant = dict(hostile.grants_for(  # (Ben has another identity in each group)
        b64decode(other), b64decode(ben.me(other).member_id)))[other_epoch]

    def made(by: Identity) -> bytes:
        return build_grants(by, gid_b, epoch, new_epoch_key(), [ben_identity])[0].encode()

    forgeries: dict[str, tuple[int, bytes, str]] = {  # what, (served as epoch, grant, code)
        "a key the relay made, signed by the relay": (
            epoch, made(relay_identity), GrantError.code),
        "a key a member who is not an admin made": (epoch, made(cleo_identity), GrantError.code),
        "an admin's grant of a key the log did not commit to": (
            epoch, made(ann_identity), GrantError.code),
        "another member's grant": (epoch, grants[(epoch, cleo_pk)], GrantError.code),
        "another member's grant, readdressed": (
            epoch, _readdress(grants[(epoch, cleo_pk)], ben_pk), DecryptionError.code),
        "Ben's grant of another epoch": (epoch, grants[(epoch - 1, ben_pk)], GrantError.code),
        "Ben's grant of another epoch, relabelled": (
            epoch, _relabel_epoch(grants[(epoch - 1, ben_pk)], epoch), GrantError.code),
        "Ben's grant of this epoch number in another group": (epoch, other_grant, GrantError.code),
        "bytes that are not a grant": (epoch, b"\x08\x01" + b"\x00" * 100, MalformedError.code),
    }
    for what, (served_epoch, forged, code) in forgeries.items():
        hostile.view("ben").grants = lambda _g, items, e=served_epoch, f=forged: [
            *(i for i in items if i[0] != epoch), (e, f)]
        report = ben.sync(gid)[0]
        refused = [(w.epoch, w.code) for w in report.warnings if isinstance(w, InvalidGrant)]
        assert refused == [(epoch, code)], what
        assert not [e for e in report.events if isinstance(e, KeyReceived)], what
        assert epoch not in ben._device.view(gid).keys, what
        before = len(hostile.requests)
        waiting = ben.post(gid, canary("post"))
        assert waiting.status == "queued" and "key" in (waiting.reason or ""), what
        assert not [r for r in hostile.requests[before:] if r[1] == "PUT"], what
    assert ben.group(gid).unsent_posts == len(forgeries)

    hostile.reset()
    report = ben.sync(gid)[0]
    assert KeyReceived(gid, epoch) in report.events
    assert ben.group(gid).unsent_posts == 0  # sealed under the real key and sent
    text = canary("post")
    ben.post(gid, text)
    ann.sync(gid)
    assert texts(ann, gid)[-1] == text and len(texts(ann, gid)) == len(forgeries) + 1


def test_relay_tampers_with_grant_bytes(people: SimpleNamespace, hostile: HostileRelay,
                                        canary: Callable[[str], str]) -> None:
    """Ben's real grant with each of its bytes flipped in turn (every position, all served
    at once): every copy is refused with InvalidGrant and none yields a key."""
    ann, ben = people.ann, people.ben
    gid = circle(canary, ann, ben)
    epoch = ann.rotate(gid)
    ben_pk = b64decode(ben.me(gid).member_id)
    (real,) = [raw for e, raw in hostile.grants_for(b64decode(gid), ben_pk) if e == epoch]
    tampered = []
    for index in range(len(real)):
        bad = bytearray(real)
        bad[index] ^= 0x01
        tampered.append((epoch, bytes(bad)))
    hostile.view("ben").grants = lambda _g, items: [
        *(i for i in items if i[0] != epoch), *tampered]
    report = ben.sync(gid)[0]
    refused = [w for w in report.warnings if isinstance(w, InvalidGrant)]
    assert len(refused) == len(real)
    assert {w.code for w in refused} <= {GrantError.code, DecryptionError.code,
                                         MalformedError.code}
    assert not [e for e in report.events if isinstance(e, KeyReceived)]
    assert epoch not in ben._device.view(gid).keys
    hostile.reset()
    assert KeyReceived(gid, epoch) in ben.sync(gid)[0].events
