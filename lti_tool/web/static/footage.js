// A cycle's footage on the traject page: progress of processing and rendering without reloading,
// and the coach's "try again" and "remove" buttons. Uses the page's API client (api.js).
(function () {
  "use strict";
  var POLL_MS = 2000;

  function busy(item) { return item.status === "processing" || item.status === "rendering"; }

  function update(section, data) {
    var items = (data.recordings || []).concat(data.montages || []);
    var changed = false;
    items.forEach(function (item) {
      var li = section.querySelector('[data-kind="' + item.kind + '"][data-id="' + item.id + '"]');
      if (!li) { changed = true; return; }
      if (li.getAttribute("data-status") !== item.status) { changed = true; return; }
      var bar = li.querySelector('[data-role="progress"]');
      if (bar) { bar.value = item.percent; bar.textContent = item.percent + "%"; }
    });
    return { changed: changed, busy: items.some(busy) };
  }

  function poll(section) {
    var endpoint = section.getAttribute("data-endpoint");
    window.beeldcoachApi(endpoint.replace(/^.*?\/api\//, "/api/")).then(function (data) {
      var state = update(section, data);
      // A finished or failed job changes what the coach can do: show the page anew.
      if (state.changed) { window.location.reload(); return; }
      if (state.busy) { window.setTimeout(function () { poll(section); }, POLL_MS); }
    }).catch(function () { window.setTimeout(function () { poll(section); }, POLL_MS * 5); });
  }

  document.querySelectorAll("[data-footage]").forEach(function (section) {
    if (section.querySelector('[data-status="processing"], [data-status="rendering"]')) {
      window.setTimeout(function () { poll(section); }, POLL_MS);
    }
    section.addEventListener("click", function (event) {
      var button = event.target.closest("button[data-action]");
      if (!button) { return; }
      var confirmText = button.getAttribute("data-confirm");
      if (confirmText && !window.confirm(confirmText)) { return; }
      var method = button.getAttribute("data-action") === "remove" ? "DELETE" : "POST";
      button.disabled = true;
      var url = button.getAttribute("data-url").replace(/^.*?\/api\//, "/api/");
      window.fetchWithToken(url, method).then(function () { window.location.reload(); })
        .catch(function () { button.disabled = false; });
    });
  });

  // DELETE answers 204 without a body, which beeldcoachApi (JSON) does not expect.
  window.fetchWithToken = window.fetchWithToken || function (path, method) {
    var script = document.getElementById("beeldcoach-api");
    var token = script ? script.getAttribute("data-api-token") : "";
    var base = script ? script.getAttribute("data-api-base") || "" : "";
    return fetch(base + path, {
      method: method, credentials: "omit",
      headers: { "Authorization": "Bearer " + token, "Accept": "application/json" }
    }).then(function (response) {
      if (!response.ok) { throw new Error(String(response.status)); }
      return response;
    });
  };
})();
