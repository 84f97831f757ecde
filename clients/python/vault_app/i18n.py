"""The app's languages: English and Italian (Flask-Babel, catalogs under ``translations/``).

Which one a page is in, for each request:

1. the browser's own choice, the ``vault_lang`` cookie that the "Language" form at the foot
   of every page sets (``POST /language``, :mod:`vault_app.views.language`);
2. else the browser's preferred languages (``Accept-Language``);
3. else English.

How to mark a string (translations/README.md has the extract/update/compile commands):

* templates: ``{{ _("...") }}``, ``{{ ngettext("%(num)d post", "%(num)d posts", n) }}``;
* Python, while handling a request: :func:`gettext` / :func:`ngettext`, values as
  ``%(name)s`` placeholders (``gettext("%(name)s left.", name=...)``), never an f-string;
* Python, a module-level constant: :func:`lazy_gettext` (translated each time it is shown).
  Only for fixed sentences, without variables: a lazy string renders as trusted markup, so
  it must never carry a member's text;
* Python, a label a template passes to ``_()`` itself (``{{ _(label) }}``): :func:`N_`,
  which only marks it for extraction.

Outside a request (tests, the command line) everything is English.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

from flask import Flask, has_app_context, has_request_context, request
from flask_babel import Babel, force_locale, get_locale
from flask_babel import gettext as _babel_gettext
from flask_babel import lazy_gettext as _babel_lazy_gettext
from flask_babel import ngettext as _babel_ngettext
from flask_babel.speaklater import LazyString

__all__ = ["COOKIE", "DEFAULT", "LANGUAGES", "N_", "LazyString", "Text", "gettext",
           "init_app", "language", "lazy_gettext", "ngettext", "speaking"]

LANGUAGES: Final = {"en": "English", "it": "Italiano"}
"""The languages offered (code: its name in that language, as the switch shows it)."""
DEFAULT: Final = "en"
COOKIE: Final = "vault_lang"
"""A preference, not a secret: shared by every launch (port) of the app on this computer."""

TRANSLATIONS: Final = Path(__file__).resolve().parent / "translations"
"""The catalogs (``it/LC_MESSAGES/messages.mo``). Resolved: an editable install in "strict"
mode is a tree of links made when it was installed, which may predate a new catalog."""

Text = str | LazyString
"""A sentence for a person: a string, or a lazy one (translated when it is shown)."""


def gettext(msgid: str, **variables: object) -> str:
    """*msgid* in the page's language, with ``%(name)s`` *variables* filled in."""
    return str(_babel_gettext(msgid, **variables))


def ngettext(singular: str, plural: str, num: int, **variables: object) -> str:
    """*singular* or *plural* (by *num*, also available as ``%(num)d``), translated."""
    return str(_babel_ngettext(singular, plural, num, **variables))


def lazy_gettext(msgid: str) -> LazyString:
    """*msgid*, translated each time it is shown (module-level constants; no variables)."""
    lazy: LazyString = _babel_lazy_gettext(msgid)
    return lazy


def N_(msgid: str) -> str:
    """Mark *msgid* for extraction only (pybabel looks for ``N_``): a template translates
    it with ``_(label)``."""
    return msgid


def select_language() -> str:
    """The language for this request (see the module's notes)."""
    if not has_request_context():  # a background thread: see speaking()
        return DEFAULT
    chosen = request.cookies.get(COOKIE)
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(list(LANGUAGES), default=DEFAULT) or DEFAULT


def language() -> str:
    """The code of the language being shown (English outside the app)."""
    if not has_app_context():
        return DEFAULT
    locale = get_locale()
    return locale.language if locale is not None else DEFAULT


@contextmanager
def speaking(app: Flask, code: str) -> Iterator[None]:
    """Translate into *code* outside a request (a background thread that reports to a page:
    the page's language is taken while handling its request, then used here)."""
    with app.app_context(), force_locale(code):
        yield


def init_app(app: Flask) -> None:
    """Install Flask-Babel (which also gives the templates ``_``, ``gettext`` and
    ``ngettext``), the passphrase meter's filters (:mod:`vault_app.strength_words`), and
    give every template the page's language and the choices."""
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS))
    Babel(app, locale_selector=select_language,  # type: ignore[no-untyped-call]
          default_locale=DEFAULT)

    from vault_app.strength_words import crack_time, strength_words

    app.jinja_env.filters["strength_words"] = strength_words
    app.jinja_env.filters["crack_time"] = crack_time

    @app.context_processor
    def inject_language() -> dict[str, object]:
        return {"page_language": language(), "languages": LANGUAGES}
