// The student picker of the task form: students grouped by class, a search over all
// names, and the chosen ones as chips that can be removed again. Without JavaScript the
// grouped checkboxes work alone.
"use strict";
(function () {
  function setUp(picker) {
    const form = picker.closest("form");
    const search = picker.querySelector("[data-picker-search]");
    const chips = picker.querySelector("[data-picker-chips]");
    const groups = Array.from(picker.querySelectorAll(".picker-group"));
    const boxes = Array.from(picker.querySelectorAll("input[type=checkbox]"));
    picker.querySelector("[data-picker-tools]").hidden = false;

    // Only the classes ticked above are offered (all, while none is ticked).
    function chosenGroups() {
      return Array.from(form.querySelectorAll("input[name=groups]:checked")).map((box) => box.value);
    }

    function filter() {
      const query = search.value.trim().toLowerCase();
      const allowed = chosenGroups();
      groups.forEach(function (group) {
        const offered = !allowed.length || allowed.includes(group.dataset.group);
        let matches = 0;
        group.querySelectorAll("li").forEach(function (item) {
          const hit = !query || item.textContent.toLowerCase().includes(query);
          item.hidden = !hit;
          if (hit) matches++;
        });
        group.hidden = !offered || matches === 0;
        if (query && offered && matches) group.open = true;
      });
    }

    function drawChips() {
      chips.replaceChildren();
      const seen = new Set();
      boxes.filter((box) => box.checked).forEach(function (box) {
        if (seen.has(box.value)) return;
        seen.add(box.value);
        const chip = document.createElement("li");
        const remove = document.createElement("button");
        remove.type = "button";
        remove.className = "chip";
        remove.append(box.parentElement.textContent.trim());
        const hint = document.createElement("span");
        hint.className = "visually-hidden";
        hint.textContent = " " + picker.dataset.removeLabel;
        const cross = document.createElement("span");
        cross.setAttribute("aria-hidden", "true");
        cross.textContent = " ×";
        remove.append(hint, cross);
        remove.addEventListener("click", function () {
          boxes.filter((other) => other.value === box.value).forEach((other) => (other.checked = false));
          drawChips();
        });
        chip.appendChild(remove);
        chips.appendChild(chip);
      });
      chips.hidden = !chips.children.length;
    }

    search.addEventListener("input", filter);
    search.addEventListener("keydown", function (event) {
      if (event.key === "Enter") event.preventDefault(); // Enter searches, it does not save
    });
    form.addEventListener("change", function (event) {
      if (event.target.name === "groups") filter();
      if (boxes.includes(event.target)) {
        // A student in two groups is one choice: keep both boxes alike.
        boxes.filter((other) => other.value === event.target.value).forEach((other) => (other.checked = event.target.checked));
        drawChips();
      }
    });
    filter();
    drawChips();
  }

  document.querySelectorAll("[data-student-picker]").forEach(setUp);
})();
