// Keeps the relative words of <time data-relative> ("just now", "5 minutes ago") true while a
// page stays open, by the rules of config/core/times.py; past a day it shows the full date the
// server wrote in the viewer's zone (the title).
(function () {
  "use strict";
  const DAY = 24 * 3600;
  function plural(n, unit) { return n + " " + unit + (n === 1 ? "" : "s"); }
  function relative(ms) {
    let seconds = (Date.now() - ms) / 1000;
    const ahead = seconds < 0;
    seconds = Math.abs(seconds);
    if (seconds >= DAY) return null;
    if (seconds < 45) return ahead ? "in a moment" : "just now";
    const amount = seconds < 3600 ? plural(Math.max(1, Math.round(seconds / 60)), "minute")
                                  : plural(Math.floor(seconds / 3600), "hour");
    return ahead ? "in " + amount : amount + " ago";
  }
  function refresh(root) {
    (root || document).querySelectorAll("time[data-relative]").forEach((el) => {
      const words = relative(Date.parse(el.getAttribute("datetime")));
      const text = words === null ? el.title : words;
      if (el.textContent !== text) el.textContent = text;
    });
  }
  window.backroomTimes = { relative: relative, refresh: refresh };
  setInterval(refresh, 30000);
})();
