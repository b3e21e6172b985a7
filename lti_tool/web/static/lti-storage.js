// LTI Client Side postMessages (Platform Storage): lti.put_data / lti.get_data.
// Used when the platform sends lti_storage_target and the browser may drop our cookies.
// At login a secret is stored in the platform's window; at launch it is read back and traded
// at /lti/storage-confirm for the start link. A forged launch, rendered in someone else's
// browser, finds no such secret in that browser's platform window and stops.
(function () {
  "use strict";
  var el = document.getElementById("lti-storage");
  var mode = el.getAttribute("data-mode");
  var targetName = el.getAttribute("data-target");
  var origin = el.getAttribute("data-origin");
  var state = el.getAttribute("data-state");
  var status = document.getElementById("storage-status");
  var key = "beeldcoach_" + state;

  function targetFrame() {
    var parent = window.opener || window.parent;
    if (!targetName || targetName === "_parent") { return parent; }
    try { return parent.frames[targetName] || parent; } catch (e) { return parent; }
  }

  function fail() {
    status.textContent = el.getAttribute("data-fail");
    status.className = "error";
    status.setAttribute("data-failed", "1");
  }

  function send(message, expect) {
    return new Promise(function (resolve, reject) {
      var messageId = "bc-" + Math.random().toString(36).slice(2);
      message.message_id = messageId;
      var timer = setTimeout(function () { reject(new Error("timeout")); }, 3000);
      window.addEventListener("message", function handler(event) {
        if (event.origin !== origin) { return; }
        var data = event.data || {};
        if (data.message_id !== messageId) { return; }
        window.removeEventListener("message", handler);
        clearTimeout(timer);
        if (data.subject === expect) { resolve(data); } else { reject(new Error(data.subject)); }
      });
      targetFrame().postMessage(message, origin);
    });
  }

  if (mode === "put") {
    var next = el.getAttribute("data-next");
    send({ subject: "lti.put_data", key: key, value: el.getAttribute("data-secret") },
         "lti.put_data.response")
      .then(function () { window.location.replace(next); })
      // Storage unavailable: go on anyway; the cookie may still work.
      .catch(function () { window.location.replace(next); });
  } else {
    send({ subject: "lti.get_data", key: key }, "lti.get_data.response")
      .then(function (answer) {
        if (!answer.value) { throw new Error("no value"); }
        var body = new URLSearchParams({ state: state, secret: answer.value });
        return fetch(el.getAttribute("data-confirm"), {
          method: "POST", body: body, credentials: "omit",
          headers: { "Accept": "application/json" }
        });
      })
      .then(function (response) {
        if (!response.ok) { throw new Error("not confirmed"); }
        return response.json();
      })
      .then(function (data) { window.location.replace(data.start_url); })
      .catch(fail);
  }
})();
