// Show only the chosen kind's columns and filters (without JavaScript all fieldsets show, and
// the server reads only the chosen kind's).
(function () {
  document.querySelectorAll("form.export-form").forEach(function (form) {
    const kind = form.querySelector("select[name=kind]");
    if (!kind) return;
    function show() {
      form.querySelectorAll("fieldset.choice").forEach(function (set) {
        set.hidden = set.dataset.kind !== kind.value;
      });
    }
    kind.addEventListener("change", show);
    show();
  });
})();
