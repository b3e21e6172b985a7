// The demo platform received the tool's choice inside the frame: show the course page again.
(function () {
  "use strict";
  window.top.location.href = document.getElementById("back-to-course").href;
})();
