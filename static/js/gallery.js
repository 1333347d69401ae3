// Gallery: uploads with one progress bar per file (XHR upload events), drag and drop, and
// hover playback of videos. Without JavaScript the upload form posts normally. Files from
// RESUMABLE_BYTES up go in resumable chunks (resumable.js) and survive a dropped connection.
(function () {
  "use strict";

  function csrfToken(form) {
    const input = form && form.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function notice(text, kind) {
    const box = document.getElementById("notices");
    if (!box) return;
    const div = document.createElement("div");
    div.className = "notice notice-" + (kind || "info");
    div.setAttribute("role", "status");
    const span = document.createElement("span");
    span.textContent = text;
    const button = document.createElement("button");
    button.type = "button"; button.className = "dismiss"; button.textContent = "×";
    button.setAttribute("data-dismiss", ""); button.setAttribute("aria-label", "Dismiss");
    div.append(span, button);
    box.append(div);
  }

  function addCard(html, assetId) {
    const grid = document.getElementById("asset-grid");
    if (!grid) return;
    const existing = document.getElementById("asset-" + assetId);
    const holder = document.createElement("div");
    holder.innerHTML = html.trim();
    const card = holder.firstElementChild;
    if (!card) return;
    if (existing) existing.replaceWith(card); else grid.prepend(card);
    const empty = document.getElementById("gallery-empty");
    if (empty) empty.remove();
    if (window.htmx) window.htmx.process(card);
    card.classList.add("just-added");
  }

  const RESUMABLE_BYTES = 16 * 1024 * 1024;

  function uploadOne(zone, form, file) {
    const list = document.getElementById("upload-list");
    const row = document.createElement("li");
    row.className = "upload-row";
    row.dataset.state = "uploading";
    const name = document.createElement("span");
    name.className = "upload-name";
    name.textContent = file.name;
    const bar = document.createElement("progress");
    bar.max = 100; bar.value = 0;
    bar.setAttribute("aria-label", "Upload of " + file.name);
    const status = document.createElement("span");
    status.className = "upload-status";
    status.textContent = "Waiting…";
    row.append(name, bar, status);
    list.append(row);

    function finish(state, text) {
      row.dataset.state = state;
      status.textContent = text;
    }

    const maxBytes = Number(zone.dataset.maxBytes || 0);
    if (maxBytes && file.size > maxBytes) {
      finish("refused", file.name + " was not added: it is larger than " +
        Math.round(maxBytes / 1048576) + " MB.");
      return;
    }
    function outcome(httpStatus, body) {
      if (httpStatus >= 200 && httpStatus < 300 && body.ok) {
        bar.value = 100;
        finish(body.created ? "done" : "duplicate", body.message);
        if (body.card) addCard(body.card, body.asset_id);
        // Other pages (the render form) pick up new assets from this event.
        document.dispatchEvent(new CustomEvent("gallery:uploaded", { detail: body }));
        if (!body.created && body.url) {
          const link = document.createElement("a");
          link.href = body.url; link.textContent = " Open it";
          status.append(link);
        }
      } else {
        finish("refused", body.message || ("The upload failed (" + httpStatus + ")."));
      }
    }

    if (zone.dataset.resumableUrl && window.ViggleResumable && file.size >= RESUMABLE_BYTES) {
      window.ViggleResumable.upload(file, {
        startUrl: zone.dataset.resumableUrl,
        csrf: csrfToken(form),
        onProgress: function (loaded, total) {
          bar.value = Math.round((loaded / total) * 100);
          status.textContent = bar.value + "%";
          row.dataset.state = "uploading";
        },
        onState: function (text, state) {
          status.textContent = text;
          row.dataset.state = state;
        },
      }).then(function (answer) {
        outcome(answer.status, answer.body);
      }, function (error) {
        finish("refused", error.message);
      });
      return;
    }

    const data = new FormData();
    data.append("file", file, file.name);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", zone.dataset.uploadUrl);
    xhr.setRequestHeader("X-CSRFToken", csrfToken(form));
    xhr.setRequestHeader("X-Requested-With", "XMLHttpRequest");
    xhr.responseType = "json";
    xhr.upload.addEventListener("progress", function (event) {
      if (event.lengthComputable) {
        bar.value = Math.round((event.loaded / event.total) * 100);
        status.textContent = bar.value < 100 ? bar.value + "%" : "Checking…";
      }
    });
    xhr.upload.addEventListener("load", function () {
      bar.value = 100;
      status.textContent = "Checking…";
    });
    xhr.addEventListener("load", function () {
      outcome(xhr.status, xhr.response || {});
    });
    xhr.addEventListener("error", function () {
      finish("refused", file.name + " could not be sent: the connection failed.");
    });
    xhr.send(data);
  }

  function uploadAll(zone, files) {
    const form = zone.querySelector("form");
    Array.prototype.forEach.call(files, function (file) { uploadOne(zone, form, file); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    const zone = document.querySelector("[data-upload-zone]");
    if (zone) {
      zone.classList.add("js");
      const input = zone.querySelector("input[type=file]");
      input.addEventListener("change", function () {
        if (input.files.length) uploadAll(zone, input.files);
        input.value = "";
      });
      // The whole page accepts drops, so members need not aim.
      ["dragenter", "dragover"].forEach(function (type) {
        document.addEventListener(type, function (event) {
          if (event.dataTransfer && Array.prototype.indexOf.call(event.dataTransfer.types, "Files") >= 0) {
            event.preventDefault();
            zone.classList.add("dragging");
          }
        });
      });
      document.addEventListener("dragleave", function (event) {
        if (!event.relatedTarget) zone.classList.remove("dragging");
      });
      document.addEventListener("drop", function (event) {
        if (!event.dataTransfer || !event.dataTransfer.files.length) return;
        event.preventDefault();
        zone.classList.remove("dragging");
        uploadAll(zone, event.dataTransfer.files);
      });
    }
  });

  // Videos play on hover (and on focus); the file is fetched only then.
  function start(event) {
    const thumb = event.target.closest && event.target.closest(".asset-thumb");
    if (!thumb) return;
    const video = thumb.querySelector("video.hover-play");
    if (!video) return;
    if (!video.src) video.src = video.dataset.src;
    thumb.classList.add("playing");
    const played = video.play();
    if (played && played.catch) played.catch(function () {});
  }
  function stop(event) {
    const thumb = event.target.closest && event.target.closest(".asset-thumb");
    if (!thumb) return;
    const video = thumb.querySelector("video.hover-play");
    if (video) { video.pause(); thumb.classList.remove("playing"); }
  }
  document.addEventListener("mouseover", start);
  document.addEventListener("focusin", start);
  document.addEventListener("mouseout", function (event) {
    const thumb = event.target.closest && event.target.closest(".asset-thumb");
    if (thumb && !thumb.contains(event.relatedTarget)) stop(event);
  });
  document.addEventListener("focusout", stop);

  // The delete view tells why a card vanished (deleted or archived).
  document.addEventListener("galleryNotice", function (event) {
    notice(event.detail.value || event.detail, "success");
  });
})();
