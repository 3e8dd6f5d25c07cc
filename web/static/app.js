// Shared page behaviour, loaded by every page (base.html):
//  * Confirmations: a <form data-confirm="Question?"> (or a submit button carrying
//    data-confirm) asks in a modal dialog before it is sent. data-confirm-yes names the
//    action ("Cancel run"), data-confirm-no the way out ("Keep it running"). Without
//    JavaScript the form is sent as is.
//  * Times: <time datetime="…Z"> elements (the `when` template filter) are shown in the
//    reader's own time zone, with the zone named; the UTC original stays in the tooltip.
//  * Durations: duration(seconds) writes "42 s", "3 min 07 s" or "2 h 05 min" ("—" for none),
//    as the server's pages do.
// window.platequeue exposes these for other scripts: confirmAction(text, yes, no) -> Promise,
// localTime(isoString) -> string, localizeTimes(root), duration(seconds) -> string.
(() => {
  const fmt = new Intl.DateTimeFormat(undefined, {
    year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
    hour12: false, timeZoneName: "short",
  });

  function localTime(iso) {
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return iso;
    const p = Object.fromEntries(fmt.formatToParts(d).map((x) => [x.type, x.value]));
    return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute} ${p.timeZoneName || ""}`.trim();
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "—";
    const s = Math.round(seconds);
    if (s < 60) return `${s} s`;
    if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s`;
    return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")} min`;
  }

  function localizeTimes(root) {
    for (const el of (root || document).querySelectorAll("time[datetime]")) {
      if (el.dataset.local === "done") continue;
      el.title = el.title || el.textContent;
      el.textContent = localTime(el.getAttribute("datetime"));
      el.dataset.local = "done";
    }
  }

  let dialog = null;
  function ensureDialog() {
    if (dialog) return dialog;
    dialog = document.createElement("dialog");
    dialog.id = "confirm-dialog";
    dialog.setAttribute("aria-labelledby", "confirm-title");
    dialog.setAttribute("aria-describedby", "confirm-text");
    dialog.innerHTML = `<form method="dialog">
      <h2 id="confirm-title">Are you sure?</h2>
      <p id="confirm-text"></p>
      <div class="toolbar">
        <button value="yes" id="confirm-yes" class="danger"></button>
        <button value="no" id="confirm-no" class="secondary" autofocus></button>
      </div></form>`;
    document.body.append(dialog);
    return dialog;
  }

  function confirmAction(text, yes, no) {
    const d = ensureDialog();
    d.querySelector("#confirm-text").textContent = text;
    d.querySelector("#confirm-yes").textContent = yes || "Yes";
    d.querySelector("#confirm-no").textContent = no || "No, go back";
    d.returnValue = "";
    return new Promise((resolve) => {
      d.addEventListener("close", () => resolve(d.returnValue === "yes"), {once: true});
      d.showModal();
      d.querySelector("#confirm-no").focus();
    });
  }

  document.addEventListener("submit", async (event) => {
    const form = event.target;
    const button = event.submitter;
    const source = button && button.dataset.confirm ? button : form;
    const text = source.dataset ? source.dataset.confirm : undefined;
    if (!text || form.dataset.confirmed === "yes") return;
    event.preventDefault();
    const ok = await confirmAction(text, source.dataset.confirmYes, source.dataset.confirmNo);
    if (!ok) return;
    form.dataset.confirmed = "yes";
    if (button && button.name) {  // form.submit() does not send the submitter: carry it
      const carried = document.createElement("input");
      carried.type = "hidden"; carried.name = button.name; carried.value = button.value;
      form.append(carried);
    }
    if (button) button.disabled = true;  // one click, one request
    HTMLFormElement.prototype.submit.call(form);
  });

  window.platequeue = {confirmAction, localTime, localizeTimes, duration};
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", () => localizeTimes());
  } else {
    localizeTimes();
  }
})();
