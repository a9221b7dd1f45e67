// Suivi back office, template editor: live preview of unsaved sources (debounced POST to
// the preview endpoint, JSON back). Without JavaScript the "Preview" button does the same
// through a page load.
(function () {
  "use strict";
  var form = document.getElementById("nt-form");
  var pane = document.getElementById("nt-preview");
  if (!form || !pane || !window.fetch || !window.FormData) return;
  var url = form.getAttribute("data-preview-url");
  var status = document.getElementById("nt-preview-status");
  var timer = null;
  var controller = null;
  var sequence = 0;

  function text(id, value) {
    var element = document.getElementById(id);
    if (element) element.textContent = value || "";
  }

  function show(data) {
    var source = data.sample ? pane.dataset.msgSample : pane.dataset.msgOrder.replace("%s", data.order_reference);
    text("nt-preview-source", source);
    text("nt-subject", data.subject);
    text("nt-text", data.text);
    var frame = document.getElementById("nt-html");
    if (frame) frame.srcdoc = data.html || "";
    var problems = document.getElementById("nt-problems");
    if (problems) {
      var list = problems.querySelector("ul");
      list.textContent = "";
      (data.problems || []).forEach(function (problem) {
        var item = document.createElement("li");
        item.textContent = problem;
        list.appendChild(item);
      });
      problems.hidden = !(data.problems && data.problems.length);
    }
    var segments = document.getElementById("nt-segments");
    if (segments && data.segments) {
      segments.querySelectorAll("[data-seg]").forEach(function (element) {
        element.textContent = String(data.segments[element.getAttribute("data-seg")]);
      });
      segments.hidden = false;
    }
  }

  function refresh() {
    if (controller) controller.abort();
    controller = window.AbortController ? new AbortController() : null;
    var mine = ++sequence;
    status.textContent = pane.dataset.msgLoading;
    fetch(url, {
      method: "POST",
      body: new FormData(form),
      headers: { Accept: "application/json" },
      credentials: "same-origin",
      signal: controller ? controller.signal : undefined,
    })
      .then(function (response) {
        return response.json().then(function (data) {
          return { ok: response.ok, data: data };
        });
      })
      .then(function (result) {
        if (mine !== sequence) return;
        if (!result.ok) {
          status.textContent = result.data.error || pane.dataset.msgFailed;
          return;
        }
        status.textContent = "";
        show(result.data);
      })
      .catch(function (error) {
        if (error && error.name === "AbortError") return;
        if (mine === sequence) status.textContent = pane.dataset.msgFailed;
      });
  }

  form.addEventListener("input", function () {
    window.clearTimeout(timer);
    timer = window.setTimeout(refresh, 400);
  });
})();
