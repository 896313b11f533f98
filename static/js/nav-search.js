// The menu's search box (templates/base.html): its live results (htmx) close on Escape or when
// the focus leaves the box and its results; Enter opens the full search page.
document.querySelectorAll("[data-nav-search]").forEach((form) => {
  const results = form.querySelector(".nav-search-results");
  const close = () => { results.replaceChildren(); };
  form.addEventListener("keydown", (event) => {
    if (event.key === "Escape") { close(); form.querySelector("input").focus(); }
  });
  form.addEventListener("focusout", (event) => {
    if (!form.contains(event.relatedTarget)) { close(); }
  });
});
