// The operations dashboard stays live: every few seconds it asks the same URL for JSON (queues,
// workers, beat, recent failures, per-task rates) and redraws those parts; the charts show the
// value under the pointer. Without JavaScript the page is complete as loaded.
(function () {
  "use strict";
  const status = document.getElementById("live-status");
  if (!status) return;
  const EVERY = 5000;

  function cell(tag, text, href) {
    const el = document.createElement(tag);
    if (href) {
      const a = document.createElement("a");
      a.href = href; a.textContent = text;
      el.append(a);
    } else {
      el.textContent = text;
    }
    return el;
  }
  function rows(tbody, items, make, empty, span) {
    tbody.replaceChildren();
    if (!items.length) {
      const tr = document.createElement("tr");
      const td = cell("td", empty); td.colSpan = span; td.className = "muted";
      tr.append(td); tbody.append(tr);
      return;
    }
    items.forEach((item) => { const tr = document.createElement("tr"); tr.append(...make(item)); tbody.append(tr); });
  }

  function draw(now) {
    Object.entries(now.queues).forEach(([name, n]) => {
      const td = document.querySelector("[data-queue='" + name + "']");
      if (td) td.textContent = n === null ? "n/a" : String(n);
    });
    document.getElementById("workers-count").textContent = now.workers.length;
    const workers = document.getElementById("workers");
    workers.replaceChildren(...(now.workers.length ? now.workers.map((w) => cell("li", w)) : [cell("li", "none answered")]));
    if (!now.workers.length) workers.firstChild.className = "muted";
    const beat = document.getElementById("beat-state");
    beat.textContent = now.beat.last_tick_age === null ? "no heartbeat" : "last tick " + now.beat.last_tick_age + " s ago";
    beat.className = "state " + (now.beat.ok ? "state-SUCCESS" : "state-FAILURE");
    rows(document.querySelector("#failures tbody"), now.failures,
      (f) => [cell("td", f.kind, f.url), cell("td", f.error), cell("td", f.when)], "No failed jobs.", 3);
    rows(document.querySelector("#rates tbody"), now.rates,
      (r) => [cell("th", r.task), cell("td", String(r.per_minute)), cell("td", String(r.failed)), cell("td", r.p50), cell("td", r.p95)],
      "No task finished in the last hour.", 5);
    document.querySelector("#rates tbody").querySelectorAll("th").forEach((th) => th.setAttribute("scope", "row"));
  }

  let delay = EVERY;
  async function tick() {
    try {
      const r = await fetch(status.dataset.url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (!r.ok) throw new Error(r.status);
      draw(await r.json());
      status.textContent = "Live · updated " + new Date().toLocaleTimeString();
      status.dataset.updates = String(parseInt(status.dataset.updates || "0", 10) + 1);
      delay = EVERY;
    } catch (e) {
      status.textContent = "Not live: the last update failed; retrying.";
      delay = Math.min(delay * 2, 60000);
    }
    setTimeout(tick, delay);
  }
  setTimeout(tick, EVERY);
  window.backroomDashboardRefresh = tick;

  // Values on hover: the bar's or point's own <title> ("Nov 30: 12"), beside the pointer.
  const tip = document.getElementById("chart-tip");
  document.querySelectorAll(".ops-chart svg").forEach((svg) => {
    svg.addEventListener("pointermove", (e) => {
      const mark = e.target.closest(".bar, .point");
      const title = mark && mark.querySelector("title");
      if (!title) { tip.hidden = true; return; }
      tip.textContent = title.textContent;
      tip.hidden = false;
      tip.style.left = Math.min(e.clientX + 12, window.innerWidth - tip.offsetWidth - 4) + "px";
      tip.style.top = (e.clientY - tip.offsetHeight - 8) + "px";
    });
    svg.addEventListener("pointerleave", () => { tip.hidden = true; });
  });
})();
