// LTI Client Side postMessages (Platform Storage): lti.put_data / lti.get_data.
// Used when the platform sends lti_storage_target and the browser may drop our cookies:
// at login we store the state in the platform's window; at launch we read it back and only
// continue when it matches the launch's state.
(function () {
  "use strict";
  var el = document.getElementById("lti-storage");
  var mode = el.getAttribute("data-mode");
  var targetName = el.getAttribute("data-target");
  var origin = el.getAttribute("data-origin") || "*";
  var state = el.getAttribute("data-state");
  var next = el.getAttribute("data-next");
  var status = document.getElementById("storage-status");

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
        if (origin !== "*" && event.origin !== origin) { return; }
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
    send({ subject: "lti.put_data", key: "state_" + state, value: state }, "lti.put_data.response")
      .then(function () {
        return send({ subject: "lti.put_data", key: "nonce_" + el.getAttribute("data-nonce"),
                      value: el.getAttribute("data-nonce") }, "lti.put_data.response");
      })
      .then(function () { window.location.replace(next); })
      // Storage unavailable: go on anyway; the cookie may still work.
      .catch(function () { window.location.replace(next); });
  } else {
    send({ subject: "lti.get_data", key: "state_" + state }, "lti.get_data.response")
      .then(function (answer) {
        if (answer.value === state) { window.location.replace(next); } else { fail(); }
      })
      .catch(fail);
  }
})();
