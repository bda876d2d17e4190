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

  window.Kreide = Object.assign(window.Kreide || {}, { backoffDelay, retryAfterMs });
})();
