// The drawn signature: signature_pad on a canvas, sent as a PNG data URL with the form.
(function () {
  const canvas = document.getElementById("signature-pad");
  if (!canvas) return;
  const pad = new SignaturePad(canvas, { penColor: "#10264a", minWidth: 0.8, maxWidth: 2.4 });

  function resize() {
    // Match the canvas to its displayed size so the stroke is not blurred or offset.
    const ratio = Math.max(window.devicePixelRatio || 1, 1);
    const data = pad.toData();
    canvas.width = canvas.offsetWidth * ratio;
    canvas.height = canvas.offsetHeight * ratio;
    canvas.getContext("2d").scale(ratio, ratio);
    pad.clear();
    pad.fromData(data);
  }
  window.addEventListener("resize", resize);
  resize();

  document.getElementById("signature-clear").addEventListener("click", () => pad.clear());
  document.getElementById("sign-form").addEventListener("submit", () => {
    document.getElementById("id_drawing").value = pad.isEmpty() ? "" : pad.toDataURL("image/png");
  });
})();
