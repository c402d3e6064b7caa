// Preselect the browser's own time zone (sign-up) when the list has it; the person can change it.
(function () {
  let zone = "";
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { return; }
  document.querySelectorAll("select[data-from-browser]").forEach(function (select) {
    if (Array.from(select.options).some(function (o) { return o.value === zone; })) select.value = zone;
  });
})();
