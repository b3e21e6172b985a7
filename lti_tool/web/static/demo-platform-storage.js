// The demo platform's side of LTI Platform Storage (lti.capabilities, lti.put_data, lti.get_data),
// answering only the tool's origin, as a real platform would.
(function () {
  "use strict";
  var toolOrigin = document.getElementById("platform-storage").getAttribute("data-tool-origin");
  var store = {};
  window.addEventListener("message", function (event) {
    if (event.origin !== toolOrigin) { return; }
    var data = event.data || {};
    var reply = { message_id: data.message_id };
    if (data.subject === "lti.capabilities") {
      reply.subject = "lti.capabilities.response";
      reply.supported_messages = [
        { subject: "lti.put_data" }, { subject: "lti.get_data" }, { subject: "lti.capabilities" }
      ];
    } else if (data.subject === "lti.put_data") {
      store[data.key] = data.value;
      reply.subject = "lti.put_data.response";
      reply.key = data.key;
      reply.value = data.value;
    } else if (data.subject === "lti.get_data") {
      reply.subject = "lti.get_data.response";
      reply.key = data.key;
      reply.value = Object.prototype.hasOwnProperty.call(store, data.key) ? store[data.key] : null;
    } else {
      return;
    }
    event.source.postMessage(reply, event.origin);
  });
})();
