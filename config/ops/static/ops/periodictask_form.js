// The periodic task form: under the crontab field, its schedule in words (django-celery-beat's
// inline script, as a static file for the Content-Security-Policy).
(function () {
  const script = document.currentScript;
  const data = document.getElementById("readable-crontabs");
  const field = document.querySelector(".field-crontab");
  const select = document.getElementById("id_crontab");
  if (!data || !field || !select) return;
  const readable = JSON.parse(data.textContent);
  const original = script.dataset.crontabHelp || "";
  const translation = document.querySelector(".field-crontab_translation");
  if (translation) translation.style.display = "none";  // CSSOM, which the policy allows
  function update() {
    const help = field.querySelector(".help");
    if (!help) return;
    const text = readable[select.value];
    help.replaceChildren(original);
    if (text) help.append(document.createElement("br"), "Translation: " + text);
  }
  field.addEventListener("change", update);
})();
