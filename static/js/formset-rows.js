// "Add a line" under a Django formset (billing/one_off_form.html): clones the formset's empty
// form from a <template>, numbers it (__prefix__) and counts it in the management form's
// TOTAL_FORMS, up to data-formset-max rows. Without JavaScript the page has one row to fill.
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-formset-add]");
  if (!button) return;
  const prefix = button.dataset.formsetAdd;
  const total = document.querySelector(`input[name="${prefix}-TOTAL_FORMS"]`);
  const body = document.querySelector(`[data-formset-body="${prefix}"]`);
  const template = document.getElementById(button.dataset.formsetTemplate);
  if (!total || !body || !template) return;
  const count = Number.parseInt(total.value, 10) || 0;
  const max = Number.parseInt(button.dataset.formsetMax, 10) || 1000;
  if (count >= max) {
    button.disabled = true;
    return;
  }
  body.insertAdjacentHTML("beforeend", template.innerHTML.replaceAll("__prefix__", String(count)));
  total.value = String(count + 1);
  body.lastElementChild?.querySelector("input")?.focus();
  if (count + 1 >= max) button.disabled = true;
});
