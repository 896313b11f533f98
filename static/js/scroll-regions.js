// Scroll boxes (wide tables, the agreement document) scroll from the keyboard too: each one is
// focusable and named as a region after its card's heading (WCAG 2.1.1).
(function () {
  function mark(root) {
    root.querySelectorAll(".table-responsive, .doc-frame").forEach(function (box) {
      if (box.hasAttribute("tabindex")) return;
      var card = box.closest(".card, section") || document;
      var heading = card.querySelector("h1, h2, h3");
      box.tabIndex = 0;
      box.setAttribute("role", "region");
      box.setAttribute("aria-label", box.dataset.label || (heading ? heading.textContent.trim() : "Scrollable content"));
    });
  }
  mark(document);
  document.addEventListener("htmx:afterSwap", function (event) { mark(event.target); });
})();
