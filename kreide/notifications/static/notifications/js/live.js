// The live bell on every page: the unread count follows new notifications without a
// reload, over the real-time process's WebSocket; while that is away the page asks
// /notifications/count/ now and then, and a push the service worker receives while the
// page is open lands here too.
(function () {
  "use strict";
  const script = document.currentScript;
  if (!script) return;
  const socketUrl = script.dataset.socket;
  const countUrl = script.dataset.countUrl;
  const listUrl = script.dataset.listUrl;
  const POLL_MS = 60000;
  let attempt = 0;
  let pollTimer = null;

  function links() {
    return Array.from(document.querySelectorAll('a[href="' + listUrl + '"]'));
  }

  function showCount(count) {
    links().forEach(function (link) {
      let badge = link.querySelector(".count");
      if (!count) {
        if (badge) badge.remove();
        return;
      }
      if (!badge) {
        badge = document.createElement("span");
        badge.className = "count";
        const hidden = document.createElement("span");
        hidden.className = "visually-hidden";
        hidden.textContent = " " + (script.dataset.newLabel || "new");
        badge.append(document.createTextNode(""), hidden);
        link.append(" ", badge);
      }
      badge.firstChild.textContent = String(count);
    });
  }

  function announce(text) {
    let region = document.querySelector("[data-kreide-live-note]");
    if (!region) {
      region = document.createElement("div");
      region.className = "live-note";
      region.setAttribute("role", "status");
      region.setAttribute("data-kreide-live-note", "");
      document.body.append(region);
    }
    region.textContent = text;
  }

  // "live" once the socket has spoken, "polling" without it (also for tests and styling).
  function state(value) {
    script.dataset.state = value;
  }

  function received(data) {
    if (typeof data.count === "number") showCount(data.count);
    if (data.text) announce(data.text);
    document.dispatchEvent(new CustomEvent("kreide:notification", { detail: data }));
  }

  async function poll() {
    try {
      const response = await fetch(countUrl, { credentials: "same-origin" });
      if (response.ok) received(await response.json());
    } catch (error) {
      // offline: the next poll tries again
    }
  }

  function startPolling() {
    if (pollTimer === null) pollTimer = setInterval(function () {
      if (document.visibilityState === "visible") poll();
    }, POLL_MS);
  }

  function stopPolling() {
    if (pollTimer !== null) clearInterval(pollTimer);
    pollTimer = null;
  }

  function connect() {
    if (!socketUrl || !("WebSocket" in window)) {
      state("polling");
      startPolling();
      return;
    }
    let socket;
    try {
      socket = new WebSocket(socketUrl);
    } catch (error) {
      startPolling();
      return;
    }
    socket.addEventListener("open", function () {
      attempt = 0;
      stopPolling();
    });
    socket.addEventListener("message", function (event) {
      state("live");
      try {
        received(JSON.parse(event.data));
      } catch (error) {
        // not ours
      }
    });
    socket.addEventListener("close", function (event) {
      if (event.code === 4401) return; // signed out: nothing to follow
      state("polling");
      startPolling();
      poll();
      const delay = window.Kreide && window.Kreide.backoffDelay
        ? window.Kreide.backoffDelay(attempt++, 2000, 60000)
        : 30000;
      setTimeout(connect, delay);
    });
  }

  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.addEventListener("message", function (event) {
      if (event.data && event.data.type === "kreide-push") received(event.data);
    });
  }
  connect();
})();
