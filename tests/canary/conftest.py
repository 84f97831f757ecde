"""Reports what the canary scans looked for."""

from __future__ import annotations

from typing import Any


def pytest_terminal_summary(terminalreporter: Any) -> None:
    from tests.canary.test_canary_scan import CHECKS

    for backend, values, checks in CHECKS:
        terminalreporter.write_line(
            f"canary scan ({backend}): {values} values, {checks} encoding x place checks, "
            "none found")
