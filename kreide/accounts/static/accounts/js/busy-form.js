// Forms marked data-busy-form (the account import) take seconds: after submitting, the
// button is disabled (no double import) and says what is happening.
"use strict";
document.addEventListener("submit", function (event) {
  const form = event.target;
  if (!form.matches("form[data-busy-form]")) return;
  const button = form.querySelector("button[type=submit]");
  if (!button) return;
  button.disabled = true;
  button.textContent = form.dataset.busyForm;
  form.setAttribute("aria-busy", "true");
});
