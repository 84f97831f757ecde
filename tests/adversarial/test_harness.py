"""The harness itself: the canary scan finds plaintext in every encoding it claims to, so a
suite that passes it is not passing vacuously."""

from __future__ import annotations

import base64

from tests.adversarial.hostile import Exchange, HostileRelay


def test_canary_scan_finds_plaintext(hostile: HostileRelay) -> None:
    secret = "canary probe 0123456789ab"
    raw = secret.encode()
    for payload in (raw, secret.encode("utf-16-le"), raw.hex().encode(),
                    b'{"field": "' + base64.urlsafe_b64encode(b"zz" + raw) + b'"}',
                    b"..." + base64.b64encode(b"q" + raw)[3:] + b"..."):
        hostile.exchanges.append(Exchange("probe", "POST", "/", payload, 200, b""))
        assert hostile.leaks([secret], len(hostile.exchanges) - 1), payload
    assert not hostile.leaks(["canary that was never written"])
