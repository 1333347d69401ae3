// Browser notifications (opt-in on the notifications page): when a live fragment shows one of the
// member's renders reaching an end (complete, failed, cancelled; the SSE stream of the renders
// pages) or one of their gallery preparations (character, scene, template import) turning ready
// or failed (the gallery card's and the asset page's live fragment).
(function () {
  "use strict";
  const FINAL = ["complete", "failed", "cancelled", "ready"];
  const seen = {};
  function granted() {
    return "Notification" in window && Notification.permission === "granted";
  }
  function optedIn(el) {
    // The body carries the member's id when they opted in; only their own work notifies.
    const me = document.body && document.body.getAttribute("data-notify-browser");
    return !!me && el.dataset.owner === me;
  }
  function show(title, body) {
    if (!granted()) return;
    try { new Notification(title, { body: body, tag: title + body }); } catch (e) { /* ignored */ }
  }
  function key(el) {
    return el.dataset.notifyId || el.id;
  }
  function watched(root) {
    // The element itself and everything inside it that carries an owner's status.
    const found = [];
    if (!root || !root.querySelectorAll) return found;
    if (root.matches("[data-status][data-owner]")) found.push(root);
    root.querySelectorAll("[data-status][data-owner]").forEach(function (el) { found.push(el); });
    return found;
  }
  document.addEventListener("DOMContentLoaded", function () {
    watched(document.body).forEach(function (el) { seen[key(el)] = el.dataset.status; });
  });
  document.addEventListener("htmx:load", function (event) {
    watched(event.target).forEach(function (el) {
      const id = key(el);
      if (!id || !optedIn(el)) return;
      const status = el.dataset.status;
      const before = seen[id];
      seen[id] = status;
      if (FINAL.indexOf(status) === -1 || before === status) return;
      show("Viggle Studio: " + (el.dataset.notifyKind || "render") + " " + status,
        el.dataset.notifyBody || el.dataset.announce || "");
    });
  });
  // The settings page: ask for permission when browser notifications are switched on, and a
  // test notification on demand.
  document.addEventListener("change", function (event) {
    const box = event.target.closest("#notify-preferences input[name=browser]");
    if (box && box.checked && "Notification" in window && Notification.permission === "default") {
      Notification.requestPermission();
    }
  });
  document.addEventListener("click", function (event) {
    if (!event.target.closest("[data-notify-test]")) return;
    const note = document.querySelector("[data-notify-permission]");
    const done = function () {
      if (granted()) {
        show("Viggle Studio: test", "Notifications from Viggle Studio reach you here.");
        if (note) { note.hidden = false; note.textContent = "A test notification was sent."; }
      } else if (note) {
        note.hidden = false;
        note.textContent = "Your browser does not allow notifications from this site.";
      }
    };
    if ("Notification" in window && Notification.permission === "default") {
      Notification.requestPermission().then(done);
    } else {
      done();
    }
  });
})();
