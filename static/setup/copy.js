/* Copy buttons: <button data-copy="ID" data-status="ID" data-copied="…" data-failed="…" hidden>
   copies the text of the element with the first id and says so in the second (a role="status"
   element, so that screen readers hear it). The button shows only where this script runs. Where the Clipboard API is missing or refused (a page served over
   plain HTTP from another host), the text is selected for the keyboard's copy instead. */
(function () {
  "use strict";

  function say(button, message) {
    var status = document.getElementById(button.dataset.status);
    if (status) {
      status.textContent = message;
    }
  }

  function selectText(element) {
    var selection = window.getSelection();
    selection.removeAllRanges();
    var range = document.createRange();
    range.selectNodeContents(element);
    selection.addRange(range);
  }

  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      var source = document.getElementById(button.dataset.copy);
      if (!source) {
        return;
      }
      var failed = function () {
        selectText(source);
        say(button, button.dataset.failed);
      };
      if (!navigator.clipboard || !window.isSecureContext) {
        failed();
        return;
      }
      navigator.clipboard.writeText(source.textContent).then(function () {
        say(button, button.dataset.copied);
      }, failed);
    });
  });
})();
