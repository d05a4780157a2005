/* The dashboard's charts and small conveniences of its filter form.

   The figures come ready from the server as JSON blocks (<script type="application/json">);
   this file only hands them to plotly.js, switches the over-time chart between shares and
   counts, and keeps the filter URL short. Without it the page still works: the tables hold
   the same numbers and the form submits as it is. */
(function () {
  "use strict";

  var payloads = new WeakMap();

  function draw(chart, view, first) {
    var payload = payloads.get(chart);
    var figure = payload.figures[view];
    chart.dataset.view = view;
    var render = first ? Plotly.newPlot : Plotly.react;
    return render(chart, figure.data, fittedTicks(chart, figure.layout), payload.config);
  }

  // The server labels up to a dozen buckets of the time axis; a phone has room for fewer, so
  // every n-th of those keeps its label there (a label with its year needs about 110 px).
  function fittedTicks(chart, layout) {
    var axis = layout.xaxis;
    if (!axis || !axis.tickvals) {
      return layout;
    }
    var room = Math.max(2, Math.floor(chart.clientWidth / 110));
    var step = Math.ceil(axis.tickvals.length / room);
    if (step <= 1) {
      return layout;
    }
    var kept = function (value, index) {
      return index % step === 0;
    };
    var fitted = Object.assign({}, axis, {
      tickvals: axis.tickvals.filter(kept),
      ticktext: axis.ticktext.filter(kept),
    });
    return Object.assign({}, layout, { xaxis: fitted });
  }

  function setUpCharts() {
    if (!window.Plotly) {
      return;
    }
    document.querySelectorAll(".chart[data-figures]").forEach(function (chart) {
      var block = document.getElementById(chart.dataset.figures);
      var payload = JSON.parse(block.textContent);
      payloads.set(chart, payload);
      draw(chart, Object.keys(payload.figures)[0], true);
    });
    document.querySelectorAll("[data-toggle-chart]").forEach(function (button) {
      var chart = document.getElementById(button.dataset.toggleChart);
      if (!chart || !payloads.has(chart)) {
        return;
      }
      button.hidden = false;
      button.addEventListener("click", function () {
        var showCounts = chart.dataset.view !== "count";
        draw(chart, showCounts ? "count" : "share", false);
        button.textContent = showCounts ? button.dataset.labelShare : button.dataset.labelCount;
      });
    });
  }

  function setUpFilters() {
    var form = document.getElementById("filters");
    if (!form) {
      return;
    }
    var range = form.elements.range;
    form.querySelectorAll("[data-custom-date]").forEach(function (input) {
      input.addEventListener("change", function () {
        range.value = "custom";
      });
    });
    // Touchpoints, categories and scores belong to one survey: the old one's would not apply.
    form.elements.survey.addEventListener("change", function () {
      form.querySelectorAll("input[name=touchpoint]").forEach(function (box) {
        if (box.value !== "0") {
          box.checked = false;
        }
      });
      ["category", "score"].forEach(function (name) {
        if (form.elements[name]) {
          form.elements[name].value = "";
        }
      });
    });
    // A short, shareable URL: no empty fields, and no dates that a preset period ignores.
    form.addEventListener("submit", function () {
      Array.prototype.forEach.call(form.elements, function (field) {
        var ignoredDate = field.hasAttribute("data-custom-date") && range.value !== "custom";
        if (field.name && (field.value === "" || ignoredDate)) {
          field.disabled = true;
        }
      });
    });
    // Back to this page from the next one: the browser may restore it with those fields disabled.
    window.addEventListener("pageshow", function () {
      Array.prototype.forEach.call(form.elements, function (field) {
        field.disabled = false;
      });
    });
  }

  setUpFilters();
  setUpCharts();
})();
