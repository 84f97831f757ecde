"""Attachments: what the app sends, and how it serves what other members attached.

Another member's file is untrusted content. What it *is* is decided by its decrypted bytes'
magic numbers, never by the name or type its author's device declared: only PNG, JPEG,
GIF and WebP images are ever served for a page to show (``Content-Disposition: inline``,
the sniffed image type, ``nosniff``, the app's CSP). Everything else -- SVG and HTML
included, which a browser would run -- is served as ``application/octet-stream`` with
``Content-Disposition: attachment``: downloaded, never rendered.
"""

from __future__ import annotations

import unicodedata
from typing import Final

from babel.numbers import format_decimal

from vault_app.i18n import gettext, language

MAX_ATTACHMENTS: Final = 16
"""Most files on one post (the protocol's limit, ``vault.crypto.limits``: the SDK refuses
more; a test checks the two agree)."""
MAX_ATTACHMENT_SIZE: Final = 10 * 1024 * 1024 - 1
"""Largest file, in bytes (as above)."""
UPLOAD_LIMIT: Final = MAX_ATTACHMENTS * (MAX_ATTACHMENT_SIZE + 1) + 1024 * 1024
"""The largest request the compose form may send: every file at its largest, and the text."""
MAX_MEDIA_TYPE: Final = 127

IMAGE_TYPES: Final = ("image/png", "image/jpeg", "image/gif", "image/webp")
"""The raster images shown in the page (after their post's content warning is opened)."""


def sniff_image(data: bytes) -> str | None:
    """The image type *data* is, by its magic numbers, or None when it is none of
    :data:`IMAGE_TYPES`."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def looks_like_image(media_type: str) -> bool:
    """Whether its author's device *said* it is an image we show: only decides whether the
    feed offers a picture; the bytes decide whether one is served."""
    return media_type.split(";")[0].strip().lower() in IMAGE_TYPES


def media_type_to_send(declared: str | None) -> str:
    """The type to declare for a file being sent: the browser's, when it is a plain
    ``type/subtype`` the protocol accepts, else ``application/octet-stream``."""
    text = (declared or "").split(";")[0].strip().lower()
    if 0 < len(text) <= MAX_MEDIA_TYPE and text.isascii() and text.count("/") == 1 \
            and all(c.isalnum() or c in "/.+-_" for c in text):
        return text
    return "application/octet-stream"


def safe_file_name(name: str, fallback: str) -> str:
    """A name to download a file under: no folders, no control or direction characters
    (which could make ``exe.txt`` read ``txt.exe``), never empty or hidden."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = "".join("_" if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") else c
                      for c in base).strip().lstrip(".")
    return cleaned[:200] or fallback


def size_text(size: int) -> str:
    """A file size for people, in the page's language: ``312 KB``, ``4.2 MB`` (``4,2 MB``
    in Italian)."""
    if size < 1000:
        return gettext("%(size)s B", size=_number(size, "0"))
    if size < 1000 * 1000:
        return gettext("%(size)s KB", size=_number(size / 1000, "0"))
    return gettext("%(size)s MB", size=_number(size / (1000 * 1000), "0.0"))


def _number(value: float, pattern: str) -> str:
    """*value* rounded as *pattern* says, with the page's decimal sign (no grouping)."""
    return str(format_decimal(value, format=pattern, locale=language()))
