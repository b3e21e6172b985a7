(function () {
  "use strict";
  var status = document.getElementById("api-status");
  window.beeldcoachApi("/api/me").then(function (me) {
    status.textContent = status.getAttribute("data-ok");
    status.setAttribute("data-user", me.user.name);
    status.className = "ok";
  }).catch(function () {
    status.textContent = status.getAttribute("data-fail");
    status.className = "error";
  });
})();
