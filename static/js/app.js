// Small behaviours htmx does not cover: the live-connection badge, inserting rows that a live
// update brings for the first time and reloading what a live update makes stale (charts: charts.js).
(function () {
  "use strict";

  function setLive(on) {
    var badge = document.getElementById("live-status");
    if (!badge) return;
    badge.textContent = on ? "live" : "offline";
    badge.classList.toggle("live-on", on);
    badge.classList.toggle("live-off", !on);
  }

  document.addEventListener("htmx:wsOpen", function () { setLive(true); });
  document.addEventListener("htmx:wsClose", function () { setLive(false); });

  // An out-of-band row whose id is not on the page yet (a position just opened, a first price) is
  // inserted into the table named by its data-upsert selector, if the page shows one.
  document.addEventListener("htmx:oobErrorNoTarget", function (event) {
    var element = event.detail.content;
    var selector = element && element.dataset && element.dataset.upsert;
    var into = selector && document.querySelector(selector);
    if (!into) return;
    element.removeAttribute("hx-swap-oob");
    into.prepend(element);
    removeEmptyRows(into);
    htmx.process(element);
  });

  document.addEventListener("htmx:oobAfterSwap", function (event) {
    if (event.detail.target) removeEmptyRows(event.detail.target);
    // Every live event about a bot swaps in its "changed" marker (bots/consumers.py). "bot-changed"
    // bubbles from it to the pieces showing figures no event carries (its row or status panel, the tick
    // record, the summary), which reload themselves (hx-trigger="bot-changed").
    if (event.target.classList.contains("bot-changed")) htmx.trigger(event.target, "bot-changed");
  });

  function removeEmptyRows(container) {
    container.querySelectorAll(":scope > .empty-row").forEach(function (row) { row.remove(); });
  }
})();
