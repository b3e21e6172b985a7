(function () {
  "use strict";
  var el = document.getElementById("autosubmit");
  document.getElementById(el.getAttribute("data-form")).submit();
})();
