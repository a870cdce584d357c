// Draws the dashboard's charts with the vendored Chart.js from the JSON the page embeds.
(function () {
  var data = JSON.parse(document.getElementById("dashboard-data").textContent);
  Chart.defaults.animation = false;
  new Chart(document.getElementById("per-day"), {
    type: "bar",
    data: {
      labels: data.days,
      datasets: [
        { label: "matches at or above the threshold", data: data.matches, backgroundColor: "#c0392b" },
        { label: "verdicts", data: data.verdicts, backgroundColor: "#2f5bd3" }
      ]
    },
    options: { maintainAspectRatio: false, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } }
  });
  new Chart(document.getElementById("pr-curve"), {
    type: "line",
    data: {
      datasets: data.curves.map(function (curve, i) {
        return {
          label: curve.name,
          data: curve.points.map(function (p) { return { x: p.recall, y: p.precision, threshold: p.threshold_text }; }),
          borderColor: ["#2f5bd3", "#1f8a4c", "#b7791f", "#c0392b"][i % 4],
          showLine: true
        };
      })
    },
    options: {
      maintainAspectRatio: false,
      scales: {
        x: { type: "linear", min: 0, max: 1, title: { display: true, text: "recall" } },
        y: { min: 0, max: 1, title: { display: true, text: "precision" } }
      },
      plugins: {
        tooltip: { callbacks: { label: function (item) { return "threshold " + item.raw.threshold + ": precision " + item.raw.y + ", recall " + item.raw.x; } } }
      }
    }
  });
})();
