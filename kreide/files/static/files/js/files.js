// The folder page: once every upload on the page has finished, show the new listing.
"use strict";
(function () {
  document.addEventListener("kreide:uploaded", () => {
    const items = document.querySelectorAll(".upload-item");
    const done = document.querySelectorAll(".upload-item.done");
    if (items.length && items.length === done.length) window.location.reload();
  });
})();
