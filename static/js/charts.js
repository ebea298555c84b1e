// Every chart of the app, drawn with TradingView Lightweight Charts (static/vendor/lightweight-charts-*):
// - price charts (.price-chart): candles, volume, the bot's indicators (fetched as JSON from the
//   server, computed by the engine), fills as markers with a tooltip, a position's entry/stop/target
//   lines; the forming bar follows live price_update events, trade_executed reloads the data;
// - time series charts (.series-chart): lines, areas or histograms from a json_script (equity,
//   drawdown, P&L), several series or panes per chart.
// Each drawn chart is listed in window.tradebotCharts (what it shows), so tests can check it.
(function () {
  "use strict";

  var LWC = window.LightweightCharts;
  var charts = (window.tradebotCharts = []);
  var COLORS = { up: "#16a34a", down: "#dc2626", line: "#2563eb", muted: "rgba(128, 128, 128, 0.45)" };
  var PALETTE = ["#2563eb", "#f59e0b", "#9333ea", "#0d9488", "#db2777", "#65a30d", "#0891b2", "#b45309"];
  var LINE_COLORS = { entry: "#2563eb", stop: "#dc2626", target: "#16a34a" };
  var PRICE_HEIGHT = 320;
  var PANE_HEIGHT = 110;

  // Times travel as epoch seconds (UTC); people read them in New York time.
  function formatter(options) {
    return new Intl.DateTimeFormat("en-US", Object.assign({ timeZone: "America/New_York", hour12: false }, options));
  }
  var FULL = formatter({ month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
  var DAY = formatter({ month: "short", day: "numeric" });
  var CLOCK = formatter({ hour: "2-digit", minute: "2-digit" });
  var YEAR = formatter({ year: "numeric" });
  var MONTH = formatter({ month: "short" });

  function seconds(time) {
    return typeof time === "number" ? time : Date.UTC(time.year, time.month - 1, time.day) / 1000;
  }

  function baseOptions(box, daily) {
    var style = getComputedStyle(box);
    return {
      autoSize: true,
      layout: {
        background: { type: "solid", color: "transparent" }, textColor: style.color, fontFamily: style.fontFamily,
        panes: { separatorColor: "rgba(128, 128, 128, 0.3)" },
      },
      grid: { vertLines: { color: "rgba(128, 128, 128, 0.12)" }, horzLines: { color: "rgba(128, 128, 128, 0.12)" } },
      rightPriceScale: { borderVisible: false },
      timeScale: {
        borderVisible: false,
        timeVisible: !daily,
        tickMarkFormatter: function (time, type) {
          var date = new Date(seconds(time) * 1000);
          return [YEAR, MONTH, DAY, CLOCK, CLOCK][type].format(date);
        },
      },
      localization: {
        timeFormatter: function (time) { return (daily ? DAY : FULL).format(new Date(seconds(time) * 1000)); },
      },
    };
  }

  // A chart drawn again (another symbol, fresh data) replaces the one it had.
  function forget(box) {
    var index = charts.findIndex(function (c) { return c.element === box; });
    if (index < 0) return;
    charts[index].chart.remove();
    charts.splice(index, 1);
  }

  // The first pane (prices, or the main series) takes `main` times the height of each pane below it,
  // whatever the box's size.
  function stretch(chart, main) {
    chart.panes().forEach(function (pane, index) { pane.setStretchFactor(index === 0 ? main : 1); });
  }

  function register(box, record) {
    record.element = box;
    record.panes = function () { return record.chart.panes().length; };
    charts.push(record);
    box.classList.add("drawn");
    return record;
  }

  // ---- price charts ------------------------------------------------------------------------------

  function volumeBar(bar) {
    return { time: bar.time, value: bar.value, color: bar.up ? "rgba(22, 163, 74, 0.35)" : "rgba(220, 38, 38, 0.35)" };
  }

  function seriesNames(data) {
    var names = ["candles", "volume"];
    data.indicators.forEach(function (indicator) {
      indicator.series.forEach(function (line) { names.push(indicator.name + "." + line.key); });
    });
    return names;
  }

  // The chart's frame: its panes and series, with the indicators' thresholds. fillPrice puts the data in.
  function createPrice(box, data) {
    forget(box);
    var canvas = box.querySelector(".chart-canvas");
    var panes = data.indicators.filter(function (indicator) { return indicator.place === "pane"; }).length;
    canvas.style.height = PRICE_HEIGHT + panes * PANE_HEIGHT + "px";
    var chart = LWC.createChart(canvas, baseOptions(canvas, data.timeframe === "1Day"));
    var record = register(box, {
      kind: "price", chart: chart, src: box.dataset.src, symbol: data.symbol, bot: data.bot, timeframe: data.timeframe,
      series: {}, markers: [], lines: [], priceLines: [],
    });
    var candles = chart.addSeries(LWC.CandlestickSeries, {
      upColor: COLORS.up, downColor: COLORS.down, wickUpColor: COLORS.up, wickDownColor: COLORS.down, borderVisible: false,
      // A position's entry, stop and target stay in sight, however far the price has moved from them.
      autoscaleInfoProvider: function (original) {
        var range = original();
        if (!range) return range;
        record.lines.forEach(function (line) {
          range.priceRange.minValue = Math.min(range.priceRange.minValue, line.price);
          range.priceRange.maxValue = Math.max(range.priceRange.maxValue, line.price);
        });
        return range;
      },
    });
    record.series.candles = candles;
    record.series.volume = chart.addSeries(LWC.HistogramSeries, { priceScaleId: "volume", priceFormat: { type: "volume" }, lastValueVisible: false, priceLineVisible: false });
    chart.priceScale("volume").applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } });

    var pane = 0;
    data.indicators.forEach(function (indicator, i) {
      var index = indicator.place === "pane" ? ++pane : 0;
      indicator.series.forEach(function (line, j) {
        var options = {
          color: PALETTE[(i + j) % PALETTE.length], lineWidth: 1.5, lastValueVisible: false, priceLineVisible: false,
          title: j === 0 ? indicator.label : "",
        };
        if (indicator.place === "volume") options.priceScaleId = "volume";
        var kind = line.key === "histogram" ? LWC.HistogramSeries : LWC.LineSeries;
        var series = chart.addSeries(kind, options, index);
        record.series[indicator.name + "." + line.key] = series;
        if (j === 0) {
          indicator.thresholds.forEach(function (level) {
            series.createPriceLine({ price: level, color: COLORS.muted, lineWidth: 1, lineStyle: LWC.LineStyle.Dashed, axisLabelVisible: true, title: "" });
          });
        }
      });
    });
    stretch(chart, PRICE_HEIGHT / PANE_HEIGHT);
    record.markerLayer = LWC.createSeriesMarkers(candles, []);
    tooltip(box, record);
    return record;
  }

  // The data, in place: a refresh keeps what the trader zoomed to.
  function fillPrice(record, data) {
    var candles = record.series.candles;
    candles.setData(data.candles);
    record.series.volume.setData(data.volume.map(volumeBar));
    data.indicators.forEach(function (indicator) {
      indicator.series.forEach(function (line) { record.series[indicator.name + "." + line.key].setData(line.data); });
    });
    record.priceLines.forEach(function (line) { candles.removePriceLine(line); });
    record.priceLines = data.lines.map(function (line) {
      return candles.createPriceLine({ price: line.price, color: LINE_COLORS[line.kind], lineWidth: 1, lineStyle: line.kind === "entry" ? LWC.LineStyle.Solid : LWC.LineStyle.Dashed, axisLabelVisible: true, title: line.kind });
    });
    record.lines = data.lines;
    record.markers = data.markers;
    record.markerLayer.setMarkers(markerShapes(data.markers));
  }

  // Fills as arrows at their bars: buys below in green, sells above in red.
  function markerShapes(markers) {
    var sorted = markers.slice().sort(function (a, b) { return a.time - b.time; });
    return sorted.map(function (m) {
      var buy = m.side === "buy";
      var label = m.quantity ? (buy ? "B " : "S ") + m.quantity : buy ? "B" : "S";
      return { time: m.time, position: buy ? "belowBar" : "aboveBar", color: buy ? COLORS.up : COLORS.down, shape: buy ? "arrowUp" : "arrowDown", text: label };
    });
  }

  function mark(series, markers) {
    if (markers.length) LWC.createSeriesMarkers(series, markerShapes(markers));
  }

  // A fill's quantity, price and reason, shown while the crosshair is on its bar.
  function tooltip(box, record) {
    var tip = box.querySelector(".chart-tooltip");
    if (!tip) return;
    record.chart.subscribeCrosshairMove(function (param) {
      var fills = param.time !== undefined && record.markers.filter(function (m) { return m.time === param.time; });
      if (!fills || !fills.length || !param.point) { tip.hidden = true; return; }
      tip.replaceChildren.apply(tip, fills.map(function (m) {
        var line = document.createElement("div");
        line.textContent = m.side.toUpperCase() + " " + m.quantity + " @ " + (m.price === null ? "–" : m.price.toFixed(2)) + (m.reason ? " — " + m.reason : "");
        return line;
      }));
      tip.hidden = false;
      tip.style.left = Math.min(param.point.x + 12, box.clientWidth - tip.offsetWidth - 4) + "px";
      tip.style.top = param.point.y + 12 + "px";
    });
  }

  function loadPrice(box) {
    var url = box.dataset.src;
    var status = box.querySelector(".chart-status");
    if (!url) return;
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        return response.json().then(function (body) {
          if (!response.ok) throw new Error(body.reason || response.statusText);
          return body;
        });
      })
      .then(function (data) {
        if (box.dataset.src !== url) return; // another symbol was picked meanwhile
        status.textContent = "";
        var record = charts.find(function (c) { return c.element === box; });
        var same = record && record.src === url && seriesNames(data).join() === Object.keys(record.series).join();
        if (!same) record = createPrice(box, data);
        fillPrice(record, data);
        if (!same) record.chart.timeScale().fitContent();
      })
      .catch(function (error) { status.textContent = "No chart: " + error.message; });
  }

  // The forming bar follows the price; a price past the bar's end opens the next one. Timeframes are
  // whole steps of the last bar, so no calendar is needed; the next reload corrects sessions and gaps.
  var BAR_SETTLE_MS = 3000; // the feed serves a closed bar a moment after its close
  var STEPS = { "1Min": 60, "5Min": 300, "15Min": 900, "1Hour": 3600, "1Day": 86400 };

  function onPrice(payload) {
    var price = Number(payload.price);
    var at = Date.parse(payload.timestamp) / 1000;
    if (!isFinite(price) || !isFinite(at)) return;
    charts.forEach(function (record) {
      if (record.kind !== "price" || record.symbol !== payload.symbol) return;
      var bars = record.series.candles.data();
      var last = bars[bars.length - 1];
      if (!last || at < last.time) return;
      var step = STEPS[record.timeframe] || 60;
      if (at < last.time + step) {
        record.series.candles.update({ time: last.time, open: last.open, high: Math.max(last.high, price), low: Math.min(last.low, price), close: price });
      } else {
        var time = last.time + Math.floor((at - last.time) / step) * step;
        record.series.candles.update({ time: time, open: price, high: price, low: price, close: price });
        // The bar before has closed: fetch it with its indicators as the engine computed them.
        setTimeout(function () { loadPrice(record.element); }, BAR_SETTLE_MS);
      }
    });
  }

  function onTrade(payload) {
    charts.forEach(function (record) {
      if (record.kind === "price" && record.symbol === payload.symbol && record.bot === payload.bot_id) loadPrice(record.element);
    });
  }

  // ---- time series charts ------------------------------------------------------------------------

  function drawSeries(box) {
    var data = JSON.parse(document.getElementById(box.dataset.series).textContent);
    var canvas = box.querySelector(".chart-canvas") || box;
    forget(box);
    var below = Math.max.apply(null, data.series.map(function (spec) { return spec.pane || 0; }).concat([0]));
    if (below) canvas.style.height = canvas.offsetHeight + below * PANE_HEIGHT + "px";
    var chart = LWC.createChart(canvas, baseOptions(canvas, data.daily));
    var record = register(box, { kind: "series", chart: chart, series: {} });
    data.series.forEach(function (spec, i) {
      var color = spec.color || PALETTE[i % PALETTE.length];
      var kind = { line: LWC.LineSeries, area: LWC.AreaSeries, histogram: LWC.HistogramSeries, baseline: LWC.BaselineSeries }[spec.type || "line"];
      var options = { color: color, lineColor: color, lineWidth: 1.5, title: spec.label, priceLineVisible: false };
      if (spec.type === "area") Object.assign(options, { topColor: spec.fill || "rgba(37, 99, 235, 0.25)", bottomColor: "rgba(37, 99, 235, 0.02)" });
      if (spec.type === "baseline") Object.assign(options, { baseValue: { type: "price", price: 0 }, topLineColor: COLORS.up, bottomLineColor: COLORS.down, topFillColor1: "rgba(22, 163, 74, 0.2)", bottomFillColor2: "rgba(220, 38, 38, 0.2)" });
      var series = chart.addSeries(kind, options, spec.pane || 0);
      series.setData(spec.type === "histogram" ? spec.data.map(function (p) {
        return { time: p.time, value: p.value, color: p.value < 0 ? COLORS.down : COLORS.up };
      }) : spec.data);
      series.applyOptions({ visible: !spec.hidden });
      mark(series, spec.markers || []);
      record.series[spec.label] = series;
    });
    stretch(chart, 2);
    chart.timeScale().fitContent();
    return record;
  }

  // Buttons with data-show="label,label" inside a .series-chart show those series and hide the rest.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-show]");
    var box = button && button.closest(".series-chart");
    var record = box && charts.find(function (c) { return c.element === box; });
    if (!record) return;
    var shown = button.dataset.show.split(",");
    Object.keys(record.series).forEach(function (label) {
      record.series[label].applyOptions({ visible: shown.indexOf(label) >= 0 });
    });
    record.chart.timeScale().fitContent();
    box.querySelectorAll("[data-show]").forEach(function (b) { b.setAttribute("aria-pressed", String(b === button)); });
  });

  // ---- wiring ------------------------------------------------------------------------------------

  function drawAll(root) {
    if (!LWC) return;
    root.querySelectorAll(".price-chart[data-src]:not(.drawn)").forEach(function (box) {
      box.classList.add("drawn");
      loadPrice(box);
    });
    root.querySelectorAll(".series-chart[data-series]:not(.drawn)").forEach(drawSeries);
  }

  document.addEventListener("change", function (event) {
    var pick = event.target.closest(".chart-pick");
    var box = pick && pick.closest(".price-chart");
    if (!box) return;
    box.dataset.src = pick.value;
    loadPrice(box);
  });

  // Live events reach charts through #chart-feed (base.html), swapped by each event that moves a chart
  // (bots/consumers.py).
  document.addEventListener("htmx:oobAfterSwap", function (event) {
    var feed = event.target;
    if (!feed || feed.id !== "chart-feed") return;
    var payload = JSON.parse(feed.dataset.payload);
    if (feed.dataset.event === "price_update") onPrice(payload);
    if (feed.dataset.event === "trade_executed") onTrade(payload);
  });
  // After a reconnect the price charts catch up on what they missed.
  var opened = false;
  document.addEventListener("htmx:wsOpen", function () {
    if (opened) charts.forEach(function (record) { if (record.kind === "price") loadPrice(record.element); });
    opened = true;
  });

  document.addEventListener("htmx:afterSettle", function (event) { drawAll(event.detail.elt || document); });
  document.addEventListener("DOMContentLoaded", function () { drawAll(document); });
})();
