// The header's menu collapses behind a button on narrow screens. Without JavaScript it stays open
// (the .nav-collapsible class that hides it is only added here).
(function () {
  const header = document.getElementById("site-header");
  const toggle = header && header.querySelector(".nav-toggle");
  if (!toggle) return;
  header.classList.add("nav-collapsible");
  toggle.addEventListener("click", function () {
    const open = header.classList.toggle("nav-open");
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
  });
  document.addEventListener("keydown", function (e) {
    if (e.key === "Escape" && header.classList.contains("nav-open")) {
      header.classList.remove("nav-open");
      toggle.setAttribute("aria-expanded", "false");
      toggle.focus();
    }
  });
})();
