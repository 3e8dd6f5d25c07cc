// Run page: the live plate map and its keyboard operation. The page is complete without
// JavaScript; with it, progress.json is polled every 2 s and wells, counts, ETA, the legend's
// counts and the Cancel/Rerun buttons change in place until the run ends. The map is an ARIA
// grid: one well is in the tab order; arrow keys, Home/End and Ctrl+Home/End move; Enter or
// Space (or a click) shows the well's state, attempts and error below the map.
(() => {
  const root = document.getElementById("run");
  const map = document.getElementById("plate-map");
  if (!root || !map) return;
  const url = root.dataset.progressUrl;
  const $ = (id) => document.getElementById(id);
  const wells = new Map();  // label -> last state from progress.json
  let selected = null;

  function timeCell(el, iso) {
    el.replaceChildren();
    if (!iso) { el.innerHTML = '<span class="muted">—</span>'; return; }
    const t = document.createElement("time");
    t.setAttribute("datetime", iso);
    t.textContent = iso;
    el.append(t);
    if (window.platequeue) window.platequeue.localizeTimes(el);
  }

  // -- keyboard grid -------------------------------------------------------------------------
  const rows = [...map.tBodies[0].rows].map((tr) => [...tr.querySelectorAll("td[role=gridcell]")]);
  const first = map.querySelector("td[data-well]") || (rows[0] && rows[0][0]);
  if (first) first.tabIndex = 0;

  function position(cell) {
    for (let r = 0; r < rows.length; r++) {
      const c = rows[r].indexOf(cell);
      if (c >= 0) return [r, c];
    }
    return [0, 0];
  }

  function focusCell(cell) {
    if (!cell) return;
    for (const td of map.querySelectorAll("td[tabindex='0']")) td.tabIndex = -1;
    cell.tabIndex = 0;
    cell.focus();
  }

  function describe(label) {
    const box = $("well-detail");
    const w = wells.get(label);
    box.replaceChildren();
    if (!w) {
      box.textContent = `${label}: no well on the plate.`;
      return;
    }
    const h = document.createElement("h3");
    h.textContent = `Well ${w.well}: ${w.status}`;
    const p = document.createElement("p");
    const bits = [`${w.attempts} attempt${w.attempts === 1 ? "" : "s"}`];
    if (w.worker) bits.push(`worker ${w.worker}`);
    if (w.device) bits.push(`device ${w.device}`);
    p.textContent = bits.join(" · ");
    box.append(h, p);
    if (w.error) {
      const e = document.createElement("p");
      e.className = "error"; e.textContent = w.error;
      box.append(e);
    }
    if (w.status === "succeeded" || w.status === "skipped") {
      const a = document.createElement("a");
      a.href = `${root.dataset.resultsUrl}?well=${encodeURIComponent(w.well)}`;
      a.textContent = `Measurements of ${w.well}`;
      box.append(a);
    }
  }

  function select(cell) {
    for (const td of map.querySelectorAll("td[aria-selected]")) td.removeAttribute("aria-selected");
    cell.setAttribute("aria-selected", "true");
    selected = cell.dataset.well || null;
    describe(cell.dataset.well || cell.getAttribute("aria-label").split(":")[0]);
  }

  map.addEventListener("keydown", (e) => {
    const cell = e.target.closest("td[role=gridcell]");
    if (!cell) return;
    const [r, c] = position(cell);
    const last = rows[r].length - 1;
    let next = null;
    switch (e.key) {
      case "ArrowRight": next = rows[r][Math.min(c + 1, last)]; break;
      case "ArrowLeft": next = rows[r][Math.max(c - 1, 0)]; break;
      case "ArrowDown": next = (rows[Math.min(r + 1, rows.length - 1)] || [])[c]; break;
      case "ArrowUp": next = (rows[Math.max(r - 1, 0)] || [])[c]; break;
      case "Home": next = e.ctrlKey ? rows[0][0] : rows[r][0]; break;
      case "End": next = e.ctrlKey ? rows[rows.length - 1].at(-1) : rows[r][last]; break;
      case "Enter": case " ": select(cell); e.preventDefault(); return;
      default: return;
    }
    e.preventDefault();
    focusCell(next);
  });
  map.addEventListener("click", (e) => {
    const cell = e.target.closest("td[role=gridcell]");
    if (cell) { focusCell(cell); select(cell); }
  });

  // -- live updates --------------------------------------------------------------------------
  function renderFailed(list) {
    const body = document.querySelector("#failed-wells tbody");
    const failed = list.filter((w) => w.status === "failed");
    body.replaceChildren();
    if (!failed.length) {
      const tr = body.insertRow();
      tr.className = "none";
      const td = tr.insertCell();
      td.colSpan = 3; td.className = "muted"; td.textContent = "None.";
      return;
    }
    for (const w of failed) {
      const tr = body.insertRow();
      tr.dataset.well = w.well;
      tr.insertCell().textContent = w.well;
      tr.insertCell().textContent = w.attempts;
      const err = tr.insertCell();
      err.className = "error"; err.textContent = w.error || "";
    }
  }

  function apply(data) {
    const p = data.progress;
    for (const w of data.wells) {
      wells.set(w.well, w);
      const td = map.querySelector(`td[data-well="${w.well}"]`);
      if (!td) continue;
      const el = td.querySelector(".well");
      const cls = `well s-${w.status}`;
      if (el.className !== cls) el.className = cls;
      el.title = `${w.well}: ${w.status}${w.error ? " — " + w.error : ""}`;
      td.setAttribute("aria-label", `${w.well}: ${w.status}`);
    }
    const status = $("run-status");
    status.textContent = p.status; status.className = `status ${p.status}`;
    $("n-done").textContent = p.done; $("n-failed").textContent = p.failed;
    $("n-running").textContent = p.running; $("n-total").textContent = p.total;
    $("eta").textContent = p.terminal ? "—" : window.platequeue.duration(p.eta_seconds);
    $("elapsed").textContent = window.platequeue.duration(p.elapsed_seconds);
    $("run-progress").max = p.total; $("run-progress").value = p.ended;
    $("run-count").textContent = `${p.ended}/${p.total} wells ended`;
    for (const [state, n] of Object.entries(p.counts || {})) {
      const el = $(`count-${state}`);
      if (el) el.textContent = n;
      if (state === "skipped" && el) el.closest("li").hidden = !n;
    }
    const cancel = $("cancel-form"), rerun = $("rerun-form");
    if (cancel) cancel.hidden = !p.can_cancel;
    if (rerun) {
      rerun.hidden = !p.can_rerun;
      const run = root.dataset.progressUrl.split("/").at(-2);
      rerun.dataset.confirm =
        `Queue the ${p.failed} failed well${p.failed === 1 ? "" : "s"} of run ${run} again?`;
    }
    const results = $("results-link");
    if (results) results.textContent = p.terminal ? "Results" : "Results so far";
    renderFailed(data.wells);
    timeCell($("started-at"), p.started_at);
    timeCell($("finished-at"), p.finished_at);
    root.dataset.terminal = String(p.terminal);
    if (selected) describe(selected);
  }

  async function poll() {
    try {
      const res = await fetch(url, {credentials: "same-origin", headers: {Accept: "application/json"}});
      if (!res.ok) return true;  // a hiccup (or a restart): try again next tick
      apply(await res.json());
      return root.dataset.terminal !== "true";
    } catch (e) {
      return true;
    }
  }

  async function loop() {
    if (await poll()) setTimeout(loop, 2000);
  }
  // One poll at once fills the well details for the keyboard/click panel; it keeps going
  // only while the run is not over.
  setTimeout(loop, root.dataset.terminal === "true" ? 0 : 1000);
})();
