// Small progressive enhancements; every page works without them.
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    const dismiss = event.target.closest("[data-dismiss]");
    if (dismiss) {
      dismiss.closest(".notice").remove();
    }
    // A "Copy" button next to a link or token: copies the field's value and says so.
    const copyButton = event.target.closest("[data-copy-target]");
    if (copyButton) {
      const field = document.getElementById(copyButton.dataset.copyTarget);
      if (field) {
        field.select();
        const done = function () {
          const label = copyButton.dataset.label || copyButton.textContent;
          copyButton.dataset.label = label;
          copyButton.textContent = "Copied";
          const region = document.getElementById("live-announcer");
          if (region) region.textContent = "Copied to the clipboard";
          window.setTimeout(function () { copyButton.textContent = label; }, 2000);
        };
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(field.value).then(done, function () {
            document.execCommand("copy"); done();
          });
        } else {
          document.execCommand("copy"); done();
        }
      }
      return;
    }
    const copy = event.target.closest("[data-copy]");
    if (copy && copy.select) {
      copy.select();
      if (navigator.clipboard) navigator.clipboard.writeText(copy.value);
    }
  });
  // Confirm before destructive actions: forms carry data-confirm="question".
  document.addEventListener("submit", function (event) {
    const form = event.target.closest("form[data-confirm]");
    if (form && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);
  // Renders list: a job started after the page loaded arrives as a "job-new" event and is added
  // at the top. After a reconnect the stream sends it again: then it replaces its row instead.
  document.addEventListener("htmx:sseBeforeMessage", function (event) {
    const message = event.detail;
    if (!message || message.type !== "job-new") return;
    const holder = document.createElement("tbody");
    holder.innerHTML = (message.data || "").trim();
    const row = holder.firstElementChild;
    const existing = row && row.id ? document.getElementById(row.id) : null;
    if (existing) {
      event.preventDefault();
      htmx.swap(existing, message.data, { swapStyle: "outerHTML" });
    }
  });
  // Confirmations fade after a few seconds instead of staying on the page (errors stay until
  // dismissed). The server shows each message once; it is gone on the next page.
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".notice-success, .notice-info").forEach(function (notice) {
      window.setTimeout(function () { notice.remove(); }, 8000);
    });
  });
  // Job status changes are announced to screen readers: live fragments carry data-announce
  // (their status in words); a polite live region says it when it changes.
  const announced = {};
  function remember(scope) {
    scope.querySelectorAll("[data-announce][id]").forEach(function (el) {
      announced[el.id] = el.dataset.announce;
    });
  }
  document.addEventListener("DOMContentLoaded", function () { remember(document); });
  document.addEventListener("htmx:load", function (event) {
    const el = event.target;
    if (!el || !el.dataset || !el.dataset.announce || !el.id) return;
    if (announced[el.id] === el.dataset.announce) return;
    const region = document.getElementById("live-announcer");
    if (region && el.dataset.status !== undefined) region.textContent = el.dataset.announce;
    announced[el.id] = el.dataset.announce;
  });
  // Tables turn into cards on phones; each cell keeps its column's name (data-label). Templates
  // set it where they can; this fills in any cell left without one, also in swapped fragments.
  function labelCells(scope) {
    (scope.matches && scope.matches("table") ? [scope] : scope.querySelectorAll("table.table")).forEach(function (table) {
      const heads = Array.from(table.querySelectorAll("thead th")).map(function (th) { return th.textContent.trim(); });
      table.querySelectorAll("tbody tr, tfoot tr").forEach(function (row) {
        Array.from(row.children).forEach(function (cell, n) {
          if (!cell.hasAttribute("data-label") && heads[n] && !cell.hasAttribute("colspan")) cell.setAttribute("data-label", heads[n]);
        });
      });
    });
  }
  document.addEventListener("DOMContentLoaded", function () { labelCells(document); });
  document.addEventListener("htmx:load", function (event) {
    const table = event.target.closest ? event.target.closest("table") : null;
    if (table) labelCells(table);
  });
  // htmx: show server error messages instead of failing silently.
  document.addEventListener("htmx:responseError", function (event) {
    const box = document.getElementById("notices");
    if (!box) return;
    const notice = document.createElement("div");
    notice.className = "notice notice-error";
    notice.setAttribute("role", "alert");
    const text = document.createElement("span");
    const body = (event.detail.xhr.responseText || "").trim();
    text.textContent = body && body.length < 300 && !body.startsWith("<") ? body : "The request failed (" + event.detail.xhr.status + "). Nothing was changed.";
    const button = document.createElement("button");
    button.type = "button"; button.className = "dismiss"; button.textContent = "×";
    button.setAttribute("data-dismiss", ""); button.setAttribute("aria-label", "Dismiss");
    notice.append(text, button);
    box.append(notice);
  });
})();
