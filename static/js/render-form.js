// Render form: a file uploaded inline (through the gallery's uploader) becomes a card in the
// character or motion picker at once, and is chosen, which refreshes the estimate.
(function () {
  "use strict";
  document.addEventListener("gallery:uploaded", function (event) {
    const body = event.detail || {};
    const name = body.kind === "image" ? "character" : "motion";
    const picker = document.getElementById("picker-" + name);
    if (!picker || !body.asset_id) return;
    const id = String(body.asset_id);
    let input = picker.querySelector('input[type=radio][value="' + id + '"]');
    if (!input) {
      const holder = picker.closest("[data-preview-url-zero]");
      const zero = holder ? holder.dataset.previewUrlZero : "";
      const option = document.createElement("label");
      option.className = "picker-option";
      option.setAttribute("data-picker-text", (body.name || "").toLowerCase());
      input = document.createElement("input");
      input.type = "radio"; input.name = name; input.value = id; input.className = "visually-hidden";
      const thumb = document.createElement("span");
      thumb.className = "picker-thumb";
      if (zero) {
        const img = document.createElement("img");
        img.alt = ""; img.src = zero.replace("/0/", "/" + id + "/");
        thumb.append(img);
      }
      const label = document.createElement("span");
      label.className = "picker-name"; label.textContent = body.name || "New file";
      option.append(input, thumb, label);
      if (body.duration_seconds) {
        const note = document.createElement("span");
        note.className = "picker-note"; note.textContent = body.duration_seconds.toFixed(1) + " s";
        option.append(note);
      }
      const options = picker.querySelector(".picker-options");
      const none = options.querySelector(".picker-none");
      options.insertBefore(option, none ? none.nextSibling : options.firstChild);
    }
    input.checked = true;
    input.dispatchEvent(new Event("change", { bubbles: true }));
  });
})();
