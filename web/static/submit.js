// Changing the pipeline reloads its parameter form (the "Load its parameters" button does the
// same without JavaScript). The server validates everything; this only saves a click.
(() => {
  const select = document.querySelector("select[data-reload]");
  const reload = document.getElementById("reload");
  if (!select || !reload) return;
  reload.hidden = true;
  select.addEventListener("change", () => reload.form.requestSubmit(reload));
})();
