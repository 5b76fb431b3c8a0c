// The worklist's live columns: every 5 s, ask for the AI status, progress, urgency and review
// status of the rows on the page and update them in place. The server sorts and pages, so when
// a row's place in the order may change (its urgency, findings or sign-off) or its AI finishes
// (new findings to show), reload the page once instead of re-sorting here.
(function () {
  "use strict";
  var INTERVAL_MS = 5000;
  var table = document.querySelector("[data-worklist]");
  if (!table) return;
  var rows = table.querySelectorAll("tr[data-study]");
  if (!rows.length) return;
  var ids = Array.prototype.map.call(rows, function (row) {
    return row.getAttribute("data-study");
  });
  var url = table.getAttribute("data-status-url") + "?ids=" + ids.join(",");

  // Updates the rows; true when the page must reload.
  function update(liveRows) {
    var reload = false;
    liveRows.forEach(function (live) {
      var row = table.querySelector("tr[data-study='" + live.id + "']");
      if (!row) return;
      if (row.getAttribute("data-ai-finished") === "false" && live.ai_finished) reload = true;
      if (row.getAttribute("data-order-key") !== live.order_key) reload = true;
      row.setAttribute("data-ai-status", live.ai_status);
      row.setAttribute("data-ai-finished", live.ai_finished ? "true" : "false");
      var label = row.querySelector("[data-ai-label]");
      if (label) label.textContent = live.ai_status_display;
      var bar = row.querySelector("[data-ai-progress]");
      if (bar) {
        bar.value = live.ai_progress;
        bar.textContent = live.ai_progress + "%";
        bar.hidden = live.ai_status !== "running";
      }
      var review = row.querySelector("[data-review-label]");
      if (review) review.textContent = live.review_status_display;
    });
    return reload;
  }

  function schedule() {
    window.setTimeout(poll, INTERVAL_MS);
  }

  function poll() {
    if (document.hidden) {
      schedule();
      return;
    }
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (data && update(data.rows)) {
          window.location.reload();
        } else {
          schedule();
        }
      })
      .catch(schedule);
  }

  schedule();
})();
