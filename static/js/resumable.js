// Resumable uploads (tus 1.0.0, assets/resumable.py on the server): the file goes in chunks
// of 8 MB, each with its SHA-1 (Upload-Checksum) when the browser can compute it. A chunk that
// fails for want of a connection is not lost work: the uploader waits until the browser is
// back online (or retries with a growing pause), asks the server where the upload stands
// (HEAD) and goes on from there. The upload's address is kept in localStorage per file, so a
// reloaded page picking the same file resumes it too.
(function () {
  "use strict";

  const CHUNK = 8 * 1024 * 1024;
  const TUS = "1.0.0";

  function base64(bytes) {
    let text = "";
    const view = new Uint8Array(bytes);
    for (let i = 0; i < view.length; i++) text += String.fromCharCode(view[i]);
    return btoa(text);
  }

  function metadata(name) {
    return "filename " + base64(new TextEncoder().encode(name));
  }

  async function checksum(blob) {
    if (!(window.crypto && window.crypto.subtle)) return null; // not on plain http
    const digest = await window.crypto.subtle.digest("SHA-1", await blob.arrayBuffer());
    return "sha1 " + base64(digest);
  }

  function send(method, url, headers, body, onProgress) {
    return new Promise(function (resolve) {
      const xhr = new XMLHttpRequest();
      xhr.open(method, url);
      xhr.setRequestHeader("Tus-Resumable", TUS);
      Object.keys(headers).forEach(function (key) { xhr.setRequestHeader(key, headers[key]); });
      if (onProgress) {
        xhr.upload.addEventListener("progress", function (event) { onProgress(event.loaded); });
      }
      xhr.addEventListener("load", function () { resolve(xhr); });
      xhr.addEventListener("error", function () { resolve(null); });
      xhr.addEventListener("abort", function () { resolve(null); });
      xhr.addEventListener("timeout", function () { resolve(null); });
      xhr.send(body === undefined ? null : body);
    });
  }

  function pause(ms) {
    return new Promise(function (resolve) { setTimeout(resolve, ms); });
  }

  function backOnline() {
    if (navigator.onLine) return Promise.resolve();
    return new Promise(function (resolve) {
      window.addEventListener("online", function once() {
        window.removeEventListener("online", once);
        resolve();
      });
    });
  }

  // Upload `file`; resolves with the server's outcome (the same JSON as a one-request upload)
  // or rejects with an Error whose message is for the member.
  async function upload(file, options) {
    const csrf = { "X-CSRFToken": options.csrf };
    const key = "viggle-upload:" + [file.name, file.size, file.lastModified].join(":");
    const report = options.onProgress || function () {};
    const say = options.onState || function () {};
    let url = null;
    let offset = 0;

    async function where() {
      const head = await send("HEAD", url, {});
      if (!head) return false;
      if (head.status !== 200) { url = null; return true; }
      offset = Number(head.getResponseHeader("Upload-Offset") || 0);
      return true;
    }

    try { url = window.localStorage.getItem(key); } catch (e) { url = null; }
    if (url && !(await where())) url = null;
    if (!url) {
      const created = await send("POST", options.startUrl, Object.assign({
        "Upload-Length": String(file.size),
        "Upload-Metadata": metadata(file.name),
      }, csrf));
      if (!created) throw new Error(file.name + " could not be sent: the connection failed.");
      if (created.status !== 201) {
        throw new Error(created.responseText || ("The upload failed (" + created.status + ")."));
      }
      url = created.getResponseHeader("Location");
      offset = 0;
      try { window.localStorage.setItem(key, url); } catch (e) { /* private mode */ }
    }

    let failures = 0;
    while (offset < file.size) {
      const chunk = file.slice(offset, Math.min(file.size, offset + CHUNK));
      const headers = Object.assign({
        "Upload-Offset": String(offset),
        "Content-Type": "application/offset+octet-stream",
      }, csrf);
      const sum = await checksum(chunk);
      if (sum) headers["Upload-Checksum"] = sum;
      const start = offset;
      report(start, file.size);
      const answer = await send("PATCH", url, headers, chunk, function (loaded) {
        report(start + loaded, file.size);
      });
      if (answer && answer.status === 204) {
        offset = Number(answer.getResponseHeader("Upload-Offset"));
        failures = 0;
        continue;
      }
      if (answer && answer.status !== 409 && answer.status !== 460 && answer.status < 500) {
        try { window.localStorage.removeItem(key); } catch (e) { /* ignore */ }
        throw new Error(answer.responseText || ("The upload failed (" + answer.status + ")."));
      }
      // No answer (connection lost), a conflict, a damaged chunk or a server hiccup: wait,
      // ask where the upload stands, and go on from there.
      failures += 1;
      say("Connection lost at " + Math.round((100 * offset) / file.size) +
        "%: resuming when it is back…", "paused");
      await backOnline();
      await pause(Math.min(10000, 500 * Math.pow(2, Math.min(failures, 5))));
      while (!(await where())) {
        await backOnline();
        await pause(2000);
      }
      if (!url) throw new Error(file.name + " could not be resumed: start it again.");
      say("Resuming at " + Math.round((100 * offset) / file.size) + "%…", "uploading");
    }
    try { window.localStorage.removeItem(key); } catch (e) { /* ignore */ }
    say("Checking…", "uploading");
    const outcome = await send("GET", url, {});
    if (!outcome) throw new Error(file.name + " was sent, but its result could not be read.");
    let body = {};
    try { body = JSON.parse(outcome.responseText); } catch (e) { body = {}; }
    return { status: outcome.status, body: body };
  }

  window.ViggleResumable = { upload: upload, CHUNK: CHUNK };
})();
