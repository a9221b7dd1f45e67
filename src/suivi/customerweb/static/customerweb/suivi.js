/* Suivi customer pages: live tracking (Server-Sent Events, else polling) and web push.
   No framework; kept small on purpose (the pages' JS and CSS stay under 50 KB). */
(function () {
  "use strict";
  var box = document.getElementById("tracking");
  var note = document.getElementById("live-status");
  function say(text) { if (note) note.textContent = text; }
  function refresh() {
    return fetch(box.dataset.fragment, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (html === null) return;
        box.innerHTML = html;
        var v = box.querySelector("[data-version]");
        if (v) box.dataset.version = v.dataset.version;
        box.dispatchEvent(new CustomEvent("suivi:updated"));
      });
  }
  function poll() {
    var etag = null;
    function tick() {
      var headers = etag ? { "If-None-Match": etag } : {};
      fetch(box.dataset.json, { credentials: "same-origin", headers: headers })
        .then(function (r) {
          if (r.status === 200) {
            etag = r.headers.get("ETag");
            return r.json().then(function (data) {
              if (data.version !== box.dataset.version) return refresh();
            });
          }
        })
        .catch(function () {})
        .then(function () { setTimeout(tick, 30000); });
    }
    tick();
  }
  if (box) {
    var live = box.dataset.live;
    if (live && window.EventSource) {
      var source = new EventSource(live + "?v=" + encodeURIComponent(box.dataset.version));
      source.addEventListener("update", function (e) {
        if (e.data !== box.dataset.version) refresh();
      });
      source.onopen = function () { say(box.dataset.liveOn || ""); };
      source.onerror = function () {
        if (source.readyState === EventSource.CLOSED) { poll(); }
      };
    } else {
      poll();
    }
  }

  /* Web push: a button with data-push-key (the VAPID public key) and data-push-url. */
  var button = document.querySelector("[data-push-key]");
  function b64ToBytes(text) {
    var pad = "=".repeat((4 - (text.length % 4)) % 4);
    var raw = atob((text + pad).replace(/-/g, "+").replace(/_/g, "/"));
    var out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out;
  }
  function csrf() {
    var m = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  }
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/sw.js").catch(function () {});
  }
  if (button) {
    var status = document.getElementById("push-status");
    if (!("serviceWorker" in navigator) || !("PushManager" in window)) {
      button.disabled = true;
      if (status) status.textContent = button.dataset.unsupported;
    }
    button.addEventListener("click", function () {
      Notification.requestPermission().then(function (permission) {
        if (permission !== "granted") throw new Error(button.dataset.denied);
        return navigator.serviceWorker.ready;
      }).then(function (reg) {
        return reg.pushManager.subscribe({
          userVisibleOnly: true, applicationServerKey: b64ToBytes(button.dataset.pushKey)
        });
      }).then(function (sub) {
        return fetch(button.dataset.pushUrl, {
          method: "POST", credentials: "same-origin",
          headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() },
          body: JSON.stringify(sub.toJSON())
        });
      }).then(function (r) {
        if (!r.ok) throw new Error(button.dataset.failed);
        if (status) status.textContent = button.dataset.done;
      }).catch(function (err) {
        if (status) status.textContent = err.message || button.dataset.failed;
      });
    });
  }
})();
