// Without JavaScript the forms post and redirect back; with it, they post as JSON and the page and
// the header badge update in place.
(function () {
  function send(form) {
    const token = form.querySelector("[name=csrfmiddlewaretoken]").value;
    return fetch(form.action, {
      method: "POST", credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRFToken": token },
    }).then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); });
  }
  function setBadge(n) {
    const badge = document.getElementById("unread-badge");
    if (badge) { badge.textContent = n; badge.hidden = n === 0; }
  }
  document.querySelectorAll("form[data-notif-read]").forEach(function (form) {
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      send(form).then(function (body) {
        form.closest(".notif").classList.remove("unread");
        form.remove();
        setBadge(body.unread);
      }).catch(function () { form.submit(); });
    });
  });
  document.querySelectorAll("form[data-notif-all]").forEach(function (form) {
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      send(form).then(function (body) {
        document.querySelectorAll(".notif.unread").forEach(function (el) { el.classList.remove("unread"); });
        document.querySelectorAll("form[data-notif-read]").forEach(function (f) { f.remove(); });
        form.querySelector("button").disabled = true;
        setBadge(body.unread);
      }).catch(function () { form.submit(); });
    });
  });
})();
