// Saves the chosen score as soon as it is chosen, so that a respondent who clicks a
// number in the email and closes the tab is counted. Without JavaScript, Send does it.
(function () {
  "use strict";
  var form = document.getElementById("answer-form");
  if (!form) return;
  var status = document.getElementById("saved-status");
  var failure = document.getElementById("saving-error");

  function postScore(score) {
    var body = new URLSearchParams();
    body.append("csrfmiddlewaretoken", form.elements.csrfmiddlewaretoken.value);
    body.append("score", score);
    return fetch(window.location.href, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    }).then(function (response) {
      return response.json().then(function (data) {
        if (!response.ok) throw new Error(data.error ? data.error.message : response.status);
        status.textContent = status.dataset.saved;
        failure.hidden = true;
      });
    }).catch(function () {
      failure.hidden = false;
    });
  }

  form.addEventListener("change", function (event) {
    if (event.target.name === "score") postScore(event.target.value);
  });

  var checked = form.querySelector("input[name=score]:checked");
  if (form.dataset.autosubmit === "true" && checked) postScore(checked.value);
})();
