// Live status on the runs list: poll the JSON API every 2 s and update rows in place
// (status, progress, failed count, duration; a running run's duration ticks).
(() => {
  const table = document.getElementById("runs");
  if (!table) return;

  // Stored times are UTC; one without a zone (SQLite) is read as UTC too.
  const parse = (iso) => (iso ? new Date(/[zZ]|[+-]\d\d:\d\d$/.test(iso) ? iso : iso + "Z") : null);

  async function refresh() {
    let runs;
    try {
      const res = await fetch(table.dataset.api, {credentials: "same-origin"});
      if (!res.ok) return;
      runs = await res.json();
    } catch (e) {
      return;
    }
    for (const r of runs) {
      const tr = table.querySelector(`tr[data-run="${r.run_id}"]`);
      if (!tr) continue;
      const cell = tr.querySelector(".status");
      cell.textContent = r.status; cell.className = "status " + r.status;
      const ended = r.wells_done + r.wells_failed;
      tr.querySelector("progress").max = r.wells_total;
      tr.querySelector("progress").value = ended;
      tr.querySelector(".count").textContent = `${ended}/${r.wells_total}`;
      tr.querySelector(".failed-count").textContent = r.wells_failed;
      const start = parse(r.started_at), end = parse(r.finished_at) || new Date();
      tr.querySelector(".duration").textContent = start ? window.platequeue.duration((end - start) / 1000) : "—";
    }
  }
  setInterval(refresh, 2000);
})();
