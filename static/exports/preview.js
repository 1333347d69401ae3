// The alpha preview: show the transparent result over a checkerboard or over a chosen colour.
// Delegated, so it keeps working after the exports section is swapped in by the live stream.
(function () {
  "use strict";
  function apply(box) {
    const stage = box.querySelector("[data-alpha-stage]");
    const chosen = box.querySelector("[data-alpha-bg]:checked");
    const colour = box.querySelector("[data-alpha-colour]");
    if (!stage || !chosen) return;
    const checker = chosen.value === "checker";
    stage.classList.toggle("checker", checker);
    stage.style.backgroundColor = checker ? "" : (colour ? colour.value : "#000");
    stage.dataset.backdrop = checker ? "checker" : (colour ? colour.value : "");
  }
  function changed(event) {
    const box = event.target.closest("[data-alpha-preview]");
    if (!box) return;
    if (event.target.matches("[data-alpha-colour]")) {
      const radio = box.querySelector('[data-alpha-bg][value="colour"]');
      if (radio) radio.checked = true;
    }
    apply(box);
  }
  document.addEventListener("change", changed);
  document.addEventListener("input", changed);
})();
