"""SQLite writers take turns across processes (vault.api.sqlite_writers): while another
process holds the turn, a writer waits; it goes as soon as that one ends (or dies); the turn
is re-entrant within a writer."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import threading
from pathlib import Path

import pytest

from vault.api.sqlite_writers import turns_for
from vault.crypto.errors import RelayUnavailableError

CTX = mp.get_context("fork")


def _hold(path: str, held: mp.synchronize.Event, release: mp.synchronize.Event) -> None:
    turns = turns_for(path)
    assert turns is not None
    with turns.turn(10):
        held.set()
        release.wait(30)


def _take_in_thread(path: str) -> tuple[threading.Thread, threading.Event]:
    taken = threading.Event()

    def take() -> None:
        turns = turns_for(path)
        assert turns is not None
        with turns.turn(10):
            taken.set()

    thread = threading.Thread(target=take, daemon=True)
    thread.start()
    return thread, taken


def test_a_writer_waits_for_another_process_and_goes_when_it_ends(tmp_path: Path) -> None:
    path = str(tmp_path / "relay.db")
    held, release = CTX.Event(), CTX.Event()
    other = CTX.Process(target=_hold, args=(path, held, release))
    other.start()
    try:
        assert held.wait(30)
        thread, taken = _take_in_thread(path)
        # Bounded wait, no timing claim: while the other process holds its turn, this
        # writer does not get one.
        assert not taken.wait(0.5)
        release.set()
        assert taken.wait(30)
        thread.join(30)
    finally:
        release.set()
        other.join(30)
    assert Path(path + "-writers").exists()


def test_a_dead_holder_does_not_keep_the_turn(tmp_path: Path) -> None:
    path = str(tmp_path / "relay.db")
    held, release = CTX.Event(), CTX.Event()
    other = CTX.Process(target=_hold, args=(path, held, release))
    other.start()
    assert held.wait(30)
    thread, taken = _take_in_thread(path)
    assert not taken.wait(0.3)
    assert other.pid is not None
    os.kill(other.pid, signal.SIGKILL)  # killed in the middle of its write
    other.join(30)
    assert taken.wait(30)
    thread.join(30)


def test_the_turn_is_reentrant_and_bounded_within_a_process(tmp_path: Path) -> None:
    turns = turns_for(str(tmp_path / "relay.db"))
    assert turns is not None
    with turns.turn(1), turns.turn(1):  # a write inside a write: no deadlock
        blocked: list[BaseException] = []

        def other_writer() -> None:
            try:
                with turns.turn(0.2):
                    pass
            except RelayUnavailableError as error:
                blocked.append(error)

        thread = threading.Thread(target=other_writer)
        thread.start()
        thread.join(30)
        assert len(blocked) == 1 and blocked[0].code == "unavailable"
    with turns.turn(1):  # free again once the outer write ended
        pass


@pytest.mark.parametrize("path", [None, "", ":memory:", "file:relay?mode=memory"])
def test_an_in_memory_database_takes_no_turns(path: str | None) -> None:
    assert turns_for(path) is None


def test_a_lock_file_that_cannot_be_opened_leaves_writes_without_turns(tmp_path: Path) -> None:
    # (e.g. made by another user with a mode this one cannot open): the turns only order
    # writers, so the relay goes on writing rather than failing every write.
    path = str(tmp_path / "relay.db")
    os.symlink(tmp_path / "missing" / "file", path + "-writers")
    turns = turns_for(path)
    assert turns is not None
    with turns.turn(1), turns.turn(1):
        pass
