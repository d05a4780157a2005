/* The export page while its file is written: asks the status endpoint every two seconds and
   moves the progress bar; once the export has finished, reloads the page, which then offers
   the file or says what went wrong. Without JavaScript the page reloads itself instead. */
(function () {
  "use strict";

  var box = document.getElementById("export");
  if (!box || !box.dataset.statusUrl) {
    return;
  }
  var label = document.getElementById("export-status");
  var bar = document.getElementById("export-progress");
  var text = document.getElementById("export-text");

  function show(status) {
    label.textContent = status.label;
    text.textContent = status.text;
    if (status.percent === null) {
      bar.removeAttribute("value"); // an indeterminate bar until the rows are counted
      bar.textContent = "";
    } else {
      bar.value = status.percent;
      bar.textContent = status.percent + " %";
    }
  }

  function poll() {
    fetch(box.dataset.statusUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("status " + response.status);
        }
        return response.json();
      })
      .then(function (status) {
        if (status.finished) {
          window.location.reload();
          return;
        }
        show(status);
        window.setTimeout(poll, 2000);
      })
      .catch(function () {
        window.setTimeout(poll, 10000); // a restarting server: ask again, less often
      });
  }

  window.setTimeout(poll, 1000);
})();
