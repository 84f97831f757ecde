"""`vault relay serve|purge|migrate`: clear errors, and serve really serves."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

from click.testing import CliRunner

from vault.cli import main


def test_purge_and_migrate(tmp_path: Path) -> None:
    env = {"VAULT_DATA_DIR": str(tmp_path), "VAULT_LOG_LEVEL": "WARNING"}
    result = CliRunner().invoke(main, ["relay", "migrate"], env=env)
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(main, ["relay", "purge"], env=env)
    assert result.exit_code == 0 and "posts=0" in result.output


def test_bad_configuration_is_one_line(tmp_path: Path) -> None:
    for env in ({"VAULT_DATABASE_URL": "mysql://x/y"}, {"VAULT_DATA_DIR": "/proc/nope"}):
        result = CliRunner().invoke(main, ["relay", "serve"], env=env)
        assert result.exit_code == 2
        assert "Traceback" not in result.output
        assert result.output.startswith("vault: ") and result.output.count("\n") == 1


def test_serve_prints_address_and_serves(tmp_path: Path) -> None:
    env = {**os.environ, "VAULT_DATA_DIR": str(tmp_path), "VAULT_LOG_LEVEL": "WARNING"}
    env.pop("VAULT_DATABASE_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "vault.cli", "relay", "serve", "--port", "0", "--workers", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("Vault relay listening on http://127.0.0.1:"), line
        address = line.rsplit(" ", 1)[1]
        with urllib.request.urlopen(f"{address}/v1/health", timeout=10) as response:
            assert json.load(response)["status"] == "ok"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
