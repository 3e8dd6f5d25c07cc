// Filter the plate cards as you type (the form still works without JavaScript).
(() => {
  const box = document.querySelector("input[data-filter]");
  if (!box) return;
  const count = document.getElementById("plate-count");
  box.addEventListener("input", () => {
    const needle = box.value.trim().toLowerCase();
    let shown = 0;
    for (const card of document.querySelectorAll(box.dataset.filter)) {
      const hit = !needle || card.dataset.search.includes(needle);
      card.hidden = !hit;
      if (hit) shown += 1;
    }
    for (const section of document.querySelectorAll("section.screen")) {
      section.hidden = !section.querySelector(".plate-card:not([hidden])");
    }
    count.textContent = `${shown} plate${shown === 1 ? "" : "s"} shown`;
  });
})();
