// The renewal review (templates/agreements/renewal_review.html, renewal_queue.html): typing an
// uplift percent picks "Apply an uplift in percent", so the percent is not left beside another
// method (the server refuses that mix either way).
(function () {
  document.querySelectorAll("form[data-uplift-form]").forEach(function (form) {
    const percent = form.elements.namedItem("uplift_percent");
    const uplift = form.querySelector("input[type=radio][name=method][value=uplift]");
    if (!percent || !uplift) return;
    percent.addEventListener("input", function () {
      if (percent.value.trim() !== "" && !uplift.checked) {
        uplift.checked = true;
        uplift.dispatchEvent(new Event("change", { bubbles: true }));
      }
    });
  });
})();
