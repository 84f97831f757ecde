// The member app's only script of its own (no inline script: the CSP forbids it).
// 1. htmx requests carry the session's CSRF token from <meta name="csrf-token">.
// 2. A group's page follows its live stream (Server-Sent Events) and reloads the feed
//    fragment when something new arrives, without losing what the person is doing.
// 3. Pictures behind a content warning are loaded only when the warning is opened.
// 4. Disappearing posts count down ("disappears in 2 h 15 min"), every 30 seconds.
// 5. The compose form says at once when chosen files are too many or too large.
// 6. Every page shown unlocked leaves the screen once the device locks (Lock now in another
//    tab, the idle lock): it asks <meta name="vault-status"> every 15 seconds, when the tab
//    comes back into view, and when another tab shows a locked page; on "locked" it goes
//    to the unlock page with location.replace, so Back does not bring it back.
// 7. Notifications (once the person allows them): a post from someone else arriving while
//    the group's page is open in a tab they are not looking at shows "New post in <group>",
//    never who wrote it or what; off for a group the person turned them off for.
// Member text is never put into the page as HTML here: status lines use textContent.
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  document.addEventListener("htmx:configRequest", function (event) {
    event.detail.headers["X-CSRF-Token"] = csrfToken();
  });

  function followGroup() {
    var live = document.getElementById("live");
    if (!live || typeof EventSource === "undefined") {
      return;
    }
    var feedUrl = live.getAttribute("data-feed-url");
    var status = document.getElementById("live-status");
    var showNew = document.getElementById("show-new");
    var source = new EventSource(live.getAttribute("data-live-url"));

    function say(text) {
      if (status) {
        status.textContent = text;
      }
    }

    // Someone typing a reply, or with a menu open in the feed, must not have it replaced
    // under them: then a button offers the new posts instead.
    function busyInFeed() {
      var feed = document.getElementById("feed");
      var active = document.activeElement;
      if (!feed || !active || !feed.contains(active)) {
        return false;
      }
      return active.tagName === "TEXTAREA" || active.tagName === "INPUT" ||
        !!active.closest("details.reply-box[open]");
    }

    function refresh() {
      var feed = document.getElementById("feed");
      if (!feed || typeof htmx === "undefined") {
        return;
      }
      // Keep revealed content warnings revealed after the swap.
      var open = [];
      feed.querySelectorAll("details[open]").forEach(function (d) {
        if (d.id) { open.push(d.id); }
      });
      // As many conversations as the person has in front of them (they may have asked
      // for older ones).
      var url = feedUrl + "?show=" + encodeURIComponent(feed.getAttribute("data-show") || "") +
        (document.visibilityState === "visible" ? "&visible=1" : "");
      htmx.ajax("GET", url, { target: "#feed", swap: "outerHTML" }).then(function () {
        open.forEach(function (id) {
          var d = document.getElementById(id);
          if (d) { d.open = true; }
        });
        if (showNew) { showNew.hidden = true; }
      });
    }

    if (showNew) {
      showNew.addEventListener("click", refresh);
    }

    source.addEventListener("update", function (event) {
      say("");
      notifyNew(live, event.data);
      if (busyInFeed()) {
        if (showNew) { showNew.hidden = false; }
      } else {
        refresh();
      }
    });
    source.addEventListener("problem", function (event) {
      try {
        var problem = JSON.parse(event.data);
        say(problem.text + " " + problem.advice);
      } catch (ignored) {
        say("");
      }
    });
    source.addEventListener("locked", function () {
      source.close();
      window.location.reload();  // the server shows the unlock page
    });
    source.addEventListener("gone", function () {
      source.close();
      window.location.reload();  // an owner deleted the group: the groups list says so
    });
  }

  // --- notifications ---------------------------------------------------------------------------
  function notifyNew(live, data) {
    var count = 0;
    try { count = (JSON.parse(data || "{}") || {}).new || 0; } catch (ignored) { count = 0; }
    if (count > 0 && live.getAttribute("data-notify") === "1" &&
        typeof Notification !== "undefined" && Notification.permission === "granted" &&
        document.visibilityState !== "visible") {
      new Notification(live.getAttribute("data-notify-text") || "", { tag: "vault-new-posts" });
    }
  }

  function offerNotifications() {
    var ask = document.getElementById("notify-ask");
    var allow = document.getElementById("notify-allow");
    if (!ask || !allow || typeof Notification === "undefined" ||
        Notification.permission !== "default") {
      return;
    }
    ask.hidden = false;
    allow.addEventListener("click", function () {
      Notification.requestPermission().then(function () { ask.hidden = true; });
    });
  }

  // --- pictures behind a content warning ---------------------------------------------------
  // The page holds only a placeholder (data-src): a closed warning never loads the picture.
  function showPictures(details) {
    details.querySelectorAll(".deferred-image[data-src]").forEach(function (spot) {
      // (a warning still closed inside an opened fold keeps its pictures unloaded)
      if (spot.closest("details:not([open])")) { return; }
      var img = document.createElement("img");
      img.src = spot.getAttribute("data-src");
      img.alt = spot.getAttribute("data-alt") || "";
      img.loading = "lazy";
      img.className = "attached-image";
      spot.replaceWith(img);
    });
  }

  // "toggle" does not bubble: listen in the capture phase, for the feed's swaps too.
  document.addEventListener("toggle", function (event) {
    var details = event.target;
    if (details && details.tagName === "DETAILS" && details.open) {
      showPictures(details);
    }
  }, true);

  // --- disappearing posts ---------------------------------------------------------------------
  function countdownText(feed, ms) {
    var minutes = Math.max(0, Math.floor((ms - Date.now()) / 60000));
    var days = Math.floor(minutes / 1440);
    var hours = Math.floor((minutes % 1440) / 60);
    var mins = minutes % 60;
    var kind = days ? "days" : hours ? "hours" : mins ? "minutes" : "soon";
    var format = feed.getAttribute("data-countdown-" + kind) || "";
    return format.replace("{d}", String(days)).replace("{h}", String(hours))
      .replace("{m}", String(mins));
  }

  function updateCountdowns() {
    var feed = document.getElementById("feed");
    if (!feed) {
      return;
    }
    feed.querySelectorAll("[data-expires-at]").forEach(function (mark) {
      var ms = parseInt(mark.getAttribute("data-expires-at"), 10);
      if (!isNaN(ms)) {
        mark.textContent = countdownText(feed, ms);
      }
    });
  }

  // --- the compose form's files ---------------------------------------------------------------
  function checkFiles(input) {
    var problem = document.getElementById("attachments-problem");
    var max = parseInt(input.getAttribute("data-max-files"), 10);
    var largest = parseInt(input.getAttribute("data-max-bytes"), 10);
    var text = "";
    if (input.files.length > max) {
      text = input.getAttribute("data-too-many") || "";
    } else {
      for (var i = 0; i < input.files.length; i += 1) {
        if (input.files[i].size > largest) {
          text = (input.getAttribute("data-too-large") || "").replace("{name}", input.files[i].name);
          break;
        }
      }
    }
    input.setCustomValidity(text);
    if (problem) {
      problem.textContent = text;
      problem.hidden = !text;
    }
  }

  function watchFiles() {
    var input = document.getElementById("attachments");
    if (input) {
      input.addEventListener("change", function () { checkFiles(input); });
    }
  }

  // --- leaving the screen when the device locks ----------------------------------------------
  var STATUS_EVERY_MS = 15000;
  var channel = typeof BroadcastChannel !== "undefined" ? new BroadcastChannel("vault") : null;
  var unloading = false;
  window.addEventListener("beforeunload", function () { unloading = true; });

  function statusUrl() {
    var meta = document.querySelector('meta[name="vault-status"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function leave(location) {
    var next = window.location.pathname + window.location.search;
    window.location.replace(location + (location.indexOf("?") < 0 ? "?" : "&") +
      "next=" + encodeURIComponent(next));
  }

  function checkStatus() {
    var url = statusUrl();
    if (!url || typeof fetch === "undefined") {
      return;
    }
    fetch(url, { credentials: "same-origin", cache: "no-store", redirect: "error" })
      .then(function (response) {
        if (response.status === 204) {
          return;
        }
        if (response.status === 200) {  // {"locked": true, "location": the unlock page}
          return response.json().then(function (answer) { leave(answer.location); });
        }
        // No session any more (Vault was started again): the server's own page says so.
        window.location.replace(window.location.href);
      })
      .catch(function () {
        // Vault stopped (it locks when it stops): nothing read may stay on the screen.
        // (Not when the request failed because the person is going to another page.)
        if (!unloading) {
          window.location.replace(window.location.href);
        }
      });
  }

  function watchLock() {
    if (statusUrl()) {
      window.setInterval(checkStatus, STATUS_EVERY_MS);
      document.addEventListener("visibilitychange", function () {
        if (document.visibilityState === "visible") { checkStatus(); }
      });
      if (channel) {
        channel.onmessage = checkStatus;
      }
    } else if (channel && csrfToken()) {
      // A page shown locked (after Lock now, say): the other tabs check at once.
      channel.postMessage("locked");
    }
  }

  // A page brought back from the back/forward cache is asked for again (and checked).
  window.addEventListener("pageshow", function (event) {
    if (event.persisted && statusUrl()) {
      window.location.reload();
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    watchLock();
    followGroup();
    offerNotifications();
    watchFiles();
    document.querySelectorAll("details[open]").forEach(showPictures);
    updateCountdowns();
    window.setInterval(updateCountdowns, 30000);
  });
  document.addEventListener("htmx:afterSwap", updateCountdowns);
})();
