"""Reading a relay's event stream (text/event-stream) frame by frame, in tests."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

T = TypeVar("T")

WAIT_S = 60.0  # a bound on joining a background action (a failure, not a timing)


@dataclass
class Frame:
    """One frame: its fields (``id``, ``event``, ``data``) and its comment lines."""

    fields: dict[str, str] = field(default_factory=dict)
    comments: list[str] = field(default_factory=list)

    @property
    def data(self) -> Any:
        return json.loads(self.fields["data"])

    @property
    def is_comment(self) -> bool:
        return not self.fields


def frames(chunks: Iterable[bytes]) -> Iterator[Frame]:
    """The frames in a stream of byte chunks (split anywhere)."""
    buffer = b""
    for chunk in chunks:
        buffer += chunk
        while b"\n\n" in buffer:
            raw, buffer = buffer.split(b"\n\n", 1)
            frame = Frame()
            for line in raw.decode("utf-8").split("\n"):
                if line.startswith(":"):
                    frame.comments.append(line[1:].strip())
                else:
                    name, _, value = line.partition(":")
                    frame.fields[name] = value[1:] if value.startswith(" ") else value
            yield frame


class StreamReader:
    """Frames of a streaming response, read in the thread that opened it (Flask's
    stream_with_context pushes the request's context in that thread); :meth:`next` waits
    for the next frame (None at the end of the stream). Whatever should wake the stream
    runs meanwhile in another thread (:func:`in_background`); a wake-up that never comes
    ends the test when the stream's lifetime does."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._frames = frames(chunks)

    def next(self) -> Frame | None:
        return next(self._frames, None)

    def next_data(self) -> Frame | None:
        """The next frame that is not a comment (a heartbeat) or None at the end."""
        while True:
            frame = self.next()
            if frame is None or not frame.is_comment:
                return frame

    def rest(self) -> list[Frame]:
        """Every frame up to the end of the stream."""
        return list(self._frames)


class Background(Generic[T]):
    """*action* run in a thread of its own; :meth:`result` joins it."""

    def __init__(self, action: Callable[[], T]) -> None:
        self._result: list[T] = []
        self._error: list[BaseException] = []
        self._thread = threading.Thread(target=self._run, args=(action,), daemon=True)
        self._thread.start()

    def _run(self, action: Callable[[], T]) -> None:
        try:
            self._result.append(action())
        except BaseException as error:
            self._error.append(error)

    def result(self) -> T:
        self._thread.join(WAIT_S)
        if self._error:
            raise self._error[0]
        return self._result[0]


def in_background(action: Callable[[], T]) -> Background[T]:
    return Background(action)
