// Browser notifications (opt-in on the notifications page): when a live fragment of the SSE
// stream shows one of the member's renders reaching an end (complete, failed, cancelled).
(function () {
  "use strict";
  const FINAL = ["complete", "failed", "cancelled"];
  const seen = {};
  function granted() {
    return "Notification" in window && Notification.permission === "granted";
  }
  function optedIn(el) {
    // The body carries the member's id when they opted in; only their own jobs notify.
    const me = document.body && document.body.getAttribute("data-notify-browser");
    return !!me && el.dataset.owner === me;
  }
  function show(title, body) {
    if (!granted()) return;
    try { new Notification(title, { body: body, tag: title + body }); } catch (e) { /* ignored */ }
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-status][id]").forEach(function (el) {
      seen[el.id] = el.dataset.status;
    });
  });
  document.addEventListener("htmx:load", function (event) {
    const el = event.target;
    if (!el || !el.dataset || !el.id || el.dataset.status === undefined || !optedIn(el)) return;
    const status = el.dataset.status;
    const before = seen[el.id];
    seen[el.id] = status;
    if (FINAL.indexOf(status) === -1 || before === status) return;
    show("Viggle Studio: render " + status, el.dataset.announce || "");
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
