// The schedule sentence (templates/scheduling/_schedule_fields.html): shows the monthly or the
// weekly part for the chosen frequency, and picks a mode's radio button when its fields are used.
(function () {
  document.querySelectorAll(".schedule-fields").forEach(function (box) {
    const frequency = document.getElementById(box.dataset.frequencyField);
    function showFrequency() {
      const weekly = frequency.value === "weekly";
      for (const part of box.querySelectorAll("[data-schedule-part]")) {
        const hide = (part.dataset.schedulePart === "weekly") !== weekly;
        part.hidden = hide;
        // Disabled inputs are neither submitted nor sent to the preview.
        part.querySelectorAll("input, select").forEach((input) => { input.disabled = hide; });
      }
      box.querySelector("[data-schedule-unit]").textContent = weekly ? "week(s)" : "month(s)";
    }
    // Choosing "the third Wednesday" or "day 15" also picks the radio button in front of it.
    for (const mode of box.querySelectorAll("[data-schedule-mode]")) {
      const radio = mode.querySelector("input[type=radio]");
      mode.addEventListener("focusin", (event) => {
        if (event.target !== radio && !radio.checked) {
          radio.checked = true;
          radio.dispatchEvent(new Event("change", { bubbles: true }));
        }
      });
    }
    frequency.addEventListener("change", showFrequency);
    showFrequency();
  });
})();
