// Render form colour: the colour swatch, the hex field (the one sent) and an R,G,B field stay in
// step as any of them changes. CSS shows the group only for a solid background.
(function () {
  "use strict";
  function toHex(r, g, b) {
    return "#" + [r, g, b].map(function (n) { return ("0" + n.toString(16)).slice(-2); }).join("");
  }
  function parse(value) {
    value = (value || "").trim();
    let m = /^#?([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(value);
    if (m) return [parseInt(m[1], 16), parseInt(m[2], 16), parseInt(m[3], 16)];
    m = /^(\d{1,3})\s*,\s*(\d{1,3})\s*,\s*(\d{1,3})$/.exec(value);
    if (m) {
      const rgb = [Number(m[1]), Number(m[2]), Number(m[3])];
      if (rgb.every(function (n) { return n <= 255; })) return rgb;
    }
    return null;
  }
  function setUp(group) {
    if (group.dataset.ready) return;
    group.dataset.ready = "1";
    const swatch = group.querySelector("[data-colour-swatch]");
    const hex = group.querySelector("[data-colour-hex]");
    const rgb = group.querySelector("[data-colour-rgb]");
    function show(values, except) {
      const h = toHex(values[0], values[1], values[2]);
      if (except !== swatch) swatch.value = h;
      if (except !== hex) hex.value = h;
      if (except !== rgb) rgb.value = values.join(",");
      hex.setCustomValidity(""); rgb.setCustomValidity("");
    }
    [swatch, hex, rgb].forEach(function (field) {
      field.addEventListener("input", function () {
        const values = parse(field.value);
        if (values) show(values, field);
        else if (field !== swatch) field.setCustomValidity("Use a colour like #00ff00 or 0,255,0 (each 0-255).");
      });
      // Typing a colour changes nothing else on the form: no live refresh for it.
      field.addEventListener("change", function (event) { event.stopPropagation(); });
    });
    const start = parse(hex.value) || [0, 255, 0];
    show(start, null);
  }
  function scan(root) {
    (root.querySelectorAll ? root : document).querySelectorAll("[data-colour-picker]").forEach(setUp);
  }
  document.addEventListener("DOMContentLoaded", function () { scan(document); });
})();
