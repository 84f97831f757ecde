"""This device's keystore: the first-run page (a new passphrase, twice, its strength shown),
unlocking, and "Lock now"."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, render_template, request, url_for
from vault_client import PassphraseStrength, passphrase_strength

from vault_app.i18n import gettext, lazy_gettext
from vault_app.messages import Message
from vault_app.views.common import ViewResult, current_device, go, notify, problem_for, safe_next

blueprint = Blueprint("device", __name__)

MISMATCH = Message(lazy_gettext("The two passphrases are not the same."),
                   lazy_gettext("Type the same passphrase twice."))
EMPTY = Message(lazy_gettext("Type your passphrase."))


def strength_or_none(passphrase: str) -> PassphraseStrength | None:
    return passphrase_strength(passphrase) if passphrase else None


@blueprint.route("/welcome", methods=["GET", "POST"])
def welcome() -> ViewResult:
    """First run: make this device's keystore under a new passphrase."""
    dev = current_device()
    if dev.has_keystore:
        return go(url_for("device.unlock"))
    if request.method == "GET":
        return render_template("device/welcome.html", strength=None, problem=None)
    passphrase = request.form.get("passphrase", "")
    confirm = request.form.get("confirm", "")
    strength = strength_or_none(passphrase)
    problem = None
    if not passphrase:
        problem = EMPTY
    elif passphrase != confirm:
        problem = MISMATCH
    else:
        try:
            dev.unlock(passphrase)  # refuses a guessable passphrase, in the SDK's words
        except Exception as error:
            problem = problem_for(error)
        else:
            return go(url_for("groups.index"))
    return render_template("device/welcome.html", strength=strength, problem=problem), 422


@blueprint.post("/passphrase-strength")
def strength() -> ViewResult:
    """The strength meter, for htmx while the person types (it stays on this computer: the
    browser sends it to this app on 127.0.0.1 only)."""
    return render_template("device/_strength.html",
                           strength=strength_or_none(request.form.get("passphrase", "")))


@blueprint.route("/unlock", methods=["GET", "POST"])
def unlock() -> ViewResult:
    dev = current_device()
    if not dev.has_keystore:
        return go(url_for("device.welcome"))
    target = safe_next(request.values.get("next"))
    if dev.unlocked:
        return go(target)
    if request.method == "GET":
        return render_template("device/unlock.html", next=target, problem=None)
    passphrase = request.form.get("passphrase", "")
    if not passphrase:
        problem = EMPTY
    else:
        try:
            dev.unlock(passphrase)
        except Exception as error:
            problem = problem_for(error)
        else:
            return go(target)
    return render_template("device/unlock.html", next=target, problem=problem), 422


@blueprint.get("/status")
def status() -> ViewResult:
    """Whether the keystore is still open, for static/app.js: every page shown unlocked asks
    every few seconds (a passive request: it does not keep the device open), and leaves the
    screen for the unlock page once the answer is no (Lock now in another tab, idle lock),
    so nothing read stays in front of whoever comes to the computer next.

    204 while unlocked; locked, a 200 saying so and where to go (not a 4xx status, which
    browsers log as an error in the console of every open page)."""
    dev = current_device()
    if dev.unlocked:
        return Response(status=204)
    where = url_for("device.unlock") if dev.has_keystore else url_for("device.welcome")
    return jsonify(locked=True, location=where)


@blueprint.post("/lock")
def lock() -> ViewResult:
    current_device().lock()
    notify(Message(gettext("Vault is locked."),
                   gettext("Nobody can read your groups on this computer until the passphrase "
                           "is typed again.")))
    back = request.form.get("next")
    return go(url_for("device.unlock", next=safe_next(back)) if back
              else url_for("device.unlock"))
