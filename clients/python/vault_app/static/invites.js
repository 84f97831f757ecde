// The invite and join pages' script (no inline script: the CSP forbids it).
// 1. "Copy": puts the invite link on the clipboard (navigator.clipboard, else the old way).
// 2. "Scan with this computer's camera": reads frames from getUserMedia into a canvas in
//    this page and decodes them with the vendored jsQR; the link found goes into the link
//    box. Nothing is recorded, uploaded or sent: the frames never leave this window, and
//    the camera is turned off as soon as a code is read, or the person stops it.
// Text shown comes from data-* attributes (translated by the server), set with textContent.
(function () {
  "use strict";

  function setupCopy() {
    var button = document.querySelector("button[data-copy]");
    if (!button) {
      return;
    }
    var field = document.getElementById(button.getAttribute("data-copy"));
    var status = document.getElementById("copy-status");
    if (!field) {
      return;
    }
    button.hidden = false;

    function say(key) {
      if (status) { status.textContent = status.getAttribute("data-" + key) || ""; }
    }

    function oldWay() {
      field.focus();
      field.select();
      var done = false;
      try {
        done = document.execCommand("copy");
      } catch (ignored) {
        done = false;
      }
      say(done ? "copied" : "by-hand");
    }

    button.addEventListener("click", function () {
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(field.value).then(function () {
          say("copied");
        }, oldWay);
      } else {
        oldWay();
      }
    });
  }

  function looksLikeInvite(text) {
    return typeof text === "string" && /^https?:\/\/\S+\/join#v1\.\S+$/.test(text.trim());
  }

  function setupCamera() {
    var start = document.getElementById("camera-start");
    var stop = document.getElementById("camera-stop");
    var video = document.getElementById("camera-video");
    var status = document.getElementById("camera-status");
    var link = document.getElementById("link");
    var next = document.getElementById("display_name");
    if (!start || !stop || !video || !status || !link) {
      return;
    }

    function say(key) {
      status.textContent = status.getAttribute("data-" + key) || "";
    }

    var canUse = !!(navigator.mediaDevices && navigator.mediaDevices.getUserMedia) &&
      typeof window.jsQR === "function";
    if (!canUse) {
      say("unavailable");
      return;
    }
    start.hidden = false;

    var stream = null;
    var frame = 0;
    var canvas = document.createElement("canvas");
    var context = canvas.getContext("2d", { willReadFrequently: true });

    function stopCamera() {
      if (frame) {
        window.cancelAnimationFrame(frame);
        frame = 0;
      }
      if (stream) {
        stream.getTracks().forEach(function (track) { track.stop(); });
        stream = null;
      }
      video.pause();
      video.srcObject = null;
      video.hidden = true;
      stop.hidden = true;
      start.hidden = false;
    }

    function look() {
      frame = 0;
      if (!stream) {
        return;
      }
      if (video.readyState >= video.HAVE_ENOUGH_DATA && video.videoWidth > 0) {
        // Scale big frames down: quicker, and a QR code held up to a camera stays readable.
        var scale = Math.min(1, 800 / Math.max(video.videoWidth, video.videoHeight));
        canvas.width = Math.round(video.videoWidth * scale);
        canvas.height = Math.round(video.videoHeight * scale);
        context.drawImage(video, 0, 0, canvas.width, canvas.height);
        var image = context.getImageData(0, 0, canvas.width, canvas.height);
        var code = window.jsQR(image.data, image.width, image.height,
                               { inversionAttempts: "attemptBoth" });
        if (code && code.data) {
          if (looksLikeInvite(code.data)) {
            link.value = code.data.trim();
            stopCamera();
            say("found");
            if (next) { next.focus(); }
            return;
          }
          say("not-invite");
        }
      }
      frame = window.requestAnimationFrame(look);
    }

    start.addEventListener("click", function () {
      say("looking");
      navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false })
        .then(function (media) {
          stream = media;
          video.srcObject = media;
          video.hidden = false;
          start.hidden = true;
          stop.hidden = false;
          stop.focus();
          return video.play();
        })
        .then(function () {
          frame = window.requestAnimationFrame(look);
        })
        .catch(function () {
          stopCamera();
          say("denied");
        });
    });
    stop.addEventListener("click", function () {
      stopCamera();
      status.textContent = "";
      start.focus();
    });
    window.addEventListener("pagehide", stopCamera);
  }

  document.addEventListener("DOMContentLoaded", function () {
    setupCopy();
    setupCamera();
  });
})();
