// The waiting room: ask the admission API when told to (Retry-After / the assigned join
// time) plus random jitter, never in a tight loop; go to the lesson once admitted.
"use strict";
(function () {
  const root = document.querySelector("[data-video-waiting]");
  if (!root) return;
  let attempt = 0;

  function show(selector, text) {
    const element = root.querySelector(selector);
    if (element) element.textContent = text;
  }

  async function ask() {
    let wait;
    try {
      const response = await fetch(root.dataset.admitUrl, {
        method: "POST", credentials: "same-origin",
        headers: { "X-CSRFToken": root.dataset.csrf, Accept: "application/json" },
      });
      const answer = await response.json();
      if (response.status === 200 && answer.state === "admitted") {
        window.location.assign(answer.url);
        return;
      }
      const error = root.querySelector("[data-waiting-error]");
      if (response.status === 202) {
        attempt = 0;
        error.hidden = true;
        root.querySelector("[data-waiting-position]").hidden = !answer.position;
        show("[data-position]", answer.position ? String(answer.position) : "–");
        show("[data-join-time]", answer.join_time || "–");
      } else {
        error.textContent = answer.message || "";
        error.hidden = false;
        if (response.status === 403 || response.status === 410) return;  // nothing to wait for
      }
      const hinted = Kreide.retryAfterMs(response.headers.get("Retry-After"));
      if (hinted !== null) {
        // The server's time plus up to 20 % (at most 15 s) of spread: a class arrives in a trickle.
        wait = hinted + Math.random() * Math.min(15000, 0.2 * hinted + 2000);
      }
    } catch (e) { /* offline or a proxy error page: back off below */ }
    if (wait === undefined) wait = 2000 + Kreide.backoffDelay(attempt++, 2000, 60000);
    window.setTimeout(ask, wait);
  }

  window.setTimeout(ask, 500 + Math.random() * 1500);
})();
