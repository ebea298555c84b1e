// The live connection of every page: its badge, prompt reconnection, a re-sync of the live regions on
// every (re)connect, and a filter that drops events aimed at elements the page does not have.
(function () {
  "use strict";

  // What a page shows live and reloads from the server on every (re)connect, so nothing missed while
  // the socket was down stays on screen: the market banner, tables fed by events, status panels, and
  // whatever a template marks with data-live (an id is needed to find it in the fresh page).
  var LIVE_REGIONS = "[data-live][id], #market-status, #summary, #bot-rows, [id^='bot-panel-'], [id$='-ticks'], tbody[id]";
  var RETRY_CAP_MS = 15000;

  // First retry within a second, then doubling with jitter up to RETRY_CAP_MS.
  function retryDelay(attempt) {
    var ceiling = Math.min(500 * Math.pow(2, attempt), RETRY_CAP_MS);
    return ceiling / 2 + Math.random() * ceiling / 2;
  }
  // The ws extension asks for its delay just before it reports the close: the badge shows that one.
  var nextDelay = 0;
  htmx.config.wsReconnectDelay = function (attempt) {
    nextDelay = retryDelay(attempt);
    return nextDelay;
  };
  var EXTENSION_RETRIES = [1006, 1011, 1012, 1013];

  var attempts = 0;
  var retryTimer = null;

  function badge(state, text) {
    var element = document.getElementById("live-status");
    if (!element) return;
    element.textContent = text;
    element.dataset.state = state;
    element.classList.toggle("live-on", state === "live");
    element.classList.toggle("live-off", state !== "live");
  }

  document.addEventListener("htmx:wsConnecting", function () {
    badge("connecting", attempts ? "reconnecting…" : "connecting…");
  });

  document.addEventListener("htmx:wsOpen", function () {
    attempts = 0;
    clearTimeout(retryTimer);
    badge("syncing", "syncing…");
    // The mark first, then the page: a change made between the two is caught by the next poll.
    readMark().then(function (mark) { seenMark = mark; }).then(resync).then(function () { badge("live", "live"); }, function () { badge("live", "live (not re-synced)"); });
  });

  document.addEventListener("htmx:wsClose", function (event) {
    var code = event.detail.event && event.detail.event.code;
    var delay = nextDelay;
    // The ws extension retries by itself only after an abnormal close (1006, 1011-1013); a server
    // shutting down cleanly (1000, 1001) is retried here, on the same schedule.
    if (EXTENSION_RETRIES.indexOf(code) < 0 && event.detail.socketWrapper) {
      delay = retryDelay(attempts);
      clearTimeout(retryTimer);
      retryTimer = setTimeout(event.detail.socketWrapper.reconnect, delay);
    }
    badge("offline", "offline · retrying in " + (delay / 1000).toFixed(1) + " s");
    attempts += 1;
  });

  // Re-fetch this page and swap in each live region it shows: the state as it is now.
  function resync() {
    var regions = Array.prototype.filter.call(document.querySelectorAll(LIVE_REGIONS), function (element) {
      return element.id && !element.closest("dialog");
    });
    if (!regions.length) return Promise.resolve();
    return fetch(location.href, { credentials: "same-origin", headers: { "X-Tradebot-Resync": "1" } })
      .then(function (response) {
        if (!response.ok) throw new Error("resync answered " + response.status);
        return response.text();
      })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html");
        regions.forEach(function (element) {
          var replacement = fresh.getElementById(element.id);
          if (!replacement || !document.body.contains(element)) return;
          var adopted = document.importNode(replacement, true);
          element.replaceWith(adopted);
          htmx.process(adopted);
        });
        document.body.dispatchEvent(new CustomEvent("live-resynced", { bubbles: true }));
      });
  }

  // Events arrive as out-of-band fragments; one aimed at elements this page does not have is dropped
  // here (htmx would log an oobErrorNoTarget console error for it), unless it is a row that the page
  // can insert (data-upsert). A price moves the open positions' price, value and P&L in place.
  htmx.defineExtension("live-events", {
    transformResponse: function (text, xhr) {
      if (xhr) return text;  // an ordinary request's answer: only socket messages (no xhr) are events
      var template = document.createElement("template");
      template.innerHTML = text;
      Array.prototype.slice.call(template.content.children).forEach(function (element) {
        if (element.dataset.priceSymbol) applyPrice(element.dataset.priceSymbol, element.dataset.price);
        if (element.classList.contains("position")) changed("positions-changed");
        if (hasTarget(element)) return;
        element.remove();
        upsert(element);
      });
      trimLater();
      return template.innerHTML;
    },
  });

  function hasTarget(element) {
    var swap = element.getAttribute("hx-swap-oob") || "true";
    var colon = swap.indexOf(":");
    if (colon > 0 && swap !== "true") {
      var selector = swap.slice(colon + 1);
      return selector.split(",").some(function (one) { return document.querySelector(one.trim()); });
    }
    return !!(element.id && document.getElementById(element.id));
  }

  // A row whose id is not on the page yet (a position just opened, a first price) goes on top of the
  // table named by its data-upsert selector, if the page shows one.
  function upsert(element) {
    var selector = element.dataset && element.dataset.upsert;
    var into = selector && document.querySelector(selector);
    if (!into) return;
    element.removeAttribute("hx-swap-oob");
    into.prepend(element);
    into.querySelectorAll(":scope > .empty-row").forEach(function (row) { row.remove(); });
    htmx.process(element);
  }

  function applyPrice(symbol, price) {
    var last = parseFloat(price);
    if (!isFinite(last)) return;
    var moved = 0;
    document.querySelectorAll("tr[data-symbol]").forEach(function (row) {
      if (row.dataset.symbol !== symbol) return;
      var quantity = parseFloat(row.dataset.quantity);
      moved += (last - parseFloat(row.dataset.price)) * quantity;
      row.dataset.price = String(last);
      var pnl = (last - parseFloat(row.dataset.entry)) * quantity - parseFloat(row.dataset.entryCommission || "0");
      setCell(row.querySelector(".live-price"), last);
      setCell(row.querySelector(".live-value"), last * quantity);
      var cell = row.querySelector(".live-pnl");
      if (cell) {
        setCell(cell, pnl);
        cell.classList.toggle("pos", pnl > 0);
        cell.classList.toggle("neg", pnl < 0);
      }
    });
    // The summary bar (positions page) moves by what the rows shown moved: value and P&L alike.
    var summary = document.getElementById("position-summary");
    if (summary && moved) {
      ["marketValue", "unrealizedPnl"].forEach(function (key) {
        summary.dataset[key] = String(parseFloat(summary.dataset[key]) + moved);
      });
      setCell(document.getElementById("summary-value"), parseFloat(summary.dataset.marketValue));
      var pnl = parseFloat(summary.dataset.unrealizedPnl);
      var pnlCell = document.getElementById("summary-pnl");
      setCell(pnlCell, pnl);
      if (pnlCell) {
        pnlCell.classList.toggle("pos", pnl > 0);
        pnlCell.classList.toggle("neg", pnl < 0);
      }
    }
  }

  // Tell the pieces that reload themselves on this change (hx-trigger="... from:body"), once swaps are done.
  function changed(name) {
    setTimeout(function () { document.body.dispatchEvent(new CustomEvent(name, { bubbles: true })); }, 0);
  }

  var money = new Intl.NumberFormat("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  function setCell(cell, value) {
    if (cell) cell.textContent = money.format(value);
  }

  // Live tables keep their page size: rows pushed in on top push the oldest out.
  function trimLater() {
    setTimeout(function () {
      document.querySelectorAll("tbody[data-max-rows]").forEach(function (body) {
        var limit = parseInt(body.dataset.maxRows, 10);
        var rows = body.querySelectorAll(":scope > tr:not(.empty-row)");
        for (var i = limit; i < rows.length; i++) rows[i].remove();
      });
    }, 0);
  }

  // Embedded run (one process, an in-memory channel layer): events published by another process
  // (manage.py tick, a shell) cannot reach this page's socket. The page asks the server every
  // data-catch-up seconds for its mark of the latest change, and re-syncs when that moved.
  var catchUpUrl = document.body.dataset.catchUpUrl;
  var seenMark = null;

  function readMark() {
    if (!catchUpUrl) return Promise.resolve(null);
    return fetch(catchUpUrl, { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : null; })
      .catch(function () { return null; });
  }

  var every = parseInt(document.body.dataset.catchUp || "0", 10);
  if (every > 0) {
    setInterval(function () {
      if (document.hidden) return;
      readMark().then(function (mark) {
        if (mark === null || mark === seenMark) return;
        var first = seenMark === null;
        seenMark = mark;
        if (!first) resync();
      });
    }, every * 1000);
  }
})();
