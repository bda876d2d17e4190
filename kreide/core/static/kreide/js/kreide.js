// Kreide's shared client behaviour. No inline scripts anywhere (strict CSP): pages opt in
// with data- attributes.
"use strict";
(function () {
  // Exponential backoff with full jitter, capped: every Kreide retry waits like this, so a
  // crowd of clients spreads out instead of storming the server in lockstep.
  function backoffDelay(attempt, baseMs, capMs) {
    const ceiling = Math.min(capMs || 60000, (baseMs || 1000) * Math.pow(2, attempt));
    return Math.round(Math.random() * ceiling);
  }

  // Seconds from a Retry-After header (seconds or HTTP date); null when absent.
  function retryAfterMs(header) {
    if (!header) return null;
    const seconds = Number(header);
    if (!Number.isNaN(seconds)) return Math.max(0, seconds * 1000);
    const when = Date.parse(header);
    return Number.isNaN(when) ? null : Math.max(0, when - Date.now());
  }

  // How long to wait before retry number `attempt` (0-based) after a busy answer: the
  // server's Retry-After when it sent one, plus jittered exponential backoff either way.
  function retryDelay(response, attempt) {
    const header = response && response.headers ? response.headers.get("Retry-After") : null;
    return (retryAfterMs(header) || 0) + backoffDelay(attempt, 1000, 30000);
  }

  const BUSY = [429, 502, 503, 504];
  const MAX_RETRIES = 5;

  // fetch() that retries busy answers and network errors, at most `retries` times.
  async function fetchWithRetry(url, options, retries) {
    const limit = retries === undefined ? MAX_RETRIES : retries;
    for (let attempt = 0; ; attempt++) {
      let response = null;
      try {
        response = await fetch(url, options);
        if (!BUSY.includes(response.status) || attempt >= limit) return response;
      } catch (error) {
        if (attempt >= limit) throw error;
      }
      await new Promise((resolve) => window.setTimeout(resolve, retryDelay(response, attempt)));
    }
  }

  // htmx requests answered "busy" are sent again after Retry-After plus backoff, capped;
  // after the last attempt the page says so instead of retrying forever.
  const attempts = new WeakMap();
  document.addEventListener("htmx:afterRequest", function (event) {
    const elt = event.detail.elt;
    const xhr = event.detail.xhr;
    if (!xhr || !BUSY.includes(xhr.status)) {
      attempts.delete(elt);
      return;
    }
    const attempt = attempts.get(elt) || 0;
    if (attempt >= MAX_RETRIES) {
      attempts.delete(elt);
      return;
    }
    attempts.set(elt, attempt + 1);
    const headers = { get: (name) => xhr.getResponseHeader(name) };
    const config = event.detail.requestConfig;
    window.setTimeout(function () {
      window.htmx.ajax(config.verb.toUpperCase(), config.path, {
        source: elt,
        target: event.detail.target,
      });
    }, retryDelay({ headers }, attempt));
  });

  // A page that loaded normally ends a waiting-page backoff sequence.
  if (!document.documentElement.querySelector("[data-kreide-waiting]")) {
    try {
      window.sessionStorage.removeItem("kreide-waiting-attempt");
    } catch (error) {
      // Storage disabled: the waiting page then starts its backoff from zero.
    }
  }

  // The CSRF token for fetch() calls: the cookie, else the one the page renders for htmx.
  function csrfToken() {
    const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    if (match) return decodeURIComponent(match[1]);
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || "";
    } catch (error) {
      return "";
    }
  }

  // Phones fold the navigation behind a menu button (the header would take a third of the
  // screen otherwise); on wider screens the button is hidden and the menu always shown.
  function setUpMenu() {
    const toggle = document.querySelector("[data-kreide-menu]");
    const header = document.querySelector("[data-kreide-header]");
    if (!toggle || !header) return;
    toggle.addEventListener("click", function () {
      const open = header.classList.toggle("open");
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
    });
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && header.classList.contains("open")) {
        header.classList.remove("open");
        toggle.setAttribute("aria-expanded", "false");
        toggle.focus();
      }
    });
  }

  // Each table cell gets its column's heading as data-label: on a phone the rows become
  // cards and the CSS shows the label before each value.
  function labelCells(root) {
    root.querySelectorAll("table").forEach(function (table) {
      const headings = [];
      table.querySelectorAll("thead th").forEach(function (th) {
        for (let span = th.colSpan || 1; span > 0; span--) headings.push(th.textContent.trim());
      });
      if (!headings.length) return;
      table.querySelectorAll("tbody tr").forEach(function (row) {
        let column = 0;
        Array.from(row.cells).forEach(function (cell) {
          const label = headings[column];
          if (label && cell.colSpan <= 1 && !cell.hasAttribute("data-label")) {
            cell.setAttribute("data-label", label);
          }
          column += cell.colSpan || 1;
        });
      });
    });
  }

  function ready() {
    setUpMenu();
    labelCells(document);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", ready);
  else ready();
  document.addEventListener("htmx:afterSwap", function (event) {
    labelCells(event.detail.elt.parentElement || document);
  });

  window.Kreide = Object.assign(window.Kreide || {}, {
    backoffDelay,
    csrfToken,
    retryAfterMs,
    retryDelay,
    fetchWithRetry,
    labelCells,
  });
})();
