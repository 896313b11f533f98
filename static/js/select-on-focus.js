// A field marked data-select-on-focus (a token shown once) selects its whole text when focused,
// ready to copy.
(function () {
  document.querySelectorAll("[data-select-on-focus]").forEach(function (field) {
    field.addEventListener("focus", function () { field.select(); });
  });
})();
