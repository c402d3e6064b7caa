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
function backroomPollOnly(statusUrl, onUpdate) {
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
}

// Watch a job: every job a page watches shares one server-sent event stream
// (/tasks/stream/?ids=...), whose events carry what /tasks/<id>/ answers. When the stream fails
// (no EventSource, a refusal, or three errors without an event), each unfinished job polls instead.
window.backroomPoll = (function () {
  const watched = new Map(); // task id -> {url, onUpdate, done}
  let source = null;
  let opening = null;
  let failures = 0;

  function fallBack() {
    if (source) source.close();
    source = null;
    watched.forEach((w) => { if (!w.done) { w.done = true; backroomPollOnly(w.url, w.onUpdate); } });
  }

  function open() {
    opening = null;
    if (source) source.close();
    const ids = [...watched].filter(([, w]) => !w.done).map(([id]) => id);
    if (!ids.length) return;
    const first = watched.get(ids[0]).url;
    const streamUrl = new URL(first.replace(/[^/]+\/$/, "stream/"), location.href);
    streamUrl.searchParams.set("ids", ids.join(","));
    source = new EventSource(streamUrl.toString());
    source.addEventListener("job", (e) => {
      failures = 0;
      const body = JSON.parse(e.data);
      const w = watched.get(body.task_id);
      if (!w || w.done) return;
      if (body.poll_after_ms === null) w.done = true;
      w.onUpdate(body);
    });
    source.onopen = () => { failures = 0; };
    source.addEventListener("done", () => { source.close(); source = null; });
    source.addEventListener("unavailable", fallBack);
    source.onerror = () => {
      failures += 1;
      // CLOSED: the server refused the stream (not 200, not text/event-stream): no reconnect comes.
      if (source.readyState === EventSource.CLOSED || failures >= 3) fallBack();
    };
  }

  return function (statusUrl, onUpdate) {
    const match = /([0-9a-f-]{36})\/?$/.exec(new URL(statusUrl, location.href).pathname);
    if (!window.EventSource || !match) { backroomPollOnly(statusUrl, onUpdate); return; }
    watched.set(match[1], { url: statusUrl, onUpdate: onUpdate, done: false });
    // Calls made together (a page's tiles) share one stream; a later call reopens it with all ids.
    if (!opening) opening = setTimeout(open, 0);
  };
})();
