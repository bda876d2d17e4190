// Push on this device: registers Kreide's service worker, subscribes with the server's
// VAPID key and tells Kreide the subscription (or forgets it again).
(function () {
  "use strict";
  const panel = document.querySelector("[data-push]");
  if (!panel) return;
  const state = panel.querySelector("[data-push-state]");
  const on = panel.querySelector("[data-push-on]");
  const off = panel.querySelector("[data-push-off]");
  const say = function (name) { state.textContent = panel.dataset[name] || ""; };

  function keyBytes(base64url) {
    const padded = (base64url + "===".slice((base64url.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
    return Uint8Array.from(atob(padded), function (c) { return c.charCodeAt(0); });
  }

  async function post(url, body) {
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": window.Kreide.csrfToken() },
      body: JSON.stringify(body),
    });
    const answer = await response.json().catch(function () { return {}; });
    if (!response.ok) throw new Error(answer.message || response.statusText);
    return answer;
  }

  if (!("serviceWorker" in navigator) || !("PushManager" in window)) {
    say("unsupported");
    on.hidden = off.hidden = true;
    return;
  }

  async function refresh(registration) {
    const subscription = await registration.pushManager.getSubscription();
    on.hidden = Boolean(subscription);
    off.hidden = !subscription;
    say(subscription ? "subscribed" : "notSubscribed");
  }

  navigator.serviceWorker.register(panel.dataset.worker, { scope: "/" }).then(async function (registration) {
    panel.dataset.registered = "true";
    await refresh(registration);
    on.addEventListener("click", async function () {
      try {
        if ((await Notification.requestPermission()) !== "granted") {
          say("denied");
          return;
        }
        const subscription = await registration.pushManager.subscribe({
          userVisibleOnly: true,
          applicationServerKey: keyBytes(panel.dataset.key),
        });
        await post(panel.dataset.subscribe, { subscription: subscription.toJSON() });
        await refresh(registration);
      } catch (error) {
        state.textContent = (panel.dataset.failed || "") + " " + error.message;
      }
    });
    off.addEventListener("click", async function () {
      const subscription = await registration.pushManager.getSubscription();
      if (subscription) {
        await post(panel.dataset.unsubscribe, { endpoint: subscription.endpoint }).catch(function () {});
        await subscription.unsubscribe();
      }
      await refresh(registration);
    });
  }).catch(function (error) {
    state.textContent = (panel.dataset.failed || "") + " " + error.message;
  });
})();
