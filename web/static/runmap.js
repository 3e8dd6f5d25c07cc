// Live plate map: poll the run's progress every 2 s and recolour wells, counts, ETA and
// buttons in place, until the run ends. The page is complete without JavaScript.
(() => {
  const root = document.getElementById("run");
  if (!root) return;
  const url = root.dataset.progressUrl;
  const $ = (id) => document.getElementById(id);

  function human(seconds) {
    if (seconds === null || seconds === undefined) return "—";
    const s = Math.round(seconds);
    if (s < 60) return `${s} s`;
    if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s`;
    return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")} min`;
  }

  function renderFailed(wells) {
    const body = document.querySelector("#failed-wells tbody");
    const failed = wells.filter((w) => w.status === "failed");
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

  async function poll() {
    let data;
    try {
      const res = await fetch(url, {credentials: "same-origin", headers: {Accept: "application/json"}});
      if (!res.ok) return true;
      data = await res.json();
    } catch (e) {
      return true; // network hiccup: try again next tick
    }
    const p = data.progress;
    for (const w of data.wells) {
      const el = document.querySelector(`#plate-map .well[data-well="${w.well}"]`);
      if (!el) continue;
      el.className = `well s-${w.status}`;
      el.title = `${w.well}: ${w.status}${w.error ? " — " + w.error : ""}`;
    }
    const status = $("run-status");
    status.textContent = p.status; status.className = `status ${p.status}`;
    $("n-done").textContent = p.done; $("n-failed").textContent = p.failed;
    $("n-running").textContent = p.running; $("n-total").textContent = p.total;
    $("eta").textContent = p.terminal ? "—" : human(p.eta_seconds);
    $("run-progress").max = p.total; $("run-progress").value = p.ended;
    $("run-count").textContent = `${p.ended}/${p.total} wells ended`;
    const cancel = $("cancel-form"), rerun = $("rerun-form");
    if (cancel) cancel.hidden = !p.can_cancel;
    if (rerun) rerun.hidden = !p.can_rerun;
    renderFailed(data.wells);
    $("started-at").textContent = (p.started_at || "").slice(0, 19);
    $("finished-at").textContent = (p.finished_at || "").slice(0, 19);
    root.dataset.terminal = String(p.terminal);
    return !p.terminal;
  }

  async function loop() {
    if (await poll()) setTimeout(loop, 2000);
  }
  if (root.dataset.terminal !== "true") setTimeout(loop, 1000);
})();
