// Dynamic registration done: tell the platform's window to close the registration frame.
(function () {
  "use strict";
  function close() {
    (window.opener || window.parent).postMessage({ subject: "org.imsglobal.lti.close" }, "*");
  }
  var button = document.getElementById("close-registration");
  if (button) { button.addEventListener("click", close); }
})();
