// Resumable uploads for every <input type="file" data-upload-purpose="..."> (strict CSP:
// no inline script; pages opt in with data- attributes and include
// storage/uploader_scripts.html).
//
//   <input type="file" data-upload-purpose="task-submission" data-upload-meta-task="42"
//          data-upload-field="attachments" multiple>
//
// Each chosen file is sent with tus (tus-js-client) in 4 MiB chunks, the first one with the
// creation request (a small file is a single request), shows a <progress>,
// resumes after a dropped connection (automatic retries with exponential backoff and
// jitter, never sooner than a busy server's Retry-After) or a reload (choose the same file
// again: it continues where it stopped), and fires `kreide:uploaded` on the input
// (bubbling) with detail = the server's result JSON.
// With data-upload-field, a hidden input of that name carrying the upload id is added to
// the form, so a form saved later can pick the finished uploads up.
"use strict";
(function () {
  const ENDPOINT = "/uploads/";
  const CHUNK_SIZE = 4 * 1024 * 1024;
  const RETRIES = 12;
  // Django's JavaScript catalog (i18n/catalog.js) defines gettext; English without it.
  const gettext = typeof window.gettext === "function" ? window.gettext : (text) => text;

  // Both scripts are deferred after kreide.js, which defines the shared helpers.
  const csrfToken = window.Kreide.csrfToken;

  // data-upload-meta-task="42" → {task: "42"}
  function metadataFor(input, file) {
    const metadata = {
      filename: file.name,
      filetype: file.type || "application/octet-stream",
      purpose: input.dataset.uploadPurpose,
    };
    for (const [key, value] of Object.entries(input.dataset)) {
      if (key.startsWith("uploadMeta") && key.length > 10) {
        const name = key.slice(10);
        metadata[name.charAt(0).toLowerCase() + name.slice(1)] = value;
      }
    }
    // A file chosen with its folder (webkitdirectory) carries its path inside that folder.
    if (file.webkitRelativePath) metadata.relativePath = file.webkitRelativePath;
    return metadata;
  }

  // Jittered delays, different for every client, so a class reconnecting at once spreads out.
  function retryDelays() {
    const backoff = window.Kreide && window.Kreide.backoffDelay;
    const delays = [];
    for (let attempt = 0; attempt < RETRIES; attempt++) {
      delays.push(backoff ? 250 + backoff(attempt, 1000, 60000) : 1000 * (attempt + 1));
    }
    return delays;
  }

  // A busy Kreide (503, or 429) says when to come back: the next try waits at least that
  // long, plus jitter, instead of the shorter planned delay. tus-js-client asks this right
  // before it reads the delay for `attempt`, and `options` belongs to this upload alone.
  function shouldRetry(error, attempt, options) {
    const response = error && error.originalResponse;
    const status = response ? response.getStatus() : 0;
    const waitMs = response && window.Kreide.retryAfterMs(response.getHeader("Retry-After"));
    if (waitMs) {
      const jitter = window.Kreide.backoffDelay(attempt, 250, 5000);
      options.retryDelays[attempt] = Math.max(options.retryDelays[attempt], waitMs + jitter);
    }
    // As tus-js-client decides by default (server errors, 409, 423), and busy answers too.
    const retryable = status < 400 || status >= 500 || [409, 423, 429].includes(status);
    return retryable && navigator.onLine !== false;
  }

  function formatSize(bytes) {
    if (bytes < 1024) return bytes + " B";
    if (bytes < 1024 * 1024) return (bytes / 1024).toFixed(0) + " KB";
    return (bytes / (1024 * 1024)).toFixed(1) + " MB";
  }

  function listFor(input) {
    let list = input.parentElement.querySelector(":scope > .upload-list");
    if (!list) {
      list = document.createElement("ul");
      list.className = "upload-list list";
      input.insertAdjacentElement("afterend", list);
    }
    return list;
  }

  function itemFor(input, file) {
    const item = document.createElement("li");
    item.className = "upload-item";
    const name = document.createElement("span");
    name.className = "upload-name";
    name.textContent = file.name + " (" + formatSize(file.size) + ")";
    const progress = document.createElement("progress");
    progress.max = 100;
    progress.value = 0;
    progress.setAttribute("aria-label", gettext("Upload progress") + ": " + file.name);
    const status = document.createElement("span");
    status.className = "upload-status";
    status.setAttribute("role", "status");
    status.textContent = gettext("Uploading…");
    item.append(name, progress, status);
    listFor(input).append(item);
    return { item, progress, status };
  }

  function reasonOf(error) {
    const response = error && error.originalResponse;
    const body = response && response.getBody && response.getBody();
    // Kreide's own refusals (and "storage full", 507) say what happened in the user's words.
    const status = response && response.getStatus();
    if (body && (status < 500 || status === 507) && body.length < 500) return body;
    return gettext("The upload failed. Please check your connection and try again.");
  }

  function finish(input, ui, upload, result) {
    ui.progress.value = 100;
    ui.status.textContent = gettext("Uploaded");
    ui.item.classList.add("done");
    const field = input.dataset.uploadField;
    if (field && input.form) {
      const hidden = document.createElement("input");
      hidden.type = "hidden";
      hidden.name = field;
      hidden.value = upload.url.split("/").pop();
      input.form.append(hidden);
    }
    input.dispatchEvent(new CustomEvent("kreide:uploaded", { bubbles: true, detail: result }));
  }

  function fetchResult(upload) {
    return fetch(upload.url + "/result", {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    }).then((response) => response.json().then((json) => {
      if (!response.ok) throw new Error(json && json.detail ? json.detail : response.statusText);
      return json;
    }));
  }

  function send(input, file) {
    const ui = itemFor(input, file);
    const metadata = metadataFor(input, file);
    let result = null;
    const upload = new window.tus.Upload(file, {
      endpoint: ENDPOINT,
      chunkSize: CHUNK_SIZE,
      // The first chunk goes with the creation: a file up to 4 MiB is one request.
      uploadDataDuringCreation: true,
      retryDelays: retryDelays(),
      onShouldRetry: (error, attempt, options) => {
        const retry = shouldRetry(error, attempt, options);
        // "Storage full" or "too many unfinished uploads": say so while waiting to retry.
        const status = error && error.originalResponse && error.originalResponse.getStatus();
        if (retry && (status === 429 || status === 507)) ui.status.textContent = reasonOf(error);
        return retry;
      },
      metadata: metadata,
      headers: { "X-CSRFToken": csrfToken() },
      removeFingerprintOnSuccess: true,
      // The same file for another task is another upload.
      fingerprint: (f) => Promise.resolve(["kreide", f.name, f.type, f.size, f.lastModified,
        JSON.stringify(metadata)].join("|")),
      onProgress: (sent, total) => {
        ui.progress.value = total ? Math.floor((sent / total) * 100) : 100;
        ui.status.textContent = gettext("Uploading…") + " " + ui.progress.value + " %";
      },
      onAfterResponse: (request, response) => {
        const header = response.getHeader("Kreide-Upload-Result");
        if (header) result = JSON.parse(header);
      },
      onError: (error) => {
        ui.status.textContent = reasonOf(error);
        ui.item.classList.add("failed");
        const again = document.createElement("button");
        again.type = "button";
        again.className = "link";
        again.textContent = gettext("Try again");
        again.addEventListener("click", () => {
          again.remove();
          ui.item.classList.remove("failed");
          upload.start();
        });
        ui.item.append(" ", again);
      },
      onSuccess: () => {
        const done = result ? Promise.resolve(result) : fetchResult(upload);
        done.then((json) => finish(input, ui, upload, json)).catch((error) => {
          ui.status.textContent = error.message || reasonOf(null);
          ui.item.classList.add("failed");
        });
      },
    });
    upload.findPreviousUploads().then((previous) => {
      if (previous.length) upload.resumeFromPreviousUpload(previous[0]);
      upload.start();
    });
    // A connection that comes back continues at once instead of waiting out the backoff.
    window.addEventListener("online", () => {
      if (!ui.item.classList.contains("done") && ui.item.classList.contains("failed")) {
        ui.item.classList.remove("failed");
        const again = ui.item.querySelector("button");
        if (again) again.remove();
        upload.start();
      }
    });
  }

  function enhance(root) {
    root.querySelectorAll("input[type=file][data-upload-purpose]").forEach((input) => {
      if (input.dataset.uploadReady) return;
      input.dataset.uploadReady = "1";
      // The bytes go through tus; the form itself never carries the file.
      input.removeAttribute("name");
      input.addEventListener("change", () => {
        Array.from(input.files).forEach((file) => send(input, file));
        input.value = "";
      });
    });
  }

  document.addEventListener("DOMContentLoaded", () => enhance(document));
  document.addEventListener("htmx:load", (event) => enhance(event.target));
  window.Kreide = Object.assign(window.Kreide || {}, { enhanceUploads: enhance });
})();
