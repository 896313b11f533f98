// Draws the staff home's charts from the JSON the page embeds (vendored Chart.js, no CDN).
(function () {
  "use strict";
  var source = document.getElementById("dashboard-data");
  if (!source || typeof Chart === "undefined") {
    return;
  }
  var data = JSON.parse(source.textContent);

  function draw(id, config) {
    var canvas = document.getElementById(id);
    if (canvas) {
      new Chart(canvas, config);
    }
  }

  draw("mrr-chart", {
    type: "bar",
    data: {
      labels: data.mrr.labels,
      datasets: [{ label: "Monthly recurring revenue (USD)", data: data.mrr.values, backgroundColor: "#0d6efd" }],
    },
    options: { plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true } } },
  });

  draw("sla-chart", {
    type: "line",
    data: {
      labels: data.sla.labels,
      datasets: [{ label: "Met (%)", data: data.sla.values, borderColor: "#198754", spanGaps: true }],
    },
    options: { plugins: { legend: { display: false } }, scales: { y: { min: 0, max: 100 } } },
  });
})();
