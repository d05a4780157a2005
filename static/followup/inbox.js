// The cases inbox by keyboard: j/k move between cases, x selects one, Enter or o opens it,
// a goes to "Assign to" for the selected cases, ? shows the keys.
(function () {
  "use strict";
  var rows = Array.prototype.slice.call(document.querySelectorAll("tr[data-case-row]"));
  var help = document.getElementById("keys-help");
  var counter = document.querySelector("[data-selected]");
  var current = -1;

  function checkbox(row) {
    return row.querySelector("input[type=checkbox][name=case]");
  }

  function move(to) {
    if (!rows.length) return;
    if (current >= 0) rows[current].removeAttribute("data-current");
    current = Math.max(0, Math.min(rows.length - 1, to));
    rows[current].setAttribute("data-current", "");
    rows[current].focus();
  }

  function count() {
    var selected = rows.filter(function (row) {
      var box = checkbox(row);
      row.setAttribute("aria-selected", box && box.checked ? "true" : "false");
      return box && box.checked;
    }).length;
    if (counter) counter.textContent = String(selected);
  }

  function showHelp() {
    if (help && !help.open) help.showModal();
  }

  rows.forEach(function (row, index) {
    row.setAttribute("aria-selected", "false");
    row.addEventListener("focus", function () {
      if (current !== index) {
        if (current >= 0) rows[current].removeAttribute("data-current");
        current = index;
        row.setAttribute("data-current", "");
      }
    });
    var box = checkbox(row);
    if (box) box.addEventListener("change", count);
  });

  var button = document.getElementById("show-keys");
  if (button) button.addEventListener("click", showHelp);

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    var target = event.target;
    var typing = target.closest && target.closest("input:not([type=checkbox]), select, textarea");
    // While the keys' dialog is open its own keys apply (Escape closes it); once it is closed the
    // focus may still be on its button for a moment.
    if (typing || (help && help.open)) return;
    var row = current >= 0 ? rows[current] : null;
    switch (event.key) {
      case "j":
        move(current + 1);
        break;
      case "k":
        move(current < 0 ? 0 : current - 1);
        break;
      case "x":
        if (!row || !checkbox(row)) return;
        checkbox(row).checked = !checkbox(row).checked;
        count();
        break;
      case "o":
      case "Enter":
        // Enter elsewhere (a link, a button) does what it does there; closing the keys' dialog
        // may hand the focus back to the page itself.
        if (!row || (event.key === "Enter" && target !== row && target !== document.body)) return;
        window.location.assign(row.getAttribute("data-href"));
        break;
      case "a":
        var assign = document.getElementById("bulk-assignee");
        if (!assign) return;
        assign.focus();
        break;
      case "?":
        showHelp();
        break;
      default:
        return;
    }
    event.preventDefault();
  });
})();
