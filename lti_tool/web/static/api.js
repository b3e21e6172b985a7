// The page's API client: the launch token travels in a header, so calls work even where the
// browser blocks the tool's cookies inside the learning platform's iframe.
(function () {
  "use strict";
  var script = document.getElementById("beeldcoach-api");
  var token = script ? script.getAttribute("data-api-token") : "";
  var base = script ? script.getAttribute("data-api-base") || "" : "";
  window.beeldcoachApi = function (path, options) {
    options = options || {};
    var headers = new Headers(options.headers || {});
    headers.set("Authorization", "Bearer " + token);
    headers.set("Accept", "application/json");
    options.headers = headers;
    options.credentials = "omit";
    return fetch(base + path, options).then(function (response) {
      return response.json().then(function (body) {
        if (!response.ok) { throw Object.assign(new Error(body.message || response.status), { body: body }); }
        return body;
      });
    });
  };
})();
