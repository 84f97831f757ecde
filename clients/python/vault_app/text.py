"""How other members' text reaches a page: inert and readable.

Jinja's autoescape makes every member's text plain text (no tag, no entity, no script);
nothing here ever marks member text safe except :func:`member_text`, which escapes first.
Escaping does not stop the Unicode bidirectional controls (U+202A-U+202E, U+2066-U+2069):
a right-to-left override can make a post read backwards or make ``exe.txt`` look like
``txt.exe``. They are shown as visible marks instead (and each post is isolated, in CSS,
so nothing leaks into the page around it). Zero-width joiners stay: emoji need them.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Final

from babel.dates import format_datetime
from markupsafe import Markup, escape

from vault_app.i18n import gettext, language, ngettext

BIDI_CONTROLS: Final = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def member_text(value: str | None) -> Markup:
    """Escape *value*, and show each bidi control as a visible mark."""
    escaped = str(escape(value or ""))
    if not any(char in BIDI_CONTROLS for char in escaped):
        return Markup(escaped)  # noqa: S704 - escaped just above
    out = []
    for char in escaped:
        if char in BIDI_CONTROLS:
            code = f"U+{ord(char):04X}"
            title = escape(gettext("hidden direction mark %(code)s", code=code))
            out.append(f'<span class="control-char" title="{title}">[{code}]</span>')
        else:
            out.append(char)
    return Markup("".join(out))  # noqa: S704 - escaped above; the marks are our own


# A time another member's device wrote (a post's, a join request's) is whatever that device
# chose: one the calendar cannot show (year 10000 and later, or before 1970 on some
# systems) is shown as no time at all, never as a page that fails for everyone.
_UNSHOWABLE = (ValueError, OverflowError, OSError)


def when(ms: int | None) -> str:
    """A time in this computer's local time, in the page's language, e.g.
    ``Tue 3 Mar 2026, 14:05`` (``mar 3 mar 2026, 14:05`` in Italian)."""
    if not ms:
        return ""
    try:
        moment = datetime.fromtimestamp(ms / 1000)  # local time, naive: shown as it is
        return format_datetime(moment, "EEE d MMM y, HH:mm", locale=language())
    except _UNSHOWABLE:
        return ""


def iso_time(ms: int | None) -> str:
    """The same time for a ``<time datetime>`` attribute (machine-readable)."""
    if not ms:
        return ""
    try:
        return time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(ms / 1000))
    except _UNSHOWABLE:
        return ""


def time_left(ms: int | None, now_ms: int | None = None) -> str:
    """How long until a disappearing post goes, in words."""
    if not ms:
        return ""
    now = now_ms if now_ms is not None else int(time.time() * 1000)
    seconds = max(0, (ms - now) // 1000)
    if seconds >= 86400:
        return ngettext("a day", "%(num)d days", seconds // 86400)
    if seconds >= 3600:
        return ngettext("an hour", "%(num)d hours", seconds // 3600)
    if seconds >= 60:
        return ngettext("a minute", "%(num)d minutes", seconds // 60)
    return gettext("less than a minute")


COUNTDOWN_WORDS: Final = ("days", "hours", "minutes", "soon")
"""The kinds of :func:`countdown_formats` (static/app.js picks one as the time passes)."""


def countdown_formats() -> dict[str, str]:
    """The countdown's sentences in the page's language, with ``{d}``, ``{h}``, ``{m}`` for
    static/app.js to fill in every 30 seconds (the page gives them in ``data-`` attributes:
    the script holds no words of its own)."""
    from vault_app.i18n import gettext

    return {
        "days": gettext("disappears in %(days)s d %(hours)s h", days="{d}", hours="{h}"),
        "hours": gettext("disappears in %(hours)s h %(minutes)s min", hours="{h}",
                         minutes="{m}"),
        "minutes": gettext("disappears in %(minutes)s min", minutes="{m}"),
        "soon": gettext("disappears in less than a minute"),
    }


def countdown(ms: int | None, now_ms: int | None = None) -> str:
    """How long until a disappearing post goes, as the page's countdown says it: "disappears
    in 2 h 15 min" (static/app.js keeps it up to date with the same sentences)."""
    if not ms:
        return ""
    now = now_ms if now_ms is not None else int(time.time() * 1000)
    minutes = max(0, (ms - now) // 60000)
    days, hours, mins = minutes // 1440, minutes % 1440 // 60, minutes % 60
    formats = countdown_formats()
    if days:
        kind = "days"
    elif hours:
        kind = "hours"
    elif mins:
        kind = "minutes"
    else:
        kind = "soon"
    return formats[kind].replace("{d}", str(days)).replace("{h}", str(hours)) \
        .replace("{m}", str(mins))
