// The study page's AI jobs: while any is queued or running, poll their progress and update the
// bars; when the last one finishes, reload once so the new findings show.
(function () {
  "use strict";
  var table = document.querySelector("[data-ai-jobs]");
  if (!table) return;
  var url = table.getAttribute("data-status-url");

  function unfinished() {
    return table.querySelectorAll("tr[data-finished='false']").length;
  }

  function update(jobs) {
    var finishedNow = 0;
    jobs.forEach(function (job) {
      var row = table.querySelector("tr[data-job='" + job.job + "']");
      if (!row) return;
      var bar = row.querySelector("progress");
      if (bar) bar.value = job.progress;
      var status = row.querySelector("[data-status]");
      if (status) status.textContent = job.status_display;
      if (job.finished && row.getAttribute("data-finished") === "false") {
        row.setAttribute("data-finished", "true");
        finishedNow += 1;
      }
    });
    return finishedNow;
  }

  function poll() {
    if (!unfinished()) return;
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (!data) return;
        update(data.jobs);
        if (!unfinished()) {
          window.location.reload();
        } else {
          window.setTimeout(poll, 2000);
        }
      })
      .catch(function () { window.setTimeout(poll, 5000); });
  }

  window.setTimeout(poll, 2000);
})();
