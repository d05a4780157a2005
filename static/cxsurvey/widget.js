/* CXSurvey widget: one <script> tag on a customer's site shows the survey in a small overlay.
 *
 *   <script src="https://cx.example.com/static/cxsurvey/widget.js" data-key="PUBLIC_KEY" async></script>
 *
 * Optional attributes: data-lang, data-email, data-name, data-external-id, data-signature (the
 * survey's HMAC of email and external id, made on the site's server), data-properties (JSON
 * object), data-delay (seconds), data-open="manual", data-consent="true", data-recontact-days.
 * Without a signature the answer keeps the email, name and external id as claimed, unverified.
 * window.CXSurvey offers open(), close() and setConsent(true|false). The set-up page's preview
 * gives the survey's texts in data-preview (the widget API's answer) instead of data-key: the
 * overlay opens at once and sends nothing.
 *
 * Nothing is stored on the visitor's device unless the host page says consent was given
 * (§ 25 TDDDG); requests carry no cookies. The overlay lives in a shadow root, so the host page's
 * styles do not leak in, and every text is set with textContent, never parsed as HTML. Its footer
 * names the company and links to its privacy notice and Impressum, in a new tab: the visitor's
 * page and answer stay where they are.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || window.CXSurvey) return;

  var data = script.dataset;
  var key = data.key || "";
  var preview = data.preview ? JSON.parse(data.preview) : null;
  var api = new URL(script.src).origin + "/api/v1/widget/";
  var storageKey = "cxsurvey:" + key;
  var consent = data.consent === "true";
  var recontactDays = parseInt(data.recontactDays, 10);
  if (!(recontactDays >= 0)) recontactDays = 90;
  var SAVE_DELAY = 400; // ms: arrow keys through the scale send one answer, not one per step

  var config = null; // the survey's texts, fetched once
  var host = null; // the element holding the shadow root
  var view = {}; // the parts of the overlay that change
  var answer = null; // {id, edit_token} once the score is stored
  var sending = Promise.resolve();
  var saveTimer = null;
  var returnFocus = null;

  function warn(message) {
    if (window.console) console.warn("CXSurvey: " + message);
  }

  function language() {
    var lang = (data.lang || document.documentElement.lang || "").slice(0, 2).toLowerCase();
    return lang === "de" || lang === "en" ? lang : "";
  }

  function properties() {
    if (!data.properties) return {};
    try {
      var parsed = JSON.parse(data.properties);
      if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) {
        var clean = {};
        Object.keys(parsed).forEach(function (name) { clean[name] = String(parsed[name]); });
        return clean;
      }
    } catch (ignored) { /* reported below */ }
    warn("data-properties must be a JSON object; it was ignored.");
    return {};
  }

  // "Don't ask me again" memory: only with consent, and never fatal (private modes throw).
  function remembered() {
    if (!consent) return false;
    try {
      var at = parseInt(window.localStorage.getItem(storageKey), 10);
      return at > 0 && Date.now() - at < recontactDays * 864e5;
    } catch (ignored) {
      return false;
    }
  }

  function remember() {
    if (!consent) return;
    try {
      window.localStorage.setItem(storageKey, String(Date.now()));
    } catch (ignored) { /* nothing to remember with */ }
  }

  function request(method, path, body) {
    if (preview) return Promise.resolve({ id: "preview", edit_token: "" });
    var options = { method: method, credentials: "omit", mode: "cors", headers: { Accept: "application/json" } };
    if (body) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    return fetch(api + path, options).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (payload) {
        if (!response.ok) {
          throw new Error((payload.error && payload.error.message) || "HTTP " + response.status);
        }
        return payload;
      });
    });
  }

  function loadConfig() {
    if (config) return Promise.resolve(config);
    if (preview) return Promise.resolve((config = preview));
    var lang = language();
    return request("GET", "surveys/" + encodeURIComponent(key) + "/" + (lang ? "?lang=" + lang : ""))
      .then(function (payload) { return (config = payload); });
  }

  function el(tag, attributes, children) {
    var node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (name) {
      if (name === "text") node.textContent = attributes.text;
      else node.setAttribute(name, attributes[name]);
    });
    (children || []).forEach(function (child) { node.appendChild(child); });
    return node;
  }

  var CSS = [
    ":host { all: initial; }",
    ".box { position: fixed; z-index: 2147483000; right: 16px; bottom: 16px; box-sizing: border-box;",
    "  width: min(380px, calc(100vw - 32px)); max-height: calc(100vh - 32px); overflow: auto;",
    "  padding: 20px; background: #fff; color: #1d2330; border: 1px solid #767f91; border-radius: 12px;",
    "  box-shadow: 0 8px 32px rgba(0,0,0,.2); font: 15px/1.45 system-ui, -apple-system, 'Segoe UI', Roboto, Arial, sans-serif; }",
    "h2 { margin: 0 32px 12px 0; font-size: 16px; font-weight: 600; }",
    "fieldset { margin: 0; padding: 0; border: 0; min-width: 0; }",
    ".points { display: grid; grid-template-columns: repeat(var(--points), 1fr); gap: 4px; }",
    ".points input { position: absolute; opacity: 0; width: 1px; height: 1px; }",
    ".points label { display: flex; align-items: center; justify-content: center; min-height: 40px;",
    "  border: 1px solid #767f91; border-radius: 6px; cursor: pointer; font-weight: 600; background: #fff; }",
    ".points label:hover { border-color: var(--accent); }",
    ".points input:checked + label { background: var(--accent); color: var(--on-accent); border-color: var(--accent); }",
    ".points input:focus-visible + label, button:focus-visible, textarea:focus-visible, a:focus-visible {",
    "  outline: 3px solid #1d2330; outline-offset: 2px; }",
    ".ends { display: flex; justify-content: space-between; gap: 12px; margin-top: 4px; font-size: 12px; color: #4a5263; }",
    ".hidden-label { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }",
    ".follow { display: block; margin: 16px 0 6px; font-weight: 600; }",
    "textarea { box-sizing: border-box; width: 100%; min-height: 80px; padding: 8px; font: inherit;",
    "  color: inherit; border: 1px solid #767f91; border-radius: 6px; resize: vertical; }",
    ".send { margin-top: 10px; padding: 10px 18px; border: 0; border-radius: 6px; font: inherit; font-weight: 600;",
    "  background: var(--accent); color: var(--on-accent); cursor: pointer; }",
    ".close { position: absolute; top: 8px; right: 8px; width: 36px; height: 36px; border: 0; border-radius: 6px;",
    "  background: transparent; color: #4a5263; font-size: 22px; line-height: 1; cursor: pointer; }",
    ".status { min-height: 1.45em; margin: 8px 0 0; font-size: 13px; color: #4a5263; }",
    ".status.error { color: #a1122a; }",
    ".legal { display: flex; flex-wrap: wrap; gap: 2px 14px; margin: 14px 0 0; padding-top: 10px;",
    "  border-top: 1px solid #d5d9e0; font-size: 12px; color: #4a5263; }",
    ".legal a { color: inherit; }",
    "[hidden] { display: none !important; }",
    "@media (prefers-reduced-motion: no-preference) { .box { animation: rise .2s ease-out; } }",
    "@keyframes rise { from { transform: translateY(12px); opacity: 0; } }",
  ].join("\n");

  function styleInto(root) {
    if (root.adoptedStyleSheets !== undefined && window.CSSStyleSheet) {
      try {
        var sheet = new CSSStyleSheet();
        sheet.replaceSync(CSS);
        root.adoptedStyleSheets = [sheet];
        return;
      } catch (ignored) { /* older browsers: fall back to a style element */ }
    }
    root.appendChild(el("style", { text: CSS }));
  }

  function webAddress(url) {
    return typeof url === "string" && /^https?:\/\//i.test(url);
  }

  // Who asks, and the privacy notice and Impressum in the widget's language; null if none is set.
  function legalFooter() {
    var legal = config.legal || {};
    var parts = [];
    if (legal.company_name) parts.push(el("span", { text: legal.company_name }));
    [["privacy_url", config.ui.privacy], ["impressum_url", config.ui.impressum]].forEach(function (link) {
      var url = legal[link[0]];
      if (webAddress(url)) {
        parts.push(el("a", { href: url, target: "_blank", rel: "noopener", text: link[1] }));
      }
    });
    return parts.length ? el("p", { class: "legal" }, parts) : null;
  }

  function build() {
    host = el("div", { "data-cxsurvey": "" });
    host.style.setProperty("--accent", config.accent_color);
    host.style.setProperty("--on-accent", config.on_accent_color);
    var root = host.attachShadow({ mode: "open" });
    styleInto(root);

    var scale = config.scale;
    var points = el("div", { class: "points" });
    points.style.setProperty("--points", String(scale.high - scale.low + 1));
    for (var score = scale.low; score <= scale.high; score++) {
      var id = "cxs-" + score;
      var label = el("label", { for: id }, [el("span", { text: String(score), "aria-hidden": "true" })]);
      label.appendChild(el("span", {
        class: "hidden-label",
        text: scale.labels[score] ? score + " – " + scale.labels[score] : String(score),
      }));
      points.appendChild(el("input", { type: "radio", name: "score", id: id, value: String(score) }));
      points.appendChild(label);
    }
    var ends = el("div", { class: "ends", "aria-hidden": "true" }, [
      el("span", { text: scale.labels[scale.low] || "" }),
      el("span", { text: scale.labels[scale.high] || "" }),
    ]);
    var question = el("h2", { id: "cxs-question", text: config.question });
    view.scale = el("fieldset", { "aria-labelledby": "cxs-question" }, [points, ends]);
    view.comment = el("textarea", { id: "cxs-comment", maxlength: "5000", dir: "auto" });
    view.follow = el("div", { hidden: "" }, [
      el("label", { class: "follow", for: "cxs-comment", text: config.follow_up }),
      view.comment,
      el("button", { type: "submit", class: "send", text: config.ui.send }),
    ]);
    view.status = el("p", { class: "status", role: "status", "aria-live": "polite" });
    view.form = el("form", { novalidate: "" }, [view.scale, view.follow, view.status]);
    view.thanks = el("p", { tabindex: "-1", hidden: "", text: config.thank_you });
    view.close = el("button", { type: "button", class: "close", "aria-label": config.ui.close, text: "×" });
    var footer = legalFooter();
    view.box = el("section", {
      class: "box", role: "dialog", "aria-labelledby": "cxs-question", lang: config.language,
    }, [question, view.form, view.thanks].concat(footer ? [footer] : [], [view.close])); // close last in the tab order
    root.appendChild(view.box);

    points.addEventListener("change", function (event) {
      var score = parseInt(event.target.value, 10); // read now: the target is cleared after dispatch
      view.follow.hidden = false;
      clearTimeout(saveTimer);
      saveTimer = setTimeout(function () {
        saveTimer = null;
        save({ score: score });
      }, SAVE_DELAY);
    });
    view.form.addEventListener("submit", function (event) {
      event.preventDefault();
      var chosen = view.form.querySelector("input:checked");
      if (!chosen) return;
      clearTimeout(saveTimer);
      save({ score: parseInt(chosen.value, 10), comment: view.comment.value }).then(function (ok) {
        if (!ok) return;
        view.form.hidden = true;
        view.thanks.hidden = false;
        view.thanks.focus();
      });
    });
    view.close.addEventListener("click", close);
    view.box.addEventListener("keydown", function (event) {
      if (event.key === "Escape") close();
    });
    document.body.appendChild(host);
  }

  // One request at a time: the first creates the answer, later ones change it with its edit token.
  function save(fields) {
    sending = sending.then(function () {
      var body = { key: key, score: fields.score };
      if (fields.comment !== undefined) body.comment = fields.comment;
      if (answer) {
        body.edit_token = answer.edit_token;
        return request("PATCH", "responses/" + answer.id + "/", body);
      }
      body.language = config.language;
      body.properties = properties();
      body.contact = {
        email: data.email || "",
        name: data.name || "",
        external_id: data.externalId || "",
        signature: data.signature || "",
      };
      return request("POST", "responses/", body).then(function (created) {
        answer = created;
        remember();
      });
    }).then(function () {
      view.status.className = "status";
      view.status.textContent = config.ui.saved;
      return true;
    }, function (error) {
      view.status.className = "status error";
      view.status.textContent = config.ui.error;
      warn(error.message);
      return false;
    });
    return sending;
  }

  function open() {
    return loadConfig().then(function () {
      if (!host) build();
      host.style.display = "";
      returnFocus = document.activeElement;
      var target = view.form.hidden ? view.thanks : view.form.querySelector("input:checked, input");
      target.focus();
    }, function (error) {
      warn("the survey could not be loaded: " + error.message);
    });
  }

  function close() {
    if (!host || host.style.display === "none") return;
    if (saveTimer) {
      clearTimeout(saveTimer);
      var chosen = view.form.querySelector("input:checked");
      if (chosen && !view.form.hidden) save({ score: parseInt(chosen.value, 10) });
    }
    remember();
    host.style.display = "none";
    if (returnFocus && returnFocus.focus && document.contains(returnFocus)) returnFocus.focus();
  }

  // Opened by the page itself: shown in the corner without taking the focus from the page.
  function openQuietly() {
    if (remembered()) return;
    loadConfig().then(function () {
      if (!host) build();
    }, function (error) {
      warn("the survey could not be loaded: " + error.message);
    });
  }

  window.CXSurvey = {
    open: open,
    close: close,
    setConsent: function (given) {
      consent = given === true;
      if (!consent) {
        try { window.localStorage.removeItem(storageKey); } catch (ignored) { /* nothing stored */ }
      }
    },
  };

  if (data.open !== "manual") {
    var delay = Math.max(0, parseFloat(data.delay) || 0) * 1000;
    var start = function () { setTimeout(openQuietly, delay); };
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
    else start();
  }
})();
