"""English and Italian (DESIGN §7, issue 11 "Accessibility and language"): the page's
language comes from the browser's choice (the switch at the foot of every page, a cookie),
else its Accept-Language, else English; the Italian catalog translates every string the app
has, with the same placeholders; and the problems of vault_app.messages speak Italian too.

Flask's test client, no relay, no browser."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import vault_app
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from flask import Flask, render_template
from vault_app import AppSettings, create_app, messages, text
from vault_app.i18n import COOKIE, LazyString, lazy_gettext
from vault_client import errors as er
from vault_client import events as ev
from vault_client.errors import all_error_classes

from tests.app.conftest import PORT, Browser

APP_DIR = Path(vault_app.__file__).resolve().parent
PO = APP_DIR / "translations" / "it" / "LC_MESSAGES" / "messages.po"
MO = PO.with_suffix(".mo")
BABEL_CFG = APP_DIR / "babel.cfg"
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "N_": None}
"""What translations/README.md passes to ``pybabel extract`` (-k lazy_gettext -k N_)."""

IT = {"Accept-Language": "it-IT,it;q=0.9,en;q=0.5"}
EN = {"Accept-Language": "en-GB,en;q=0.9"}


def page(response) -> str:  # type: ignore[no-untyped-def]
    return str(response.get_data(as_text=True))


def lang_of(html: str) -> str:
    found = re.search(r'<html lang="([^"]+)">', html)
    assert found, html[:200]
    return found.group(1)


def italian_catalog() -> Catalog:
    with PO.open("rb") as fh:
        return read_po(fh, locale="it")


def forms(message: Message) -> list[tuple[str, str]]:
    """(msgid, msgstr) pairs: one, or one per plural form (Italian: singular, plural)."""
    if isinstance(message.id, tuple | list):
        ids, strings = list(message.id), list(message.string)
        return [(ids[min(i, len(ids) - 1)], s) for i, s in enumerate(strings)]
    return [(message.id, message.string)]


# --- which language a page is in ---------------------------------------------------------------


def test_the_welcome_page_follows_the_browsers_language(browser: Browser) -> None:
    html = page(browser.get("/welcome", headers=IT))
    assert lang_of(html) == "it"
    assert "Ti diamo il benvenuto in Vault" in html
    assert "Scegli una frase segreta di quattro o più parole" in html
    assert "Crea il mio Vault" in html and "Create my Vault" not in html
    assert "Lingua:" in html


def test_english_without_a_preference_and_for_other_languages(browser: Browser) -> None:
    for headers in ({}, EN, {"Accept-Language": "de-DE,de;q=0.9,fr;q=0.8"}):
        html = page(browser.get("/welcome", headers=headers))
        assert lang_of(html) == "en"
        assert "Welcome to Vault" in html and "Ti diamo il benvenuto" not in html


def test_the_unlock_page_and_the_lock_notice_in_italian(unlocked: Browser) -> None:
    response = unlocked.post("/lock", headers=IT)
    assert response.status_code == 303
    response = unlocked.get("/unlock", headers=IT)
    html = page(response)
    assert lang_of(html) == "it"
    assert "<h1>Vault è bloccato</h1>" in html
    assert "La tua frase segreta" in html and ">Sblocca</button>" in html
    # the notice was made while handling the Italian "Lock now"
    assert "Nessuno può leggere i tuoi gruppi su questo computer" in html
    # the link inside a translated sentence is still a link (and the sentence whole)
    assert ('Puoi cancellare Vault da questo computer nelle <a href="/settings">Impostazioni</a>'
            in html)


def test_a_wrong_passphrase_is_explained_in_italian(unlocked: Browser) -> None:
    unlocked.post("/lock")
    response = unlocked.post("/unlock", {"passphrase": "not the passphrase at all"},
                             headers=IT)
    assert response.status_code == 422
    assert "Questa frase segreta non apre Vault su questo computer." in page(response)


def test_the_groups_page_in_italian(unlocked: Browser) -> None:
    html = page(unlocked.get("/", headers=IT))
    assert lang_of(html) == "it"
    assert "<h1>I tuoi gruppi</h1>" in html
    assert "Non fai ancora parte di nessun gruppo." in html
    assert "Crea un gruppo" in html and ">Blocca ora</button>" in html
    assert "Entra in un gruppo" in html and "Impostazioni" in html  # the navigation
    assert "Your groups" not in html


def test_the_refusal_page_speaks_the_browsers_language(settings: AppSettings) -> None:
    app = create_app(settings, {"TESTING": True, "SERVER_NAME": f"127.0.0.1:{PORT}"})
    response = app.test_client().get("/", headers=IT)
    html = page(response)
    assert response.status_code == 403 and lang_of(html) == "it"
    assert "Per aprire Vault, usa il link che il comando «vault app» ha mostrato" in html
    assert 'action="/language"' not in html  # no session: no switch (it could not post)


# --- the switch --------------------------------------------------------------------------------


def test_the_switch_sets_the_cookie_and_flips_the_language(unlocked: Browser) -> None:
    html = page(unlocked.get("/settings", headers=EN))
    assert lang_of(html) == "en"
    assert 'action="/language"' in html and 'name="lang" value="it"' in html
    assert 'aria-pressed="true">English</button>' in html

    response = unlocked.post("/language", {"lang": "it", "next": "/settings"}, headers=EN)
    assert response.status_code == 303
    assert response.headers["Location"] == "/settings"  # back where the person was
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith(f"{COOKIE}=it;")
    attributes = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "samesite=strict", "path=/"} <= attributes

    # the choice beats the browser's Accept-Language from now on
    html = page(unlocked.get("/settings", headers=EN))
    assert lang_of(html) == "it"
    assert "<h1>Impostazioni</h1>" in html and 'aria-pressed="true">Italiano</button>' in html

    unlocked.post("/language", {"lang": "en", "next": "/settings"}, headers=IT)
    html = page(unlocked.get("/settings", headers=IT))
    assert lang_of(html) == "en" and "<h1>Settings</h1>" in html


def test_the_switch_works_before_the_first_unlock(browser: Browser) -> None:
    response = browser.post("/language", {"lang": "it", "next": "/welcome"})
    assert response.status_code == 303 and response.headers["Location"] == "/welcome"
    assert lang_of(page(browser.get("/welcome"))) == "it"


def test_the_switch_needs_the_csrf_token_and_our_origin(unlocked: Browser) -> None:
    for response in (unlocked.post("/language", {"lang": "it"}, csrf=False),
                     unlocked.post("/language", {"lang": "it"}, origin="http://evil.example")):
        assert response.status_code == 403
        assert "Set-Cookie" not in response.headers
    assert lang_of(page(unlocked.get("/", headers=EN))) == "en"


@pytest.mark.parametrize("lang", ["", "de", "it-IT", "en; path=/x"])
def test_the_switch_only_takes_an_offered_language(unlocked: Browser, lang: str) -> None:
    response = unlocked.post("/language", {"lang": lang})
    assert response.status_code == 400
    assert "Set-Cookie" not in response.headers


def test_the_switch_goes_back_only_to_this_app(unlocked: Browser) -> None:
    for target in ("//evil.example/x", "https://evil.example/", "\\\\evil"):
        response = unlocked.post("/language", {"lang": "it", "next": target})
        assert response.status_code == 303
        assert response.headers["Location"] == "/"


def test_a_cookie_with_another_value_is_ignored(unlocked: Browser) -> None:
    unlocked.client.set_cookie(COOKIE, "xx", domain="127.0.0.1")
    assert lang_of(page(unlocked.get("/", headers=IT))) == "it"
    assert lang_of(page(unlocked.get("/", headers=EN))) == "en"


# --- the catalog -------------------------------------------------------------------------------


def test_every_string_has_an_italian_translation() -> None:
    untranslated = [message.id for message in italian_catalog()
                    if message.id and (not all(s.strip() for _, s in forms(message))
                                       or message.fuzzy)]
    assert not untranslated, (
        "Untranslated (or fuzzy) in translations/it/LC_MESSAGES/messages.po:\n"
        + "\n".join(repr(i) for i in untranslated))


def test_the_catalog_has_every_string_the_app_marks() -> None:
    """A string marked in a template or in Python but not extracted into the catalog yet
    (see translations/README.md: extract, update, translate, compile)."""
    with BABEL_CFG.open(encoding="utf-8") as fh:
        method_map, options_map = _read_mapping(fh)
    found = {(msgid if isinstance(msgid, str) else msgid[0])
             for _, _, msgid, _, _ in extract_from_dir(str(APP_DIR), method_map, options_map,
                                                       keywords=KEYWORDS)}
    known = {message.id if isinstance(message.id, str) else message.id[0]
             for message in italian_catalog() if message.id}
    missing = sorted(found - known)
    assert not missing, "Not in messages.po yet:\n" + "\n".join(repr(m) for m in missing)


def _read_mapping(fh):  # type: ignore[no-untyped-def]
    from babel.messages.frontend import parse_mapping_cfg
    return parse_mapping_cfg(fh)


def test_placeholders_and_tags_are_kept() -> None:
    placeholder = re.compile(r"%\([a-z_]+\)[sd]|%[sd]")
    tag = re.compile(r"</?[a-z]+[^>]*>")
    wrong = []
    for message in italian_catalog():
        if not message.id:
            continue
        for msgid, msgstr in forms(message):
            if sorted(placeholder.findall(msgid)) != sorted(placeholder.findall(msgstr)) \
                    or tag.findall(msgid) != tag.findall(msgstr):
                wrong.append(f"{msgid!r} -> {msgstr!r}")
            # Jinja's newstyle gettext always %-formats: a lone % would break the page
            if "%" in placeholder.sub("", msgstr).replace("%%", ""):
                wrong.append(f"stray % in {msgstr!r}")
    assert not wrong, "\n".join(wrong)


def test_the_compiled_catalog_matches_the_po() -> None:
    def entries(catalog: Catalog) -> dict[object, object]:
        return {_key(m.id): _key(m.string) for m in catalog if m.id}

    with MO.open("rb") as fh:
        compiled = entries(read_mo(fh))
    assert compiled == entries(italian_catalog()), \
        "messages.mo is older than messages.po: run pybabel compile (translations/README.md)"


def _key(value: object) -> object:
    return value if isinstance(value, str) else tuple(value)  # type: ignore[call-overload]


# --- vault_app.messages and the text filters in Italian ---------------------------------------


@pytest.fixture
def app(settings: AppSettings) -> Iterator[Flask]:
    made = create_app(settings, {"TESTING": True, "SERVER_NAME": f"127.0.0.1:{PORT}"})
    yield made
    made.extensions["vault_device"].shutdown()


ERRORS = sorted(all_error_classes().items())


@pytest.mark.parametrize(("code", "cls"), ERRORS, ids=[code for code, _ in ERRORS])
def test_every_error_message_comes_out_italian(app: Flask, code: str, cls: type) -> None:
    error = cls("the post is too large (limit 32768 bytes)")
    with app.test_request_context(headers=EN):
        english = messages.for_error(error)
    with app.test_request_context(headers=IT):
        italian = messages.for_error(error)
        assert str(italian.text) != str(english.text)
        assert str(italian.advice) != str(english.advice)
        assert "too large" not in str(italian.text)  # the SDK's English is not shown


def test_messages_are_italian_under_it(app: Flask) -> None:
    with app.test_request_context(headers=IT):
        assert messages.for_error(er.KeystoreLockedError("x")).text \
            == "Questa frase segreta non apre Vault su questo computer."
        assert str(messages.UNEXPECTED.text) \
            == "Su questo computer è successo qualcosa di imprevisto."
        assert str(messages.LOCKED.text) == "Vault è bloccato."
        withheld = ev.PostsWithheld(group_id="g", message="m", author="id-1", count=3,
                                    missing=((1, 3),))
        assert messages.for_warning(withheld, lambda member: "Ben").text \
            == "3 messaggi di Ben non sono arrivati su questo computer."
        one = ev.PostsWithheld(group_id="g", message="m", author="id-1", count=1,
                               missing=((1, 1),))
        assert messages.for_warning(one, lambda member: "Ben").text \
            == "Un messaggio di Ben non è arrivato su questo computer."
    # the same constant, shown to an English page
    with app.test_request_context(headers=EN):
        assert str(messages.UNEXPECTED.text) == "Something unexpected went wrong on this computer."


WARNINGS = [cls for cls in vars(ev).values()
            if isinstance(cls, type) and issubclass(cls, ev.SyncWarning)
            and cls is not ev.SyncWarning]


@pytest.mark.parametrize("cls", WARNINGS, ids=[cls.__name__ for cls in WARNINGS])
def test_every_sync_warning_comes_out_italian(app: Flask, cls: type) -> None:
    from tests.app.test_messages import fill
    warning = fill(cls)
    with app.test_request_context(headers=EN):
        english = messages.for_warning(warning, lambda member: "Ben")  # type: ignore[arg-type]
    with app.test_request_context(headers=IT):
        italian = messages.for_warning(warning, lambda member: "Ben")  # type: ignore[arg-type]
    assert italian.text != english.text and italian.advice != english.advice


def test_a_lazy_message_is_escaped_like_any_text(app: Flask) -> None:
    """A lazy string passes as markup in Jinja; _message.html makes it plain text first."""
    problem = messages.Message(lazy_gettext("<b>not a tag</b>"))
    assert isinstance(problem.text, LazyString)
    with app.test_request_context():
        html = render_template("_message.html", message=problem)
    assert "&lt;b&gt;not a tag&lt;/b&gt;" in html and "<b>" not in html


def test_times_are_written_in_italian(app: Flask) -> None:
    moment = 1_772_546_700_000  # Tue 3 Mar 2026, in any time zone near UTC
    now = moment - 3 * 3600 * 1000 - 5000
    with app.test_request_context(headers=IT):
        assert text.time_left(moment, now) == "3 ore"
        assert text.time_left(now + 90_000, now) == "un minuto"
        assert text.time_left(now + 5000, now) == "meno di un minuto"
        assert re.fullmatch(r"\w{3} \d{1,2} \w{3} 2026, \d\d:\d\d", text.when(moment))
        assert "mar 2026" in text.when(moment)
    with app.test_request_context(headers=EN):
        assert text.time_left(moment, now) == "3 hours"
        assert "Mar 2026" in text.when(moment)


def test_the_passphrase_meter_speaks_italian(app: Flask) -> None:
    from vault_app.strength_words import KNOWN, crack_time, strength_words
    with app.test_request_context(headers=IT):
        assert crack_time("3 hours") == "3 ore" and crack_time("1 month") == "1 mese"
        assert crack_time("centuries") == "secoli"
        assert strength_words("This is a very common password.") \
            == "È una password molto comune."
        assert strength_words("something new") == "something new"  # not ours: as it is
        assert all(strength_words(sentence) != sentence for sentence in KNOWN)


def test_the_welcome_meter_in_italian(browser: Browser) -> None:
    response = browser.post("/welcome", {"passphrase": "password", "confirm": "password"},
                            headers=IT)
    html = page(response)
    assert response.status_code == 422 and "Troppo facile da indovinare." in html
    assert "È una delle 10 password più comuni." in html


def test_the_views_own_sentences_come_out_italian(app: Flask) -> None:
    """Sentences and labels the views make in Python (not only the templates' own)."""
    from vault_app import files
    from vault_app.i18n import gettext
    from vault_app.views import admin, groups, invites, manage, posts
    from vault_client import Role

    with app.test_request_context(headers=IT):
        assert str(groups.STATUS_TEXT["left"].text) == "Hai lasciato questo gruppo."
        assert str(invites.ANYONE_WITH_IT.text).startswith("Chiunque abbia questo link")
        assert gettext(posts.QUEUED["reply"]).startswith("La tua risposta è salvata")
        assert gettext(admin.NOW_ROLE[Role.MODERATOR], name="Ben") \
            == "Ben ora ha il ruolo di moderatore."
        assert manage.history_label("all") == "Tutto ciò che questo computer può leggere"
        assert manage.history_label(3) == "Tutto a partire dalla chiave numero 3"
        assert files.size_text(4_200_000) == "4,2 MB"
    with app.test_request_context(headers=EN):
        assert str(groups.STATUS_TEXT["left"].text) == "You left this group."
        assert gettext(admin.NOW_ROLE[Role.MODERATOR], name="Ben") == "Ben is now moderator."
        assert manage.history_label(3) == "Everything from key number 3 on"
        assert files.size_text(4_200_000) == "4.2 MB"
