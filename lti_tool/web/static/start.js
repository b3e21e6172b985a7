(function () {
  "use strict";
  // The one-time start link has been used: keep it out of the history and of reloads.
  if (window.location.search.indexOf("launch=") !== -1) {
    window.history.replaceState(null, "", window.location.pathname);
  }
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
