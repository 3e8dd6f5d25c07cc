// The queue overview refreshes itself from /ops/queue.json every 5 seconds.
(() => {
  const script = document.currentScript;
  const url = script && script.dataset.json;
  if (!url) return;
  const note = document.getElementById("live-note");
  const el = (tag, text, cls) => {
    const e = document.createElement(tag);
    if (text !== undefined) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  };
  const row = (cells, attrs = {}) => {
    const tr = document.createElement("tr");
    for (const [k, v] of Object.entries(attrs)) tr.setAttribute(k, v);
    for (const c of cells) tr.append(c);
    return tr;
  };
  const fill = (id, rows, empty, span) => {
    const body = document.querySelector(`#${id} tbody`);
    if (!rows.length) {
      const td = el("td", empty, "muted");
      td.colSpan = span;
      body.replaceChildren(row([td]));
    } else body.replaceChildren(...rows);
  };
  const human = (s) => {
    if (s < 60) return `${Math.round(s)} s`;
    if (s < 3600) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
    return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
  };
  const link = (href, text) => { const a = el("a", text); a.href = href; return a; };
  const render = (d) => {
    document.getElementById("broker-down").hidden = d.broker_ok;
    document.getElementById("throughput").textContent = d.wells_per_minute.toFixed(1);
    const wait = document.getElementById("oldest-wait");
    const what = document.getElementById("oldest-what");
    if (d.oldest) {
      wait.textContent = human(d.oldest.seconds);
      what.replaceChildren(`oldest waiting well: ${d.oldest.well} of `,
        link(d.oldest.run_url, `run ${d.oldest.run_id}`), ` (${d.oldest.user})`);
    } else { wait.textContent = "–"; what.textContent = "no well is waiting"; }
    document.getElementById("n-active").textContent = d.active.length;
    fill("active-runs", d.active.map((r) => {
      const st = el("td", r.status, `status ${r.status}`);
      const first = el("td"); first.append(link(r.url, `run ${r.run_id}`));
      return row([first, el("td", r.user), el("td", r.plate_name), el("td", r.pipeline), st,
        el("td", `${r.ended}/${r.total}`, "num"), el("td", r.queue)], { "data-run": r.run_id });
    }), "Nothing is queued or running.", 7);
    fill("queues", d.queues.map((q) => row([el("td", q.name), el("td", q.broker_depth, "num depth"),
      el("td", q.in_flight, "num"), el("td", q.running, "num"), el("td", q.waiting_dispatch, "num")],
      { "data-queue": q.name })), "", 5);
    document.getElementById("workers-h").textContent = `Workers online (${d.workers.length})`;
    fill("workers", d.workers.map((w) => row([el("td", w.hostname), el("td", w.queues.join(", ")),
      el("td", w.gpu ? `GPU ${w.gpu}` : "CPU only"), el("td", w.pid || "", "num")],
      { "data-worker": w.hostname })),
      "No worker has announced itself in the last heartbeat interval.", 4);
    fill("users", d.users.map((u) => row([el("td", u.user), el("td", u.active_runs, "num"),
      el("td", u.wells_pending, "num")])), "Nothing queued.", 3);
    note.textContent = `Updated live every 5 seconds; last update ${new Date().toLocaleTimeString()}.`;
    note.dataset.updates = String(Number(note.dataset.updates || 0) + 1);
  };
  const tick = async () => {
    try {
      const res = await fetch(url, { headers: { Accept: "application/json" } });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      render(await res.json());
    } catch (err) {
      note.textContent = `Live update failed (${err.message}); retrying.`;
    }
  };
  setInterval(tick, 5000);
})();
