// Backtest equity charts: the equity curve over the drawdown below its running peak (percent, shaded),
// two stacked charts sharing one cursor. The price charts with fill markers are app.js's, as on a
// bot's page.
(function () {
  "use strict";

  var tzDate = function (ts) { return uPlot.tzDate(new Date(ts * 1000), "America/New_York"); };

  function chart(box, height, series, values, syncKey) {
    return new uPlot({
      width: box.clientWidth || 600,
      height: height,
      scales: { x: { time: true } },
      cursor: { sync: { key: syncKey } },
      tzDate: tzDate,
      series: [{}, series],
      axes: [{}, { size: 70 }],
    }, values, box);
  }

  function drawEquityCharts(root) {
    if (typeof uPlot === "undefined") return;
    root.querySelectorAll(".equity-canvas[data-equity]:not(.drawn)").forEach(function (box) {
      var data = JSON.parse(document.getElementById(box.dataset.equity).textContent);
      box.classList.add("drawn");
      if (!data.time.length) return;
      var key = box.dataset.equity;
      chart(box, 220, { label: "equity", stroke: "#2563eb", width: 1.5 }, [data.time, data.equity], key);
      chart(box, 120, { label: "drawdown %", stroke: "#dc2626", fill: "rgba(220, 38, 38, 0.15)", fillTo: 0, width: 1 },
        [data.time, data.drawdown], key);
    });
  }

  document.addEventListener("htmx:afterSettle", function (event) { drawEquityCharts(event.detail.elt || document); });
  document.addEventListener("DOMContentLoaded", function () { drawEquityCharts(document); });
})();
