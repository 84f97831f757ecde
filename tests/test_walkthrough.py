"""`make demo` runs the whole member journey through the core; check what it shows."""

import pytest

from vault import walkthrough


def test_walkthrough_shows_removed_member_locked_out(capsys: pytest.CaptureFixture[str]) -> None:
    walkthrough.main()
    out = capsys.readouterr().out
    alice, bob, carol = (out.split(f"\n{name} reads:\n")[1].split("\n\n")[0]
                         for name in ("Alice", "Bob", "Carol"))
    assert "Bob, we'll miss you." in alice and "Bob, we'll miss you." in carol
    assert "Bob, we'll miss you." not in bob
    assert "[epoch 1: no key — cannot read]" in bob
    assert "(CW: bereavement)" in carol
    assert "Carol sees the group's name: 'Tuesday grief circle'" in out
    stored = out.split("What the relay stored:")[1]
    for secret in ("grief", "hard month", "dad", "Tuesday"):
        assert secret not in stored
