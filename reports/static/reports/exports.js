// Live progress for the exports on /reports/: poll each active job through window.backroomPoll,
// then, once it is final, fetch the export itself for its download link or its error.
(function () {
  function text(el, value) { if (el) el.textContent = value; }

  function showExport(item, body) {
    const state = item.querySelector("[data-role=state]");
    text(state, body.state_label);
    if (state) state.className = "state state-" + body.state;
    const bar = item.querySelector("[data-role=progress]");
    // A finished export keeps its full bar beside the Download button; a failed one loses it.
    if (bar && body.state === "SUCCESS") { bar.value = 100; bar.textContent = "100%"; }
    else if (bar) bar.remove();
    const error = item.querySelector("[data-role=error]");
    if (error) { error.textContent = body.error || ""; error.hidden = !body.error; }
    if (body.state === "SUCCESS") {
      const kb = body.bytes / 1024;
      const size = kb < 1024 ? kb.toFixed(1) + " KB" : (kb / 1024).toFixed(1) + " MB";
      text(item.querySelector("[data-role=size]"), " · " + body.rows.toLocaleString("en") + (body.rows === 1 ? " row · " : " rows · ") + size);
    }
    const actions = item.querySelector("[data-role=actions]");
    // Final: nothing is left to cancel (a Cancel now would be a 409); a ready export gets Download.
    if (actions) actions.textContent = "";
    if (actions && body.download_url) {
      const a = document.createElement("a");
      a.className = "button";
      a.href = body.download_url;
      a.setAttribute("download", "");
      a.textContent = "Download";
      actions.appendChild(a);
    }
    if (window.backroomRefreshBadge) window.backroomRefreshBadge();
  }

  async function fetchExport(item) {
    try {
      const r = await fetch(item.dataset.exportUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (r.ok) showExport(item, await r.json());
    } catch (e) { /* the next page load shows it */ }
  }

  document.querySelectorAll(".export[data-task-url]").forEach(function (item) {
    if (!window.backroomPoll) return;
    window.backroomPoll(item.dataset.taskUrl, function (job) {
      const state = item.querySelector("[data-role=state]");
      text(state, job.state_label);
      if (state) state.className = "state state-" + job.state;
      const bar = item.querySelector("[data-role=progress]");
      if (bar && job.progress) { bar.value = job.progress.percent; bar.textContent = job.progress.percent + "%"; }
      if (job.poll_after_ms === null) fetchExport(item);
    });
  });
})();
