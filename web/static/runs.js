// Live status on the runs list: poll the JSON API every 2 s and update rows in place.
(() => {
  const table = document.getElementById("runs");
  if (!table) return;
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
      tr.querySelector("progress").value = ended;
      tr.querySelector(".count").textContent = `${ended}/${r.wells_total}`;
      tr.querySelector(".failed-count").textContent = r.wells_failed;
    }
  }
  setInterval(refresh, 2000);
})();
