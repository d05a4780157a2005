// Disclosures marked data-open-wide (the navigation, the filters) are open on wide screens and
// closed on phones, where they would push the page's content off the first screen. Without
// JavaScript they stay open; the <summary> opens and closes them either way.
(function () {
  "use strict";
  var phone = window.matchMedia("(max-width: 40rem)");
  function settle() {
    document.querySelectorAll("details[data-open-wide]").forEach(function (details) {
      details.open = !phone.matches;
    });
  }
  settle();
  phone.addEventListener("change", settle);
})();
