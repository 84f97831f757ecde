"""The example client in clients/python/examples works against a real relay."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
from vault_client import Client

from tests.client.conftest import PASSPHRASE, RelayProcess

pytestmark = pytest.mark.slow  # a real relay process; the example programs run end to end
EXAMPLES = Path(__file__).resolve().parents[2] / "clients" / "python" / "examples"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("group_id", ["-hq36DYlnAbc", "-q36DYln", "--x36DYln", "q36-DYln"])
def test_checkin_bot_takes_any_group_id_it_may_be_given(group_id: str) -> None:
    """Ids are base64url: one in 64 begins with "-", one in 4,096 with "-h"."""
    bot = load("checkin_bot")
    for argv in (["run", group_id, "--once"], ["--home", "run", "run", "--once", group_id]):
        args = bot.parse(argv)
        assert (args.command, args.group, args.once) == ("run", group_id, True)
    assert bot.parse(["run"]).group is None


def test_checkin_bot(tmp_path: Path, relay: RelayProcess, monkeypatch: pytest.MonkeyPatch,
                     capsys: pytest.CaptureFixture[str]) -> None:
    bot = load("checkin_bot")
    with Client(PASSPHRASE, home=tmp_path / "ann", relay_url=relay.url) as ann:
        group = ann.create_group("Morning check-ins", display_name="Ann")
        invite = ann.create_invite(group, require_approval=False)
        monkeypatch.setenv("VAULT_PASSPHRASE", "the bot's own passphrase")
        home = str(tmp_path / "bot")
        assert bot.main(["--home", home, "join", invite.uri]) == 0
        assert "joined: group" in capsys.readouterr().out
        ann.sync(group)  # Ann's device shares the group key with the bot
        assert bot.main(["--home", home, "run", group.group_id, "--once"]) == 0
        assert "posted today's prompt" in capsys.readouterr().out
        ann.sync(group)
        (prompt,) = [p for p in ann.posts(group) if p.author_name == "Check-in bot"]
        assert prompt.text.startswith("Daily check-in")
        ann.reply(group, prompt, "Slept badly, but I'm here.")
        with Client("the bot's own passphrase", home=home) as client:
            result = bot.check_in(client, group.group_id)
            assert not result.posted_now and result.prompt_id == prompt.post_id
            assert [r.author_name for r in result.replies] == ["Ann"]
            assert result.summary().endswith("1 reply (Ann)")
        monkeypatch.delenv("VAULT_PASSPHRASE")
        assert bot.main(["--home", home, "run", group.group_id, "--once"]) == 2
