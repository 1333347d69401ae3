// The batch page: as live cells are swapped in, the summary counts and the Cancel all / Retry
// failed buttons follow them (each cell carries its group: active, complete, failed, cancelled).
(function () {
  "use strict";
  function recount() {
    const grid = document.getElementById("batch-grid");
    if (!grid) return;
    const counts = { active: 0, complete: 0, failed: 0, cancelled: 0 };
    grid.querySelectorAll("[data-group]").forEach(function (cell) {
      if (cell.dataset.group in counts) counts[cell.dataset.group] += 1;
    });
    document.querySelectorAll("#batch-summary [data-count]").forEach(function (el) {
      el.textContent = String(counts[el.dataset.count] || 0);
    });
    document.querySelectorAll("[data-needs]").forEach(function (button) {
      button.disabled = !counts[button.dataset.needs];
    });
  }
  document.addEventListener("htmx:load", function (event) {
    if (event.target && event.target.closest && event.target.closest("#batch-grid")) recount();
  });
})();
