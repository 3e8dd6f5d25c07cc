// The submit form without extra clicks. Everything also works without JavaScript (the
// buttons this hides do the same); the server validates every value.
(() => {
  const form = document.getElementById("submit-form");
  if (!form) return;

  // Changing the pipeline reloads its parameters; changing the plates reloads the well grid
  // and the channel picks, keeping what was typed.
  const bindReload = (selector, buttonId) => {
    const button = document.getElementById(buttonId);
    if (!button) return;
    button.hidden = true;
    for (const el of form.querySelectorAll(selector)) {
      el.addEventListener("change", () => form.requestSubmit(button));
    }
  };
  bindReload("select[data-reload]", "reload");
  bindReload("input[data-plates]", "plates-apply");

  // Channel roles: say what an explicit choice will read.
  for (const select of form.querySelectorAll("#channels-fieldset select")) {
    const out = document.getElementById(select.getAttribute("aria-describedby"));
    const automatic = out ? out.innerHTML : "";
    select.addEventListener("change", () => {
      if (!out) return;
      if (select.value) out.textContent = `Will read: ${select.value} on every chosen plate.`;
      else out.innerHTML = automatic;
    });
  }

  // Numbers: say at once when a value is outside the declared bounds (the server refuses it).
  for (const input of form.querySelectorAll("input[data-type]")) {
    input.addEventListener("input", () => {
      const text = input.value.trim();
      const v = Number(text);
      let bad = text !== "" && !Number.isFinite(v);
      if (!bad && text !== "") {
        if (input.dataset.type === "integer" && !Number.isInteger(v)) bad = true;
        if (input.dataset.min !== undefined && v < Number(input.dataset.min)) bad = true;
        if (input.dataset.xmin !== undefined && v <= Number(input.dataset.xmin)) bad = true;
        if (input.dataset.max !== undefined && v > Number(input.dataset.max)) bad = true;
      }
      input.setAttribute("aria-invalid", bad ? "true" : "false");
    });
  }

  // The well picker: click or drag to tick, arrow keys to move, Space or Enter to tick.
  const grid = form.querySelector(".well-picker");
  if (!grid) return;
  const summary = document.getElementById("well-summary");
  const boxes = [...grid.querySelectorAll("input[name=well]:not([disabled])")];
  const cellOf = (box) => box.closest(".pick");
  const at = new Map(boxes.map((b) => [`${cellOf(b).dataset.r},${cellOf(b).dataset.c}`, b]));
  const present = Number(grid.dataset.present);
  const update = () => {
    const n = boxes.filter((b) => b.checked).length;
    summary.textContent = n ? `${n} well${n === 1 ? "" : "s"} chosen` : `All ${present} wells`;
  };
  const setAll = (list, state) => { for (const b of list) b.checked = state; update(); };
  const toggleGroup = (list) => setAll(list, !list.every((b) => b.checked));

  // roving tab stop: one well in the tab order, arrows move between wells
  let current = boxes.find((b) => b.checked) || boxes[0];
  const focusBox = (box) => {
    if (!box) return;
    if (current) current.tabIndex = -1;
    current = box;
    box.tabIndex = 0;
    box.focus();
  };
  for (const b of boxes) b.tabIndex = b === current ? 0 : -1;
  const moves = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] };
  grid.addEventListener("keydown", (e) => {
    const box = e.target.closest("input[name=well]");
    if (!box) return;
    if (e.key === "Enter") { e.preventDefault(); box.checked = !box.checked; update(); return; }
    const move = moves[e.key];
    if (!move && e.key !== "Home" && e.key !== "End") return;
    e.preventDefault();
    if (e.key === "Home") return focusBox(boxes[0]);
    if (e.key === "End") return focusBox(boxes[boxes.length - 1]);
    let r = Number(cellOf(box).dataset.r);
    let c = Number(cellOf(box).dataset.c);
    for (let i = 0; i < 400; i += 1) {  // skip wells without images
      r += move[0]; c += move[1];
      if (r < 0 || c < 0 || r > 99 || c > 99) return;
      const next = at.get(`${r},${c}`);
      if (next) return focusBox(next);
    }
  });
  grid.addEventListener("focusin", (e) => {
    const box = e.target.closest("input[name=well]");
    if (box && box !== current) { current.tabIndex = -1; current = box; box.tabIndex = 0; }
  });
  grid.addEventListener("change", update);

  // pointer: press on a well ticks (or unticks) it, dragging applies the same to others
  let dragState = null;
  const boxAt = (x, y) => {
    const el = document.elementFromPoint(x, y);
    const cell = el && el.closest(".pick:not(.absent)");
    return cell ? cell.querySelector("input") : null;
  };
  grid.addEventListener("pointerdown", (e) => {
    const box = boxAt(e.clientX, e.clientY);
    if (!box || e.button !== 0) return;
    e.preventDefault();
    dragState = !box.checked;
    box.checked = dragState;
    focusBox(box);
    update();
  });
  grid.addEventListener("pointermove", (e) => {
    if (dragState === null) return;
    const box = boxAt(e.clientX, e.clientY);
    if (box && box.checked !== dragState) { box.checked = dragState; update(); }
  });
  document.addEventListener("pointerup", () => { dragState = null; });
  grid.addEventListener("click", (e) => {  // the pointer already toggled; keys still do
    if (e.detail > 0 && e.target.closest(".pick")) e.preventDefault();
  });
  grid.addEventListener("click", (e) => {
    const head = e.target.closest("button.axis");
    if (!head) return;
    const key = head.dataset.row !== undefined ? "r" : "c";
    const idx = head.dataset.row !== undefined ? head.dataset.row : head.dataset.col;
    toggleGroup(boxes.filter((b) => cellOf(b).dataset[key] === idx));
  });
  for (const button of form.querySelectorAll("button[data-wells]")) {
    button.addEventListener("click", () => {
      const how = button.dataset.wells;
      if (how === "invert") { for (const b of boxes) b.checked = !b.checked; update(); }
      else setAll(boxes, how === "all");
    });
  }
  update();
})();
