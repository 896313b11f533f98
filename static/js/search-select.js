// The search boxes that choose one customer or agreement (agreements/forms.py SearchSelect):
// picking a suggestion puts its id in the hidden field; typing anything else clears it, so the
// server looks up what was typed (as it does without JavaScript).
document.addEventListener("input", (event) => {
  const box = event.target;
  if (!(box instanceof HTMLInputElement) || !box.dataset.searchSelect) return;
  const hidden = document.getElementById(box.dataset.searchSelect);
  if (!hidden) return;
  const options = box.list ? Array.from(box.list.options) : [];
  const chosen = options.find((option) => option.value === box.value);
  hidden.value = chosen ? chosen.dataset.id || "" : "";
});
