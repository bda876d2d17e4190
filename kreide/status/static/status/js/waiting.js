// The waiting page Kreide sends when it is busy: try again by itself, never in lockstep.
// Each visit waits the server's Retry-After plus a growing, jittered extra (capped), so
// thousands of waiting students return spread out rather than all at once.
"use strict";
(function () {
  const body = document.body;
  if (!body || !body.hasAttribute("data-kreide-waiting")) return;
  const MAX_ATTEMPTS = 12;
  const key = "kreide-waiting-attempt";
  const attempt = Number(sessionStorage.getItem(key) || 0);
  if (attempt >= MAX_ATTEMPTS) {
    // Capped: after about ten minutes of trying, stop and let the person decide.
    sessionStorage.removeItem(key);
    const waiting = document.querySelector("[data-kreide-retrying]");
    const stopped = document.querySelector("[data-kreide-stopped]");
    if (waiting) waiting.hidden = true;
    if (stopped) stopped.hidden = false;
    return;
  }
  sessionStorage.setItem(key, String(attempt + 1));
  const serverMs = (Number(body.getAttribute("data-retry-after")) || 5) * 1000;
  const extra = window.Kreide.backoffDelay(Math.min(attempt, 6), 1000, 60000);
  const due = Date.now() + serverMs + extra;
  const countdown = document.querySelector("[data-kreide-countdown]");
  function tick() {
    const left = Math.max(0, Math.ceil((due - Date.now()) / 1000));
    if (countdown) countdown.textContent = String(left);
    if (left <= 0) {
      window.location.reload();
      return;
    }
    window.setTimeout(tick, 1000);
  }
  tick();
})();
