// The image view: the server renders PNGs of the field (whole, then the visible region at
// full resolution once zoomed in); this script keeps the settings, pans and zooms.
(() => {
  const vp = document.getElementById("viewport");
  if (!vp) return;
  const W = Number(vp.dataset.width);
  const H = Number(vp.dataset.height);
  const renderUrl = vp.dataset.render;
  const pixelSize = vp.dataset.pixelSize ? Number(vp.dataset.pixelSize) : null;
  const unit = vp.dataset.unit || "µm";
  const base = document.getElementById("base-img");
  const detail = document.getElementById("detail-img");
  const zoomLabel = document.getElementById("zoom-level");
  const scaleBar = document.getElementById("scale-bar");
  const pngLink = document.getElementById("png-link");
  const outlineBox = document.getElementById("outlines");
  const outlineRun = document.getElementById("outline-run");
  const baseStep = Math.max(1, Math.ceil(Math.max(W, H) / 1024));

  const rows = [...document.querySelectorAll(".channel-row")];
  const channel = (row) => {
    const i = row.dataset.channel;
    return {
      row, i,
      on: document.getElementById(`ch-on-${i}`),
      colour: document.getElementById(`ch-col-${i}`),
      lo: document.getElementById(`ch-lo-${i}`),
      hi: document.getElementById(`ch-hi-${i}`),
      auto: row.querySelector("button[data-auto]"),
    };
  };
  const channels = rows.map(channel);

  const query = (extra) => {
    const q = new URLSearchParams();
    for (const c of channels) {
      if (!c.on.checked) continue;
      const auto = c.auto.getAttribute("aria-pressed") === "true";
      const lo = auto ? "auto" : String(Number(c.lo.value));
      const hi = auto ? "auto" : String(Number(c.hi.value));
      q.append("c", `${c.i}|${c.colour.value.slice(1)}|${lo}|${hi}`);
    }
    if (outlineBox && outlineBox.checked && outlineRun) q.set("outlines", outlineRun.value);
    for (const [k, v] of Object.entries(extra)) q.set(k, String(v));
    return `${renderUrl}?${q}`;
  };

  // view: z = screen pixels per image pixel; (ox, oy) = screen position of the image origin
  let z = 1; let ox = 0; let oy = 0;
  let detailRegion = null;
  const fitZoom = () => Math.min(vp.clientWidth / W, vp.clientHeight / H);
  const clampPan = () => {
    const vw = vp.clientWidth; const vh = vp.clientHeight;
    const iw = W * z; const ih = H * z;
    ox = iw <= vw ? (vw - iw) / 2 : Math.min(0, Math.max(vw - iw, ox));
    oy = ih <= vh ? (vh - ih) / 2 : Math.min(0, Math.max(vh - ih, oy));
  };
  const niceLength = (target) => {
    const exp = Math.floor(Math.log10(target));
    for (const m of [5, 2, 1]) if (m * 10 ** exp <= target) return m * 10 ** exp;
    return 10 ** exp;
  };
  const place = () => {
    clampPan();
    base.style.transform = `translate(${ox}px, ${oy}px) scale(${z * baseStep})`;
    if (detailRegion) {
      const r = detailRegion;
      detail.style.transform = `translate(${ox + r.x * z}px, ${oy + r.y * z}px) scale(${z * r.step})`;
    }
    detail.hidden = !detailRegion || baseStep === 1 || z * baseStep <= 1.001;
    zoomLabel.textContent = `${Math.round(z * 100)} %`;
    if (pixelSize && scaleBar) {
      const length = niceLength((100 / z) * pixelSize);
      scaleBar.querySelector(".bar").style.width = `${(length / pixelSize) * z}px`;
      scaleBar.querySelector("span").textContent = `${length} ${unit}`;
    }
  };

  let baseSerial = 0;
  const loadBase = () => {
    const url = query({ step: baseStep });
    const serial = ++baseSerial;
    const img = new Image();
    img.onload = () => {
      if (serial !== baseSerial) return;
      base.src = url;
      vp.dataset.loaded = url;  // for tests and for people reading the DOM
    };
    img.src = url;
    pngLink.href = query({});
  };
  let detailTimer = null; let detailSerial = 0;
  const loadDetail = () => {
    clearTimeout(detailTimer);
    detailTimer = setTimeout(() => {
      // the whole-field image is enough until it is shown coarser than the screen
      if (baseStep === 1 || z * baseStep <= 1.001) { detailRegion = null; place(); return; }
      const step = Math.max(1, Math.floor(1 / z));
      const x = Math.max(0, Math.floor(-ox / z)); const y = Math.max(0, Math.floor(-oy / z));
      const w = Math.min(W - x, Math.ceil(vp.clientWidth / z) + 2);
      const h = Math.min(H - y, Math.ceil(vp.clientHeight / z) + 2);
      const url = query({ x, y, w, h, step });
      const serial = ++detailSerial;
      const img = new Image();
      img.onload = () => {
        if (serial !== detailSerial) return;
        detail.src = url;
        detailRegion = { x, y, step };
        vp.dataset.detail = url;
        place();
      };
      img.src = url;
    }, 180);
  };
  const refresh = () => { loadBase(); detailRegion = null; place(); loadDetail(); };

  const zoomTo = (nz, cx = vp.clientWidth / 2, cy = vp.clientHeight / 2) => {
    const min = Math.min(fitZoom(), 1); const max = 32;
    nz = Math.min(max, Math.max(min, nz));
    ox = cx - ((cx - ox) * nz) / z; oy = cy - ((cy - oy) * nz) / z; z = nz;
    place(); loadDetail();
  };
  const fit = () => { z = fitZoom(); ox = 0; oy = 0; place(); loadDetail(); };

  // pointer: drag pans, the wheel zooms about the cursor
  let drag = null;
  vp.addEventListener("pointerdown", (e) => {
    drag = { x: e.clientX, y: e.clientY, ox, oy };
    vp.setPointerCapture(e.pointerId); vp.classList.add("dragging");
  });
  vp.addEventListener("pointermove", (e) => {
    if (!drag) return;
    ox = drag.ox + e.clientX - drag.x; oy = drag.oy + e.clientY - drag.y; place();
  });
  const endDrag = () => { if (drag) { drag = null; vp.classList.remove("dragging"); loadDetail(); } };
  vp.addEventListener("pointerup", endDrag);
  vp.addEventListener("pointercancel", endDrag);
  vp.addEventListener("wheel", (e) => {
    e.preventDefault();
    const rect = vp.getBoundingClientRect();
    zoomTo(z * (e.deltaY < 0 ? 1.25 : 0.8), e.clientX - rect.left, e.clientY - rect.top);
  }, { passive: false });
  vp.addEventListener("keydown", (e) => {
    const pan = { ArrowLeft: [60, 0], ArrowRight: [-60, 0], ArrowUp: [0, 60], ArrowDown: [0, -60] }[e.key];
    if (pan) { ox += pan[0]; oy += pan[1]; place(); loadDetail(); }
    else if (e.key === "+" || e.key === "=") zoomTo(z * 1.5);
    else if (e.key === "-") zoomTo(z / 1.5);
    else if (e.key === "0") fit();
    else if (e.key === "1") zoomTo(1);
    else return;
    e.preventDefault();
  });
  for (const b of document.querySelectorAll("button[data-zoom]")) {
    b.addEventListener("click", () => {
      const how = b.dataset.zoom;
      if (how === "in") zoomTo(z * 1.5);
      else if (how === "out") zoomTo(z / 1.5);
      else if (how === "fit") fit();
      else zoomTo(1);
    });
  }

  // settings: any change renders again
  for (const c of channels) {
    c.on.addEventListener("change", refresh);
    c.colour.addEventListener("change", refresh);
    for (const input of [c.lo, c.hi]) {
      input.addEventListener("change", () => {
        if (!(Number(c.hi.value) > Number(c.lo.value))) {
          input.setAttribute("aria-invalid", "true");
          return;
        }
        c.lo.removeAttribute("aria-invalid"); c.hi.removeAttribute("aria-invalid");
        c.auto.setAttribute("aria-pressed", "false");
        refresh();
      });
    }
    c.auto.addEventListener("click", () => {
      c.lo.value = String(Number(Number(c.row.dataset.autoLow).toPrecision(5)));
      c.hi.value = String(Number(Number(c.row.dataset.autoHigh).toPrecision(5)));
      c.auto.setAttribute("aria-pressed", "true");
      refresh();
    });
  }
  if (outlineBox) outlineBox.addEventListener("change", refresh);
  if (outlineRun) outlineRun.addEventListener("change", () => { if (outlineBox.checked) refresh(); });
  window.addEventListener("resize", () => { place(); loadDetail(); });

  fit();
  loadBase();
})();
