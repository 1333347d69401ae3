// Transparent results: the result video drawn on a canvas over a checkerboard (or a colour the
// member picks), its mask video giving each pixel's alpha; buttons switch to the mask alone or
// the result as rendered. The job page's one alpha preview (exports are downloads only).
(function () {
  "use strict";

  function setup(root) {
    if (root.dataset.ready) return;
    root.dataset.ready = "1";
    const video = root.querySelector(".preview-video");
    const mask = root.querySelector(".mask-source");
    const canvas = root.querySelector(".alpha-canvas");
    const buttons = root.querySelectorAll("[data-preview-mode]");
    const work = document.createElement("canvas");
    let mode = "alpha";

    function draw() {
      if (!document.body.contains(root)) return;
      if (mode === "alpha" && video.readyState >= 2 && mask.readyState >= 2) {
        const w = video.videoWidth, h = video.videoHeight;
        if (w && h) {
          if (canvas.width !== w || canvas.height !== h) {
            canvas.width = work.width = w;
            canvas.height = work.height = h;
          }
          const ctx = canvas.getContext("2d", { willReadFrequently: true });
          const wctx = work.getContext("2d", { willReadFrequently: true });
          ctx.clearRect(0, 0, w, h);
          ctx.drawImage(video, 0, 0, w, h);
          wctx.drawImage(mask, 0, 0, w, h);
          const frame = ctx.getImageData(0, 0, w, h);
          const alpha = wctx.getImageData(0, 0, w, h).data;
          for (let i = 3; i < frame.data.length; i += 4) frame.data[i] = alpha[i - 3];
          ctx.putImageData(frame, 0, 0);
          root.dataset.drawn = "1";
        }
        if (Math.abs(mask.currentTime - video.currentTime) > 0.2) mask.currentTime = video.currentTime;
      }
      window.requestAnimationFrame(draw);
    }

    function show(next) {
      mode = next;
      root.dataset.mode = next;
      buttons.forEach(function (b) {
        b.setAttribute("aria-pressed", String(b.dataset.previewMode === next));
      });
      const src = next === "mask" ? video.dataset.maskSrc : video.dataset.outputSrc;
      if (video.getAttribute("src") !== src) {
        video.setAttribute("src", src);
        video.load();
      }
      if (next === "alpha") {
        video.play().catch(function () {});
        mask.play().catch(function () {});
      } else {
        mask.pause();
      }
    }

    buttons.forEach(function (b) {
      b.addEventListener("click", function () { show(b.dataset.previewMode); });
    });

    const stage = root.querySelector("[data-alpha-stage]");
    const colour = root.querySelector("[data-alpha-colour]");
    function backdrop(event) {
      if (event && event.target === colour) {
        const radio = root.querySelector('[data-alpha-bg][value="colour"]');
        if (radio) radio.checked = true;
      }
      const chosen = root.querySelector("[data-alpha-bg]:checked");
      const checker = !chosen || chosen.value === "checker";
      stage.classList.toggle("checkerboard", checker);
      stage.style.backgroundColor = checker ? "" : colour.value;
      stage.dataset.backdrop = checker ? "checker" : colour.value;
    }
    root.querySelectorAll("[data-alpha-bg], [data-alpha-colour]").forEach(function (input) {
      input.addEventListener("change", backdrop);
      input.addEventListener("input", backdrop);
    });
    show("alpha");
    window.requestAnimationFrame(draw);
  }

  function scan(elt) {
    const scope = elt && elt.querySelectorAll ? elt : document;
    if (scope.matches && scope.matches("[data-alpha-preview]")) setup(scope);
    scope.querySelectorAll("[data-alpha-preview]").forEach(setup);
  }
  document.addEventListener("DOMContentLoaded", function () { scan(document); });
  document.addEventListener("htmx:load", function (event) { scan(event.target); });
})();
