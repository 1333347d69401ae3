// Asset picker (templates/includes/asset_picker.html): a search box that filters the picker's
// cards by name, and, for "quiet" pickers, a choice that does not bubble a change event to the
// form (an htmx form that refreshes on change would re-render the picker under the keyboard).
// Works on pickers in the page and on pickers htmx swaps in later.
(function () {
  "use strict";

  function setUp(picker) {
    if (picker.dataset.pickerReady) return;
    picker.dataset.pickerReady = "1";
    const search = picker.querySelector("[data-picker-search]");
    const nomatch = picker.querySelector("[data-picker-nomatch]");
    const options = Array.from(picker.querySelectorAll(".picker-option"));
    if (search && options.length > 1) {
      search.hidden = false;
      search.addEventListener("input", function () {
        const words = search.value.trim().toLowerCase();
        let shown = 0;
        options.forEach(function (option) {
          const text = option.getAttribute("data-picker-text") || "";
          const match = !words || text === "" || text.indexOf(words) !== -1;
          option.hidden = !match;
          if (match) shown += 1;
        });
        if (nomatch) nomatch.hidden = shown > 0;
      });
      // The search box is not a form field: Enter must not submit, typing must not refresh.
      search.addEventListener("keydown", function (event) {
        if (event.key === "Enter") event.preventDefault();
      });
      search.addEventListener("change", function (event) { event.stopPropagation(); });
    }
    if (picker.hasAttribute("data-picker-quiet")) {
      picker.addEventListener("change", function (event) { event.stopPropagation(); });
    }
  }

  function setUpAll(root) {
    if (!root || !root.querySelectorAll) return;
    if (root.matches && root.matches("[data-asset-picker]")) setUp(root);
    root.querySelectorAll("[data-asset-picker]").forEach(setUp);
  }

  document.addEventListener("DOMContentLoaded", function () { setUpAll(document); });
  document.addEventListener("htmx:load", function (event) { setUpAll(event.target); });
})();
