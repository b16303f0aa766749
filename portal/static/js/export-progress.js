// The progress page of a background export: poll the job's JSON status about once a second and update the
// bar, the row counts, the status line and, once the file is ready, show the download link. Without this
// script the page reloads itself (a meta refresh inside <noscript>) and shows the same things.
(function () {
  "use strict";
  var box = document.querySelector(".export-job[data-status-url]");
  if (!box || !window.fetch) { return; }
  var url = box.getAttribute("data-status-url");
  var bar = box.querySelector("progress");
  var percent = box.querySelector(".export-percent");
  var done = box.querySelector(".export-done");
  var total = box.querySelector(".export-total");
  var state = box.querySelector(".export-state");
  var download = box.querySelector(".export-download");
  var reload = box.querySelector(".export-reload");
  var status = box.getAttribute("data-status");
  var message = state.textContent;

  function show(job) {
    var max = Math.max(job.rows_total, 1);
    bar.max = max;
    bar.value = job.done ? max : Math.min(job.rows_done, max);
    bar.textContent = job.percent + "%";
    percent.textContent = job.percent + "%";
    done.textContent = job.rows_done;
    total.textContent = job.rows_total;
    box.setAttribute("data-status", job.status);
    // The status line is a live region: change it only when the words change, so it is not re-announced.
    if (job.message !== message) {
      message = job.message;
      state.textContent = message;
    }
    if (job.done) { download.hidden = false; }
    if (job.finished && reload) { reload.hidden = true; }
  }

  function poll() {
    fetch(url, { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) { throw new Error(String(r.status)); } return r.json(); })
      .then(function (job) {
        show(job);
        if (!job.finished) { setTimeout(poll, 1000); }
      })
      .catch(function () { setTimeout(poll, 3000); });
  }

  if (status === "queued" || status === "running") {
    if (reload) { reload.hidden = true; }
    setTimeout(poll, 500);
  }
})();
