// The menu's search box (templates/base.html). From lg up, the magnifier opens the box in a
// panel and focuses it; Escape or leaving the panel closes it and its live results (htmx).
// Enter opens the full search page.
document.querySelectorAll("[data-nav-search]").forEach((form) => {
  const toggle = form.querySelector(".nav-search-toggle");
  const input = form.querySelector("input[name=q]");
  const results = form.querySelector(".nav-search-results");
  const setOpen = (open) => {
    form.classList.toggle("is-open", open);
    toggle.setAttribute("aria-expanded", String(open));
    if (!open) { results.replaceChildren(); }
  };
  toggle.addEventListener("click", () => {
    const open = !form.classList.contains("is-open");
    setOpen(open);
    if (open) { input.focus(); }
  });
  form.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") { return; }
    setOpen(false);
    if (toggle.offsetParent !== null) { toggle.focus(); }
  });
  form.addEventListener("focusout", (event) => {
    if (!form.contains(event.relatedTarget)) { setOpen(false); }
  });
});
