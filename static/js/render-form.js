// Render form: a file uploaded inline (through the gallery's uploader) becomes a choice in the
// character or motion list at once, and is selected, which refreshes the estimate.
(function () {
  "use strict";
  document.addEventListener("gallery:uploaded", function (event) {
    const body = event.detail || {};
    const select = document.getElementById(body.kind === "image" ? "id_character" : "id_motion");
    if (!select || !body.asset_id) return;
    let option = select.querySelector('option[value="' + body.asset_id + '"]');
    if (!option) {
      option = document.createElement("option");
      option.value = String(body.asset_id);
      option.textContent = body.name + (body.duration_seconds ? " (" + body.duration_seconds.toFixed(1) + " s)" : "");
      select.insertBefore(option, select.options[1] || null);
    }
    select.value = String(body.asset_id);
    select.dispatchEvent(new Event("change", { bubbles: true }));
  });
})();
