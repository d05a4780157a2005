/* The survey set-up page: "reset to standard" beside each text, placeholders to insert, the live
 * preview (the unsaved form posted to the preview endpoint, its HTML shown in sandboxed frames);
 * the copy buttons are setup/copy.js's. Without this script the page works as a plain form: a checkbox per text
 * returns it to the standard wording, and the previews show the saved survey. */
(function () {
  "use strict";
  var form = document.getElementById("survey-form");
  var section = document.getElementById("preview");
  if (!form || !section) return;

  var standards = JSON.parse(document.getElementById("standard-texts").textContent);
  var kindField = form.elements.kind;
  var status = document.getElementById("preview-status");
  var state = { view: "answer", language: section.dataset.language, width: 390 };
  var stale = {}; // previews to render again before they are shown
  var timer = null;
  var inFlight = null;
  var lastText = {}; // per language: the text field last typed in, for the placeholder buttons
  var DEBOUNCE = 300; // ms after the last keystroke
  var HEIGHT = { 390: 760, 1280: 820 };

  function kind() {
    return kindField && kindField.value in standards ? kindField.value : "nps";
  }

  function plain(text) {
    return text.replace(/\r\n/g, "\n").trim();
  }

  // Texts: a badge that says "custom" or "standard", and a button in place of the checkbox.
  var blocks = Array.prototype.slice.call(form.querySelectorAll(".standard-text"));
  blocks.forEach(function (block) {
    var name = block.dataset.text;
    var field = form.elements[name];
    var box = form.elements[name + "_standard"];
    var badge = block.querySelector("[data-badge-for]");
    var reset = document.createElement("button");
    reset.type = "button";
    reset.className = "btn btn-sm btn-link reset-standard";
    reset.textContent = section.dataset.reset;
    reset.setAttribute("aria-describedby", field.id);
    (document.getElementById("div_" + box.id) || box.parentElement).hidden = true;
    badge.after(reset);

    function mark() {
      var custom = plain(field.value) !== "" && plain(field.value) !== plain(standards[kind()][name]);
      badge.textContent = custom ? badge.dataset.custom : badge.dataset.standard;
      badge.classList.toggle("text-bg-warning", custom);
      badge.classList.toggle("text-bg-light", !custom);
      reset.disabled = !custom;
      box.checked = false;
    }
    block.mark = mark;
    mark();
    reset.addEventListener("click", function () {
      field.value = standards[kind()][name];
      mark();
      field.focus();
      changed();
    });
    field.addEventListener("input", function () {
      mark();
      changed();
    });
    field.addEventListener("focus", function () {
      var language = block.closest("[lang]").getAttribute("lang");
      lastText[language] = field;
      if (language !== state.language) choose("language", language);
    });
  });

  // A new survey's kind decides its standard question: a question still standard follows it.
  if (kindField && !kindField.disabled) {
    var previousKind = kind();
    kindField.addEventListener("change", function () {
      blocks.forEach(function (block) {
        var field = form.elements[block.dataset.text];
        if (plain(field.value) === plain(standards[previousKind][block.dataset.text])) {
          field.value = standards[kind()][block.dataset.text];
        }
        block.mark();
      });
      previousKind = kind();
    });
  }

  form.addEventListener("click", function (event) {
    var button = event.target.closest("button.insert-placeholder");
    if (!button) return;
    var language = button.closest("[lang]").getAttribute("lang");
    var field = lastText[language] || button.closest("fieldset").querySelector("textarea, input[type=text]");
    var start = field.selectionStart === null ? field.value.length : field.selectionStart;
    var end = field.selectionEnd === null ? start : field.selectionEnd;
    field.setRangeText(button.dataset.insert, start, end, "end");
    field.focus();
    field.dispatchEvent(new Event("input", { bubbles: true }));
  });
  form.addEventListener("input", function (event) {
    if (!event.target.closest(".standard-text")) changed();
  });
  form.addEventListener("change", function (event) {
    if (!event.target.closest(".standard-text")) changed();
  });

  // The preview: one view at a time, in one language and width.
  var controls = section.querySelector(".preview-controls");
  controls.hidden = false;
  section.classList.add("scripted");

  function choose(what, value) {
    state[what] = what === "width" ? parseInt(value, 10) : value;
    controls.querySelectorAll("[data-" + what + "]").forEach(function (button) {
      button.setAttribute("aria-pressed", String(button.dataset[what] === String(value)));
    });
    if (what === "width") fit();
    if (what === "view") {
      show();
      if (stale[state.view]) refresh();
    }
    if (what === "language") {
      stale = { answer: true, widget: true, email: true };
      refresh();
    }
  }

  controls.addEventListener("click", function (event) {
    var button = event.target.closest("button");
    if (!button) return;
    ["view", "language", "width"].forEach(function (what) {
      if (button.dataset[what]) choose(what, button.dataset[what]);
    });
  });

  function show() {
    section.querySelectorAll(".preview-view").forEach(function (view) {
      view.hidden = view.dataset.view !== state.view;
    });
    fit();
  }

  // The frame is as wide as the device and scaled down to the column; its box takes the scaled size.
  function fit() {
    var frame = document.getElementById("preview-" + state.view);
    var box = frame.parentElement;
    var height = HEIGHT[state.width];
    var scale = Math.min(1, box.clientWidth / state.width);
    frame.style.width = state.width + "px";
    frame.style.height = height + "px";
    frame.style.transform = "scale(" + scale + ")";
    box.style.height = Math.ceil(height * scale) + "px";
  }

  function changed() {
    stale = { answer: true, widget: true, email: true };
    clearTimeout(timer);
    timer = setTimeout(refresh, DEBOUNCE);
  }

  function refresh() {
    clearTimeout(timer);
    var view = state.view;
    if (inFlight) inFlight.abort();
    inFlight = new AbortController();
    var body = new FormData(form);
    body.append("preview_view", view);
    body.append("preview_language", state.language);
    section.setAttribute("aria-busy", "true");
    fetch(section.dataset.url, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { Accept: "application/json" },
      signal: inFlight.signal,
    })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (preview) {
        stale[view] = false;
        document.getElementById("preview-" + view).srcdoc = preview.html;
        if (view === "email") document.getElementById("preview-subject").textContent = preview.subject;
        var refused = Object.keys(preview.errors || {}).map(function (name) {
          var field = form.elements[name];
          var label = field && field.labels && field.labels[0];
          return label ? label.textContent.replace("*", "").trim() : name;
        });
        status.textContent = refused.length
          ? section.dataset.notShown + " " + refused.join(", ")
          : section.dataset.updated;
        section.removeAttribute("aria-busy");
      })
      .catch(function (error) {
        if (error.name === "AbortError") return;
        status.textContent = section.dataset.failed;
        section.removeAttribute("aria-busy");
      });
  }

  show();
  window.addEventListener("resize", fit);
})();
