"""Reports how many fault runs of each kind ran, and with which seed."""

from __future__ import annotations

from typing import Any

from tests.faults.common import FAULT_RUNS


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if FAULT_RUNS:
        from tests.faults.test_faults import SEED

        terminalreporter.write_line(
            f"faults: {sum(FAULT_RUNS.values())} runs (seed {SEED}): "
            + ", ".join(f"{kind}={n}" for kind, n in sorted(FAULT_RUNS.items())))
