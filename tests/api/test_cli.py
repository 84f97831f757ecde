"""`vault relay serve|purge|migrate`: clear errors, and serve really serves."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from vault.cli import main


def test_purge_and_migrate(tmp_path: Path) -> None:
    env = {"VAULT_DATA_DIR": str(tmp_path), "VAULT_LOG_LEVEL": "WARNING"}
    result = CliRunner().invoke(main, ["relay", "migrate"], env=env)
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(main, ["relay", "purge"], env=env)
    assert result.exit_code == 0 and "posts=0 blobs=0 challenges=0" in result.output


def test_bad_configuration_is_one_line(tmp_path: Path) -> None:
    for env in ({"VAULT_DATABASE_URL": "mysql://x/y"}, {"VAULT_DATA_DIR": "/proc/nope"}):
        result = CliRunner().invoke(main, ["relay", "serve"], env=env)
        assert result.exit_code == 2
        assert "Traceback" not in result.output
        assert result.output.startswith("vault: ") and result.output.count("\n") == 1


@pytest.mark.slow
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


@pytest.mark.slow
def test_production_gunicorn_config_serves(tmp_path: Path) -> None:
    """The documented production command (gunicorn -c python:vault.api.gunicorn_conf)
    serves, and stops on SIGTERM with exit status 0 and no traceback in its log."""
    env = {**os.environ, "VAULT_DATA_DIR": str(tmp_path), "VAULT_LOG_LEVEL": "WARNING"}
    env.pop("VAULT_DATABASE_URL", None)
    log = tmp_path / "gunicorn.log"
    with log.open("wb") as handle:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "python:vault.api.gunicorn_conf",
             "--workers", "1", "--bind", "127.0.0.1:0", "--log-level", "info",
             "vault.api:create_app()"],
            stdout=handle, stderr=subprocess.STDOUT, env=env,
        )
    try:
        address = None
        for _ in range(300):
            text = log.read_text(errors="replace")
            found = re.search(r"Listening at: (http://127\.0\.0\.1:\d+)", text)
            if found and "Booting worker" in text:
                address = found.group(1)
                break
            assert proc.poll() is None, text
            time.sleep(0.05)
        assert address is not None, log.read_text()
        assert "Using worker: gevent" in log.read_text()
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"{address}/v1/health", timeout=10) as response:
                    assert json.load(response)["status"] == "ok"
                    break
            except OSError:
                time.sleep(0.1)
        else:
            raise AssertionError(log.read_text())
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        text = log.read_text(errors="replace")
        assert "Worker exiting" in text  # (the worker's exit is in the log: it was read)
        assert "Traceback" not in text and "Exception ignored" not in text, text
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=20)


def test_relay_only_installation(monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    """Without the client extra (no httpx), `vault relay ...` still works and anything else
    says which extra to install."""
    import importlib

    from vault import cli

    real = importlib.import_module

    def without_client(name: str, package: str | None = None) -> object:
        if name == "vault_client.cli":
            raise ModuleNotFoundError("No module named 'httpx'", name="httpx")
        return real(name, package)

    monkeypatch.setattr(cli.importlib, "import_module", without_client)
    with pytest.raises(SystemExit) as exit_:
        cli.entry_point(["relay", "--help"])
    assert exit_.value.code == 0 and "serve" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_:
        cli.entry_point(["group", "list"])
    assert exit_.value.code == 2
    assert "pip install 'vault[client]'" in capsys.readouterr().err
