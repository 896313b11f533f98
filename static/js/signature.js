// The signature: drawn with signature_pad on a canvas (sent as a PNG data URL with the form), or
// typed (the typed name, shown in the script font it will have on the agreement). The "Draw /
// Type" radio group shows the matching panel; without this script both panels show and the
// choice still counts.
(function () {
  const canvas = document.getElementById("signature-pad");
  if (!canvas) return;
  const pad = new SignaturePad(canvas, { penColor: "#10264a", minWidth: 0.8, maxWidth: 2.4 });
  const form = document.getElementById("sign-form");
  const drawn = document.getElementById("signature-drawn");
  const typed = document.getElementById("signature-typed");
  const name = document.getElementById("id_typed_name");
  const preview = document.getElementById("signature-typed-preview");

  function resize() {
    // Match the canvas to its displayed size so the stroke is not blurred or offset.
    if (!canvas.offsetWidth) return; // hidden: sized when shown
    const ratio = Math.max(window.devicePixelRatio || 1, 1);
    const data = pad.toData();
    canvas.width = canvas.offsetWidth * ratio;
    canvas.height = canvas.offsetHeight * ratio;
    canvas.getContext("2d").scale(ratio, ratio);
    pad.clear();
    pad.fromData(data);
  }

  function method() {
    const checked = form.querySelector('input[name="method"]:checked');
    return checked ? checked.value : "drawn";
  }

  function show() {
    const isTyped = method() === "typed";
    drawn.hidden = isTyped;
    typed.hidden = !isTyped;
    resize();
  }

  form.querySelectorAll('input[name="method"]').forEach((radio) => {
    radio.addEventListener("change", show);
  });
  name.addEventListener("input", () => {
    preview.textContent = name.value;
  });
  window.addEventListener("resize", resize);
  show();

  document.getElementById("signature-clear").addEventListener("click", () => pad.clear());
  form.addEventListener("submit", () => {
    const drawing = method() === "drawn" && !pad.isEmpty() ? pad.toDataURL("image/png") : "";
    document.getElementById("id_drawing").value = drawing;
  });
})();
