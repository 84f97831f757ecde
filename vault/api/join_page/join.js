// The invite page's only script. It reads the invite from this page's own address (the part
// after "#", which the browser never sends to any server), shows it in a read-only field and
// copies it to the clipboard on request. It makes no request, submits no form and navigates
// nowhere; it takes the invite out of the address (and the history entry) it came in: the
// invite stays in this page, and in the clipboard if the person asks.
"use strict";

(function () {
  var hash = window.location.hash;
  var found = document.getElementById("has-invite");
  var missing = document.getElementById("no-invite");
  var field = document.getElementById("invite-link");
  var button = document.getElementById("copy");
  var status = document.getElementById("copy-status");
  var manual = document.getElementById("manual");

  if (!hash || hash === "#") {
    manual.hidden = true;
    missing.hidden = false;
    return;
  }

  // The invite as it was scanned: this page's address without any query, with the fragment.
  var invite = window.location.origin + window.location.pathname + hash;
  // Then out of the address bar and the browser's history (a phone someone else may look
  // through): from here on the invite lives in this page only. This sends nothing.
  history.replaceState(null, "", window.location.pathname);
  field.value = invite;
  manual.hidden = true;
  found.hidden = false;

  function say(text) {
    status.textContent = text;
  }

  function copied() {
    say("Copied. Now open the Vault app on this computer, choose \u201cJoin a group\u201d " +
        "and paste the link there (Ctrl+V, or \u2318V on a Mac).");
  }

  function copyBySelection() {
    field.focus();
    field.select();
    var done = false;
    try {
      done = document.execCommand("copy");
    } catch (ignored) {
      done = false;
    }
    if (done) {
      copied();
    } else {
      say("This browser did not let the page copy the link. It is selected in the box " +
          "below: copy it yourself (Ctrl+C, or \u2318C on a Mac, or press and hold on a " +
          "phone), then paste it into the Vault app\u2019s \u201cJoin a group\u201d box.");
    }
  }

  button.addEventListener("click", function () {
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(invite).then(copied, copyBySelection);
    } else {
      copyBySelection();
    }
  });

  field.addEventListener("focus", function () {
    field.select();
  });
})();
