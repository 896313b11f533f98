// The admin's periodic task form (templates/admin/djcelery/change_periodictask_form.html): the
// chosen crontab's schedule in words under the crontab field, as django-celery-beat's own inline
// script did.
(function () {
  const source = document.getElementById("readable-crontabs");
  const crontab = document.getElementById("id_crontab");
  if (!source || !crontab) return;
  const readable = JSON.parse(source.textContent);
  const help = document.querySelector(".field-crontab .help");
  const original = help ? help.textContent : "";
  document.querySelectorAll(".field-crontab_translation").forEach((row) => { row.style.display = "none"; });
  crontab.addEventListener("change", function () {
    if (!help) return;
    help.textContent = original;
    help.append(document.createElement("br"), "Translation: " + (readable[crontab.value] || ""));
  });
})();
