// After a form comes back with errors, move the focus to the first one (a field marked invalid,
// an error beside a field, or the summary above the form), so keyboard and screen-reader users
// land on it instead of the top of the page. Each error sits next to its field.
(function () {
  const first = document.querySelector(
    'form [aria-invalid="true"], form .field-error, form .form-error-summary'
  );
  if (!first) return;
  first.focus();
  if (first.scrollIntoView) first.scrollIntoView({ block: "center" });
})();
