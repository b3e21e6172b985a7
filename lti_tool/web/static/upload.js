// Resumable recording uploads (tus, via vendor/tus.min.js): every <form data-upload> sends its
// file in 32 MiB chunks to data-endpoint with the page's API token, shows progress, speed and
// time left, retries dropped connections and resumes an interrupted upload of the same file,
// also after a reload. Texts come from the form's data-msg-* attributes (translated server-side).
(function () {
  "use strict";
  var CHUNK = 32 * 1024 * 1024;
  var RETRY_DELAYS = [0, 1000, 3000, 5000, 10000, 20000];
  var SPEED_WINDOW_MS = 8000;

  function apiToken() {
    var script = document.getElementById("beeldcoach-api");
    return script ? script.getAttribute("data-api-token") || "" : "";
  }

  function msg(form, name, fallback) {
    return form.getAttribute("data-msg-" + name) || fallback;
  }

  function clock(seconds) {
    seconds = Math.max(0, Math.round(seconds));
    var h = Math.floor(seconds / 3600);
    var m = Math.floor((seconds % 3600) / 60);
    var s = seconds % 60;
    var mm = h ? String(m).padStart(2, "0") : String(m);
    return (h ? h + ":" : "") + mm + ":" + String(s).padStart(2, "0");
  }

  // The server's refusals are JSON with a message in the person's language.
  function serverMessage(error) {
    var response = error && error.originalResponse;
    if (!response) { return null; }
    try {
      var body = JSON.parse(response.getBody() || "{}");
      return body.message || null;
    } catch (e) {
      return null;
    }
  }

  function enhance(form) {
    var input = form.querySelector('input[type="file"]');
    var button = form.querySelector('button[type="submit"], button:not([type])');
    var bar = form.querySelector('[data-role="upload-progress"]') || form.querySelector("progress");
    var status = form.querySelector('[data-role="upload-status"]');
    var traject = form.getAttribute("data-traject");
    var cycle = form.getAttribute("data-cycle");
    var endpoint = form.getAttribute("data-endpoint");
    var running = null;

    function say(text) { if (status) { status.textContent = text; } }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (running) { return; }
      var file = input && input.files && input.files[0];
      if (!file) { say(msg(form, "choose", "Choose a video file first.")); return; }
      if (!window.tus || !window.tus.isSupported) {
        say(msg(form, "failed", "The upload stopped.")); return;
      }

      var samples = [];  // [time, bytes] for the speed over the last seconds
      var recordingId = null;
      var upload = new window.tus.Upload(file, {
        endpoint: endpoint,
        chunkSize: CHUNK,
        retryDelays: RETRY_DELAYS,
        headers: { "Authorization": "Bearer " + apiToken() },
        metadata: {
          traject: String(traject),
          cycle: String(cycle),
          filename: file.name,
          filetype: file.type || "application/octet-stream"
        },
        // Resume after a reload or a closed tab: the upload's URL is kept in localStorage
        // under this fingerprint. The cycle belongs in it: the same file may go to two cycles.
        storeFingerprintForResuming: true,
        removeFingerprintOnSuccess: true,
        fingerprint: function (f, options) {
          return Promise.resolve(["beeldcoach", traject, cycle, f.name, f.type, f.size,
            f.lastModified, options.endpoint].join("/"));
        },
        onProgress: function (sent, total) {
          var now = Date.now();
          samples.push([now, sent]);
          while (samples.length > 2 && now - samples[0][0] > SPEED_WINDOW_MS) { samples.shift(); }
          var percent = total ? Math.floor((sent / total) * 100) : 0;
          if (bar) { bar.hidden = false; bar.value = percent; bar.textContent = percent + "%"; }
          var first = samples[0];
          var seconds = (now - first[0]) / 1000;
          var parts = [percent + "%"];
          if (seconds >= 1 && sent > first[1]) {
            var rate = (sent - first[1]) / seconds;
            parts.push((rate / 1e6).toFixed(1) + " MB/s");
            parts.push(msg(form, "left", "{time} left").replace("{time}", clock((total - sent) / rate)));
          }
          say(parts.join(" · "));
        },
        onAfterResponse: function (request, response) {
          var id = response.getHeader("Beeldcoach-Recording");
          if (id) { recordingId = id; }
        },
        onError: function (error) {
          running = null;
          if (button) { button.disabled = false; }
          say(serverMessage(error) || msg(form, "failed", "The upload stopped."));
        },
        onSuccess: function () {
          running = null;
          if (bar) { bar.value = 100; bar.textContent = "100%"; }
          say(msg(form, "done", "Uploaded."));
          form.dispatchEvent(new CustomEvent("beeldcoach:uploaded", {
            bubbles: true, detail: { recordingId: recordingId, traject: traject, cycle: cycle }
          }));
          // The recordings list is rendered server-side: show it anew with the new recording.
          window.setTimeout(function () { window.location.reload(); }, 600);
        }
      });
      running = upload;
      if (button) { button.disabled = true; }
      if (bar) { bar.hidden = false; bar.value = 0; }
      upload.findPreviousUploads().then(function (previous) {
        if (previous.length) {
          say(msg(form, "resuming", "Resuming an earlier upload of this file…"));
          upload.resumeFromPreviousUpload(previous[0]);
        }
        upload.start();
      });
    });
  }

  document.querySelectorAll("form[data-upload]").forEach(enhance);
})();
