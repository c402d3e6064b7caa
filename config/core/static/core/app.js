// Shared page behaviour: keep the unread badge fresh without a reload.
(function () {
  const badge = document.getElementById("unread-badge");
  if (!badge) return;
  let delay = 15000;
  async function refresh() {
    try {
      const r = await fetch(badge.dataset.url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (r.ok) {
        const n = (await r.json()).unread;
        badge.textContent = n;
        badge.hidden = n === 0;
        delay = 15000;
      }
    } catch (e) { delay = Math.min(delay * 2, 120000); }
    setTimeout(refresh, delay);
  }
  window.backroomRefreshBadge = refresh;
  setTimeout(refresh, 3000);
})();

// Poll /tasks/<id>/ honouring poll_after_ms, backing off, stopping at a final state.
window.backroomPoll = function (statusUrl, onUpdate) {
  let backoff = 0;
  async function tick() {
    let next = 1000;
    try {
      const r = await fetch(statusUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (r.status === 404) return;
      if (!r.ok) throw new Error(r.status);
      const body = await r.json();
      backoff = 0;
      onUpdate(body);
      if (body.poll_after_ms === null) return;
      next = body.poll_after_ms;
    } catch (e) {
      backoff = Math.min((backoff || 1000) * 2, 30000);
      next = backoff;
    }
    setTimeout(tick, next);
  }
  tick();
};
