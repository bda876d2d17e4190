// Kreide's service worker: shows Web Push messages as notifications and tells open pages.
// Served from Kreide's own origin (/notifications/sw.js, allowed to control "/").
"use strict";

self.addEventListener("install", function () {
  self.skipWaiting();
});

self.addEventListener("activate", function (event) {
  event.waitUntil(self.clients.claim());
});

function parse(event) {
  if (!event.data) return { title: "Kreide", body: "" };
  try {
    return event.data.json();
  } catch (error) {
    return { title: "Kreide", body: event.data.text() };
  }
}

self.addEventListener("push", function (event) {
  const data = parse(event);
  const url = data.url ? new URL(data.url, self.location.origin).href : self.location.origin + "/notifications/";
  const shown = self.registration.showNotification(data.title || "Kreide", {
    body: data.body || "",
    tag: data.tag || "kreide",
    renotify: true,
    icon: "/static/kreide/favicon.svg",
    data: { url: url },
  });
  const told = self.clients.matchAll({ type: "window", includeUncontrolled: true }).then(function (pages) {
    pages.forEach(function (page) {
      page.postMessage({ type: "kreide-push", text: data.body || "", url: url, count: data.count });
    });
  });
  event.waitUntil(Promise.all([shown.catch(function () {}), told]));
});

self.addEventListener("notificationclick", function (event) {
  event.notification.close();
  const url = (event.notification.data && event.notification.data.url) || self.location.origin + "/";
  event.waitUntil(
    self.clients.matchAll({ type: "window", includeUncontrolled: true }).then(function (pages) {
      for (const page of pages) {
        if (page.url === url && "focus" in page) return page.focus();
      }
      return self.clients.openWindow(url);
    })
  );
});
