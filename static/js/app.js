// Small behaviours htmx does not cover: reloading what a live update makes stale, the phone's menu
// and dialogs. The live connection is static/js/live.js; the charts are static/js/charts.js.
(function () {
  "use strict";

  document.addEventListener("htmx:oobAfterSwap", function (event) {
    if (event.detail.target) removeEmptyRows(event.detail.target);
    // Every live event about a bot swaps in its "changed" marker (bots/consumers.py). "bot-changed"
    // bubbles from it to the pieces showing figures no event carries (its row or status panel, the tick
    // record, the summary), which reload themselves (hx-trigger="bot-changed").
    if (event.target.classList.contains("bot-changed")) htmx.trigger(event.target, "bot-changed");
  });

  // The phone's menu: the nav and the account links fold behind one button.
  document.addEventListener("click", function (event) {
    var toggle = event.target.closest(".menu-toggle");
    if (!toggle) return;
    var open = toggle.closest(".topbar").classList.toggle("open");
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
  });

  // A detail fetched into a dialog's body (a trade on the trades page) opens that dialog.
  document.addEventListener("htmx:afterSwap", function (event) {
    var dialog = event.detail.target && event.detail.target.closest("dialog");
    if (dialog && !dialog.open) dialog.showModal();
  });

  function removeEmptyRows(container) {
    container.querySelectorAll(":scope > .empty-row").forEach(function (row) { row.remove(); });
  }
})();
