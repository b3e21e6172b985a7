// The review player (micro-kijken). MP4 (or, while a re-encode is still running, HLS through
// hls.js); frame-exact stepping from the rendition's frame rate, checked against the frame the
// browser really shows (requestVideoFrameCallback where it exists); seconds jumps, slow motion,
// a repeated segment, a large still from the server; a timeline with markers, thumbnails and
// zoom; and beside the video the markers, the kijkwijzer, the conversation and the montage.
// Every text comes from the page (data-msg-*); URLs too (data-url-*).
(function () {
  "use strict";
  var root = document.querySelector("[data-player]");
  if (!root) { return; }

  // --- small helpers ----------------------------------------------------------------------------
  function $(role) { return root.querySelector('[data-role="' + role + '"]'); }
  var messages = $("messages");
  function msg(key, values) {
    var attr = "data-msg-" + key;
    var text = messages.getAttribute(attr) || key;
    Object.keys(values || {}).forEach(function (name) {
      text = text.split("{" + name + "}").join(String(values[name]));
    });
    return text;
  }
  function url(name) { return root.getAttribute("data-url-" + name); }
  function stillUrl(frame) { return url("still").replace(/\/stills\/\d+$/, "/stills/" + frame); }
  function withId(template, id) { return template.replace(/\/0$/, "/" + id).replace(/\/0\//, "/" + id + "/"); }
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      var value = attrs[key];
      if (value === null || value === undefined || value === false) { return; }
      if (key === "text") { node.textContent = value; }
      else if (key === "class") { node.className = value; }
      else { node.setAttribute(key, value === true ? "" : value); }
    });
    (children || []).forEach(function (child) {
      if (child !== null && child !== undefined) {
        node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
      }
    });
    return node;
  }
  var apiScript = document.getElementById("beeldcoach-api");
  var token = apiScript ? apiScript.getAttribute("data-api-token") : "";
  // The launch token travels in a header: calls work where the iframe gets no cookies.
  function call(method, path, body) {
    var headers = { "Authorization": "Bearer " + token, "Accept": "application/json" };
    var options = { method: method, headers: headers, credentials: "omit" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    return fetch(path, options).then(function (response) {
      if (response.status === 204) { return null; }
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) {
          var error = new Error(data.message || msg("failed"));
          error.body = data;
          throw error;
        }
        return data;
      });
    });
  }

  // --- the video and its frames ---------------------------------------------------------------
  var video = $("video");
  var timeOut = $("time");
  var frameOut = $("frame");
  var notice = $("notice");
  var playButton = root.querySelector('[data-action="play"]');
  var fpsParts = (root.getAttribute("data-fps") || "25/1").split("/");
  var fpsNum = Number(fpsParts[0]) || 25;
  var fpsDen = Number(fpsParts[1] || 1) || 1;
  var fps = fpsNum / fpsDen;
  var frameCount = Number(root.getAttribute("data-frame-count")) || 0;
  var durationMs = Number(root.getAttribute("data-duration-ms")) || 0;
  var kind = root.getAttribute("data-kind");
  var itemId = Number(root.getAttribute("data-id"));
  var shownFrame = null;  // the frame the browser last presented (requestVideoFrameCallback)
  var hasFrameCallback = "requestVideoFrameCallback" in HTMLVideoElement.prototype;

  function frameAt(t) { return Math.max(0, Math.floor(t * fps + 1e-6)); }
  // The first millisecond inside frame n: a time code that maps back to exactly this frame.
  function msOfFrame(n) { return Math.ceil(n * 1000 * fpsDen / fpsNum - 1e-6); }
  function frameOfMs(ms) { return Math.floor(ms * fpsNum / (1000 * fpsDen) + 1e-6); }
  function lastFrame() {
    if (frameCount) { return frameCount - 1; }
    var seconds = isFinite(video.duration) ? video.duration : durationMs / 1000;
    return Math.max(0, Math.ceil(seconds * fps) - 1);
  }
  function totalSeconds() {
    if (frameCount) { return frameCount / fps; }
    return isFinite(video.duration) && video.duration ? video.duration : durationMs / 1000;
  }
  function currentFrame() {
    if (video.paused && !video.seeking && shownFrame !== null) { return shownFrame; }
    return Math.min(frameAt(video.currentTime), lastFrame());
  }
  // Seek to the middle of a frame's interval: rounding in the browser never lands on a neighbour.
  function seekFrame(n) {
    n = Math.min(Math.max(0, n), lastFrame());
    shownFrame = null;
    root.setAttribute("data-seeking", "1");
    video.currentTime = (n + 0.5) / fps;
    watchFrame();
  }
  function seekSeconds(t) { seekFrame(frameAt(Math.min(Math.max(0, t), totalSeconds()))); }
  function pad(n, width) { n = String(n); while (n.length < width) { n = "0" + n; } return n; }
  function clockMs(ms) {
    ms = Math.max(0, Math.floor(ms));
    var s = Math.floor(ms / 1000), m = Math.floor(s / 60), h = Math.floor(m / 60);
    var head = h ? h + ":" + pad(m % 60, 2) : String(m);
    return head + ":" + pad(s % 60, 2) + "." + pad(ms % 1000, 3);
  }
  function clockShort(ms) { return clockMs(ms).replace(/\.\d+$/, ""); }

  function watchFrame() {
    if (!hasFrameCallback) { return; }
    video.requestVideoFrameCallback(function (now, meta) {
      // While paused, a frame from before the last seek may still be presented once: wait for
      // the one that holds currentTime.
      if (video.paused && (video.seeking || Math.abs(meta.mediaTime - video.currentTime) >= 1 / fps)) {
        watchFrame();
        return;
      }
      // mediaTime is the presented frame's timestamp: n / fps for frame n.
      shownFrame = Math.min(Math.round(meta.mediaTime * fps), lastFrame());
      show();
      if (!video.paused) { watchFrame(); loopCheck(meta.mediaTime); }
    });
  }

  // The last frame shown from loaded media: a reloaded source (an expired link) restarts at 0
  // with no data (readyState 0), and the renewal must come back here, not there.
  var lastGood = null;
  function show() {
    var frame = currentFrame();
    if (video.readyState >= 2 && !renewing) { lastGood = frame; }
    var ms = video.paused ? msOfFrame(frame) : video.currentTime * 1000;
    timeOut.textContent = clockMs(ms);
    frameOut.textContent = String(frame);
    root.setAttribute("data-frame", String(frame));
    if (!video.seeking) { root.removeAttribute("data-seeking"); }
    playButton.textContent = msg(video.paused ? "play" : "pause");
    playButton.setAttribute("aria-pressed", video.paused ? "false" : "true");
    timeline.setAttribute("aria-valuenow", String(frame));
    timeline.setAttribute("aria-valuetext", clockMs(ms) + ", " + msg("frame", { n: frame }));
    placePlayhead(frame);
  }

  // --- loading, and renewing expired signed URLs ----------------------------------------------
  var hlsPlayer = null;
  function load(mp4, hls) {
    if (hlsPlayer) { hlsPlayer.destroy(); hlsPlayer = null; }
    if (mp4) {
      video.src = mp4;
    } else if (hls && window.Hls && window.Hls.isSupported()) {
      hlsPlayer = new window.Hls({ lowLatencyMode: false });
      hlsPlayer.loadSource(hls);
      hlsPlayer.attachMedia(video);
    } else if (hls) {
      video.src = hls;  // Safari plays HLS natively
    }
  }
  load(root.getAttribute("data-mp4"), root.getAttribute("data-hls"));

  var renewals = [];
  function renew() {
    // Signed media URLs expire (and access can end): ask the footage API for fresh ones, then
    // come back to the same frame in the same state.
    var now = Date.now();
    renewals = renewals.filter(function (t) { return now - t < 60000; });
    if (renewals.length >= 3) { notice.textContent = msg("error"); return; }
    renewals.push(now);
    var frame = lastGood !== null ? lastGood : (shownFrame !== null ? shownFrame : frameAt(video.currentTime));
    var wasPlaying = !video.paused;
    call("GET", root.getAttribute("data-refresh")).then(function (data) {
      var list = kind === "montage" ? data.montages : data.recordings;
      var item = (list || []).filter(function (i) { return i.id === itemId; })[0];
      if (!item || !(item.mp4 || item.hls)) { throw new Error("gone"); }
      if (item.thumbnails) { root.setAttribute("data-thumbnails", item.thumbnails); }
      renewing = true;
      video.addEventListener("loadedmetadata", function restore() {
        video.removeEventListener("loadedmetadata", restore);
        renewing = false;
        seekFrame(frame);
        if (wasPlaying) { video.play(); }
        var count = Number(root.getAttribute("data-renewed") || 0) + 1;
        root.setAttribute("data-renewed", String(count));
        notice.textContent = msg("refreshed");
      });
      load(item.mp4, item.hls);
    }).catch(function () { notice.textContent = msg("error"); });
  }

  video.addEventListener("timeupdate", function () { show(); if (!hasFrameCallback) { loopCheck(video.currentTime); } });
  video.addEventListener("seeked", function () { show(); });
  video.addEventListener("play", function () { shownFrame = null; closeStill(); show(); watchFrame(); });
  // A loop jumps back once the frame after the out point is presented; a pause in that instant
  // must not leave the player outside the segment.
  function keepInSegment() {
    if (looping && hasSegment() && frameAt(video.currentTime) > segment.end) { seekFrame(segment.end); }
  }
  video.addEventListener("pause", function () { keepInSegment(); show(); });
  video.addEventListener("ratechange", showRate);
  var renewing = false, started = false;
  video.addEventListener("loadedmetadata", function () {
    root.setAttribute("data-ready", "1");
    drawMarkers();
    // Show the first frame itself, not the poster: the clock and the picture must agree.
    if (!started && !renewing && video.paused && video.currentTime === 0) { seekFrame(0); }
    started = true;
    show();
  });
  video.addEventListener("error", renew);
  // Tablets: a tap on the picture plays or pauses.
  video.addEventListener("click", function () { act("play"); });

  // --- the controls ---------------------------------------------------------------------------
  var segment = { start: null, end: null };  // frames: in and out points, or a marker's segment
  var looping = false;
  var rates = [1, 0.5, 0.25];

  function showRate() {
    root.querySelectorAll('[data-action="rate"]').forEach(function (button) {
      button.setAttribute("aria-pressed", Number(button.getAttribute("data-rate")) === video.playbackRate ? "true" : "false");
    });
    $("badge-rate").textContent = video.playbackRate !== 1 ? video.playbackRate + "×" : "";
    root.setAttribute("data-rate", String(video.playbackRate));
  }
  function setSegment(start, end) {
    segment.start = start; segment.end = end;
    var box = $("segment");
    var text = "";
    if (start !== null && end !== null && end > start) {
      box.hidden = false;
      box.style.left = (100 * start / (lastFrame() + 1)) + "%";
      box.style.width = (100 * (end - start + 1) / (lastFrame() + 1)) + "%";
    } else {
      box.hidden = true;
    }
    if (start !== null || end !== null) {
      text = msg("in-out", {
        from: start !== null ? clockMs(msOfFrame(start)) : "–",
        to: end !== null ? clockMs(msOfFrame(end)) : "–"
      });
    }
    $("inout").textContent = text;
    root.setAttribute("data-in", start === null ? "" : String(start));
    root.setAttribute("data-out", end === null ? "" : String(end));
    renderMontage();
  }
  function hasSegment() { return segment.start !== null && segment.end !== null && segment.end > segment.start; }
  function setLoop(on) {
    if (on && !hasSegment()) { notice.textContent = msg("segment-needed"); on = false; }
    looping = on;
    var button = root.querySelector('[data-action="loop"]');
    button.setAttribute("aria-pressed", on ? "true" : "false");
    root.setAttribute("data-loop", on ? "1" : "0");
    $("badge-loop").textContent = on ? "⟲" : "";
    if (!on && notice.getAttribute("data-loop-notice")) { notice.textContent = ""; }
    notice.removeAttribute("data-loop-notice");
    if (on) {
      notice.setAttribute("data-loop-notice", "1");
      notice.textContent = msg("loop-on", { from: clockMs(msOfFrame(segment.start)), to: clockMs(msOfFrame(segment.end)) });
      var frame = currentFrame();
      if (frame < segment.start || frame > segment.end) { seekFrame(segment.start); }
    }
  }
  function loopCheck(seconds) {
    if (!looping || !hasSegment() || video.paused) { return; }
    if (seconds >= (segment.end + 1) / fps - 1e-3) {
      video.currentTime = (segment.start + 0.5) / fps;
      var count = Number(root.getAttribute("data-loops") || 0) + 1;
      root.setAttribute("data-loops", String(count));
    }
  }

  // Freeze: pause and show the server's frame-exact still of this frame, large.
  var still = $("still");
  function closeStill() {
    if (still.hidden) { return; }
    still.hidden = true;
    root.classList.remove("pl-frozen");
    root.querySelector('[data-testid="freeze"]').setAttribute("aria-pressed", "false");
    root.removeAttribute("data-still-frame");
  }
  function freeze() {
    if (!still.hidden) { closeStill(); return; }
    video.pause();
    var frame = currentFrame();
    var image = $("still-img");
    call("GET", stillUrl(frame)).then(function (data) {
      image.onload = null;
      image.addEventListener("load", function loaded() {
        image.removeEventListener("load", loaded);
        root.setAttribute("data-still-frame", String(data.frame));
      });
      image.src = data.url;
      image.alt = msg("still", { n: data.frame });
      $("still-caption").textContent = msg("still", { n: data.frame }) + " · " + clockMs(msOfFrame(data.frame));
      still.hidden = false;
      root.classList.add("pl-frozen");
      root.querySelector('[data-testid="freeze"]').setAttribute("aria-pressed", "true");
      still.scrollIntoView({ block: "nearest" });
      still.querySelector("button").focus({ preventScroll: true });
    }).catch(function () { notice.textContent = msg("still-failed"); });
  }

  function act(action, button) {
    var frame = currentFrame();
    if (action === "play") {
      if (video.paused) {
        if (looping && hasSegment() && (frame < segment.start || frame >= segment.end)) { seekFrame(segment.start); }
        video.play();
      } else { video.pause(); keepInSegment(); }
      return;
    }
    if (action === "rate") { video.playbackRate = Number(button.getAttribute("data-rate")); return; }
    if (action === "slower") {
      video.playbackRate = rates[(rates.indexOf(video.playbackRate) + 1) % rates.length];
      return;
    }
    if (action === "freeze") { freeze(); return; }
    if (action === "loop") { setLoop(!looping); return; }
    if (action === "zoom-in") { setZoom(zoom * 2); return; }
    if (action === "zoom-out") { setZoom(zoom / 2); return; }
    if (action === "new-marker") { openMarkerForm(null); return; }
    if (action === "cancel-marker") { closeMarkerForm(); return; }
    if (action === "mark-in") {
      video.pause();
      setSegment(frame, segment.end !== null && segment.end > frame ? segment.end : null);
      return;
    }
    if (action === "mark-out") {
      video.pause();
      setSegment(segment.start !== null && segment.start < frame ? segment.start : null, frame);
      return;
    }
    video.pause();
    closeStill();
    var step = { "prev-frame": -1, "next-frame": 1 }[action];
    if (step) { seekFrame(frame + step); return; }
    var seconds = { back1: -1, fwd1: 1, back5: -5, fwd5: 5 }[action];
    if (seconds) { seekFrame(frame + Math.round(seconds * fps)); return; }
    if (action === "first") { seekFrame(0); }
    if (action === "last") { seekFrame(lastFrame()); }
  }
  root.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-action]");
    if (button && root.contains(button)) { act(button.getAttribute("data-action"), button); }
  });

  document.addEventListener("keydown", function (event) {
    var target = event.target;
    var tag = (target.tagName || "").toLowerCase();
    if (event.key === "Escape") {
      if (!still.hidden) { closeStill(); event.preventDefault(); return; }
      if (!markerForm.hidden) { closeMarkerForm(); event.preventDefault(); }
      return;
    }
    if (tag === "input" || tag === "textarea" || tag === "select" || target.isContentEditable ||
        event.ctrlKey || event.metaKey || event.altKey) { return; }
    if ((tag === "button" || tag === "a" || tag === "summary") && (event.key === " " || event.key === "Enter")) { return; }
    if (target.getAttribute && target.getAttribute("role") === "tab" && (event.key === "ArrowLeft" || event.key === "ArrowRight")) { return; }
    var key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
    var map = {
      " ": "play", "k": "play", "j": "back1", "l": "fwd1", "s": "slower", "i": "mark-in",
      "o": "mark-out", "r": "loop", "f": "freeze", "+": "zoom-in", "=": "zoom-in", "-": "zoom-out",
      "Home": "first", "End": "last", "PageUp": "back5", "PageDown": "fwd5"
    };
    var action = map[key];
    if (key === "ArrowLeft") { action = event.shiftKey ? "back5" : "prev-frame"; }
    if (key === "ArrowRight") { action = event.shiftKey ? "fwd5" : "next-frame"; }
    if (key === "m") { action = state && state.may.add_marker ? "new-marker" : null; }
    if (!action) { return; }
    event.preventDefault();
    act(action);
  });

  // --- the timeline: markers, thumbnails, zoom, scrubbing --------------------------------------
  var timeline = $("timeline");
  var scroller = $("scroll");
  var track = $("track");
  var playhead = $("playhead");
  var preview = $("preview");
  var zoom = 1;

  function setZoom(value) {
    zoom = Math.min(32, Math.max(1, value));
    timeline.style.width = (zoom * 100) + "%";
    $("zoom").textContent = zoom + "×";
    root.setAttribute("data-zoom", String(zoom));
    placePlayhead(currentFrame(), true);
  }
  function placePlayhead(frame, center) {
    var fraction = frame / Math.max(1, lastFrame() + 1);
    playhead.style.left = (fraction * 100) + "%";
    if (zoom > 1) {
      var x = fraction * timeline.clientWidth;
      var view = scroller.clientWidth;
      if (center || x < scroller.scrollLeft || x > scroller.scrollLeft + view - 24) {
        scroller.scrollLeft = Math.max(0, x - view / 2);
      }
    }
  }
  function frameAtPointer(event) {
    var box = timeline.getBoundingClientRect();
    var fraction = Math.min(1, Math.max(0, (event.clientX - box.left) / box.width));
    return Math.min(lastFrame(), Math.floor(fraction * (lastFrame() + 1)));
  }

  var thumbs = null;  // [{start, end, url, x, y, w, h}] from the WebVTT thumbnail index
  function parseTime(text) {
    var parts = text.trim().split(":").map(Number);
    return parts.reduce(function (total, part) { return total * 60 + part; }, 0);
  }
  function loadThumbnails() {
    var source = root.getAttribute("data-thumbnails");
    if (!source) { return; }
    fetch(source, { credentials: "omit" }).then(function (response) {
      if (!response.ok) { throw new Error(String(response.status)); }
      return response.text();
    }).then(function (text) {
      var cues = [];
      text.split(/\r?\n\r?\n/).forEach(function (block) {
        var lines = block.trim().split(/\r?\n/);
        var timing = lines.filter(function (line) { return line.indexOf("-->") > 0; })[0];
        if (!timing) { return; }
        var target = lines[lines.indexOf(timing) + 1] || "";
        var match = target.match(/^(.*)#xywh=(\d+),(\d+),(\d+),(\d+)$/);
        if (!match) { return; }
        var ends = timing.split("-->");
        cues.push({
          start: parseTime(ends[0]), end: parseTime(ends[1].trim().split(" ")[0]),
          url: new URL(match[1], new URL(source, window.location.href)).href,
          x: Number(match[2]), y: Number(match[3]), w: Number(match[4]), h: Number(match[5])
        });
      });
      thumbs = cues;
      root.setAttribute("data-thumbnails-ready", String(cues.length));
    }).catch(function () { thumbs = null; });
  }
  function showPreview(frame, event) {
    var seconds = frame / fps;
    var image = $("preview-img");
    var cue = (thumbs || []).filter(function (c) { return seconds >= c.start && seconds < c.end; })[0];
    if (cue) {
      image.hidden = false;
      image.style.width = cue.w + "px";
      image.style.height = cue.h + "px";
      image.style.backgroundImage = 'url("' + cue.url + '")';
      image.style.backgroundPosition = (-cue.x) + "px " + (-cue.y) + "px";
    } else {
      image.hidden = true;
    }
    $("preview-time").textContent = clockMs(msOfFrame(frame)) + " · " + msg("frame", { n: frame });
    preview.hidden = false;
    var box = preview.parentNode.getBoundingClientRect();
    var width = preview.offsetWidth;
    var left = Math.min(Math.max(0, event.clientX - box.left - width / 2), box.width - width);
    preview.style.left = left + "px";
    root.setAttribute("data-preview-frame", String(frame));
  }
  var scrubbing = false;
  timeline.addEventListener("pointerdown", function (event) {
    var marker = event.target.closest("[data-marker-id]");
    if (marker) { jumpToMarker(Number(marker.getAttribute("data-marker-id"))); return; }
    scrubbing = true;
    video.pause();
    closeStill();
    timeline.setPointerCapture(event.pointerId);
    seekFrame(frameAtPointer(event));
    showPreview(frameAtPointer(event), event);
  });
  timeline.addEventListener("pointermove", function (event) {
    var frame = frameAtPointer(event);
    showPreview(frame, event);
    if (scrubbing) { seekFrame(frame); }
  });
  function endScrub() { scrubbing = false; preview.hidden = true; }
  timeline.addEventListener("pointerup", endScrub);
  timeline.addEventListener("pointercancel", endScrub);
  timeline.addEventListener("pointerleave", function () { if (!scrubbing) { preview.hidden = true; } });

  // --- the state from the player API: mode, markers, kijkwijzer, conversation, montage ---------
  var state = null;
  var params = new URLSearchParams(window.location.search);
  var mode = params.get("mode") || "";
  var activeTab = "markers";

  function loadState() {
    var path = url("state") + (mode ? "?mode=" + encodeURIComponent(mode) : "");
    return call("GET", path).then(function (data) {
      state = data;
      mode = data.mode;
      root.setAttribute("data-mode", data.mode);
      root.setAttribute("data-step", data.step);
      renderModes();
      renderTabs();
      renderMarkerOptions();
      drawMarkers();
      renderMarkers();
      renderGuide();
      renderConversation();
      renderMontage();
      root.querySelector('[data-action="new-marker"]').hidden = !data.may.add_marker;
      root.setAttribute("data-state", "ready");
    }).catch(function (error) { notice.textContent = error.message; });
  }

  function renderModes() {
    var box = $("modes");
    box.textContent = "";
    state.modes.forEach(function (name) {
      var button = el("button", {
        type: "button", "class": "small" + (name === state.mode ? "" : " secondary"),
        "aria-pressed": name === state.mode ? "true" : "false", "data-mode": name,
        "data-testid": "mode-" + name, text: msg("mode-" + name)
      });
      button.addEventListener("click", function () {
        if (name === mode) { return; }
        mode = name;
        var search = new URLSearchParams(window.location.search);
        search.set("mode", name);
        window.history.replaceState(null, "", window.location.pathname + "?" + search.toString());
        loadState();
      });
      box.appendChild(button);
    });
    $("mode-hint").textContent = msg("hint-" + state.mode);
  }

  function renderTabs() {
    var visible = {
      markers: true,
      guide: state.guide !== null && state.mode !== "analysis",
      conversation: state.mode === "conversation" || state.mode === "review",
      montage: state.is_coach && state.mode === "analysis"
    };
    if (!visible[activeTab]) { activeTab = "markers"; }
    root.querySelectorAll("[role=tab]").forEach(function (tab) {
      var name = tab.getAttribute("data-tab");
      tab.hidden = !visible[name];
      var selected = name === activeTab;
      tab.setAttribute("aria-selected", selected ? "true" : "false");
      tab.tabIndex = selected ? 0 : -1;
      root.querySelector('[data-panel="' + name + '"]').hidden = !selected;
    });
  }
  function selectTab(name, focus) {
    activeTab = name;
    renderTabs();
    if (focus) { root.querySelector('[data-tab="' + name + '"]').focus(); }
  }
  var tablist = root.querySelector("[role=tablist]");
  tablist.addEventListener("click", function (event) {
    var tab = event.target.closest("[role=tab]");
    if (tab) { selectTab(tab.getAttribute("data-tab")); }
  });
  tablist.addEventListener("keydown", function (event) {
    if (event.key !== "ArrowLeft" && event.key !== "ArrowRight") { return; }
    var tabs = Array.prototype.filter.call(tablist.querySelectorAll("[role=tab]"), function (t) { return !t.hidden; });
    var index = tabs.indexOf(document.activeElement);
    var next = tabs[(index + (event.key === "ArrowRight" ? 1 : tabs.length - 1)) % tabs.length];
    event.preventDefault();
    selectTab(next.getAttribute("data-tab"), true);
  });

  // Markers: strength first, in its own colour, then opportunities and questions.
  var kindOrder = { strength: 0, opportunity: 1, question: 2 };
  function sortedMarkers() {
    return state.markers.slice().sort(function (a, b) {
      return (kindOrder[a.kind] - kindOrder[b.kind]) || ((a.start_ms || 0) - (b.start_ms || 0)) || (a.id - b.id);
    });
  }
  function markerFrame(marker) {
    if (marker.start_frame !== null && marker.start_frame !== undefined) { return marker.start_frame; }
    return marker.start_ms === null ? null : frameOfMs(marker.start_ms);
  }
  function markerEndFrame(marker) {
    if (marker.end_frame !== null && marker.end_frame !== undefined) { return marker.end_frame; }
    return marker.end_ms === null ? null : frameOfMs(marker.end_ms);
  }
  function drawMarkers() {
    if (!state) { return; }
    track.textContent = "";
    var total = lastFrame() + 1;
    // Drawn in reverse order of importance, so that moments of strength lie on top.
    sortedMarkers().reverse().forEach(function (marker) {
      var start = markerFrame(marker);
      if (start === null) { return; }
      var end = markerEndFrame(marker);
      var dot = el("span", {
        "class": "pl-mark kind-" + marker.kind + (end !== null && end > start ? " has-segment" : ""),
        "data-marker-id": marker.id, "data-testid": "timeline-marker-" + marker.id,
        title: msg("kind-" + marker.kind) + " · " + clockShort(marker.start_ms) + " · " + marker.text,
        "aria-hidden": "true"
      });
      dot.style.left = (100 * start / total) + "%";
      if (end !== null && end > start) { dot.style.width = (100 * (end - start) / total) + "%"; }
      track.appendChild(dot);
    });
  }
  function jumpToMarker(id) {
    var marker = state.markers.filter(function (m) { return m.id === id; })[0];
    if (!marker || marker.start_ms === null) { return; }
    var start = markerFrame(marker);
    var end = markerEndFrame(marker);
    if (end !== null && end > start) { setSegment(start, end); }
    video.pause();
    closeStill();
    seekFrame(start);
    root.setAttribute("data-jumped-marker", String(id));
  }
  function markerItem(marker) {
    var start = marker.start_ms;
    var time = start === null ? null : clockMs(start) + (marker.end_ms !== null && marker.end_ms > start ? "–" + clockMs(marker.end_ms) : "");
    var head = el("p", { "class": "pl-marker-head" }, [
      el("span", { "class": "marker-kind", text: msg("kind-" + marker.kind) }),
      time ? el("button", {
        type: "button", "class": "small secondary pl-jump", "data-jump": marker.id,
        "data-testid": "jump-" + marker.id, "aria-label": msg("jump", { time: time }) + ": " + marker.text, text: time
      }) : el("span", { "class": "hint", text: msg("no-time") })
    ]);
    var details = [];
    if (marker.tags.length) { details.push(marker.tags.join(" · ")); }
    if (marker.domain) { details.push(msg("domain-" + marker.domain)); }
    details.push(marker.mine ? msg("you") : marker.author_name);
    var item = el("li", { "class": "marker kind-" + marker.kind, "data-marker": marker.id, "data-testid": "marker-" + marker.id }, [
      head,
      el("p", { "class": "marker-text", text: marker.text }),
      marker.teacher_words ? el("p", { "class": "pl-words", text: "“" + marker.teacher_words + "”" }) : null,
      el("p", { "class": "meta", text: details.join(" · ") })
    ]);
    if (marker.kind === "strength" && marker.start_frame !== null) {
      // A moment of strength carries its still into the conversation notes.
      var image = el("img", { "class": "pl-thumb", alt: msg("still", { n: marker.start_frame }), loading: "lazy", "data-testid": "marker-still-" + marker.id });
      item.insertBefore(image, item.firstChild);
      if (!marker.media_kind || (marker.media_kind === kind && marker.media_id === itemId)) {
        call("GET", stillUrl(marker.start_frame)).then(function (data) {
          image.src = data.url;
        }).catch(function () { image.remove(); });
      } else { image.remove(); }
    }
    if (marker.mine && state.mode !== "review") {
      item.appendChild(el("div", { "class": "buttons" }, [
        el("button", { type: "button", "class": "small secondary", "data-edit": marker.id, "data-testid": "edit-" + marker.id, text: msg("edit") }),
        el("button", { type: "button", "class": "small secondary", "data-delete": marker.id, "data-testid": "delete-" + marker.id, text: msg("delete") })
      ]));
    }
    return item;
  }
  function renderMarkers() {
    var box = $("marker-list");
    box.textContent = "";
    var list = sortedMarkers();
    if (!list.length) { box.appendChild(el("p", { "class": "hint", text: msg("no-markers") })); return; }
    var strengths = list.filter(function (m) { return m.kind === "strength"; });
    var others = list.filter(function (m) { return m.kind !== "strength"; });
    if (strengths.length) {
      box.appendChild(el("div", { "class": "markers strengths" }, [
        el("h2", { "class": "pl-h", text: msg("strengths") }), el("ul", {}, strengths.map(markerItem))
      ]));
    }
    if (others.length) {
      box.appendChild(el("div", { "class": "markers others" }, [
        el("h2", { "class": "pl-h", text: msg("others") }), el("ul", {}, others.map(markerItem))
      ]));
    }
  }
  $("marker-list").addEventListener("click", function (event) {
    var jump = event.target.closest("[data-jump]");
    if (jump) { jumpToMarker(Number(jump.getAttribute("data-jump"))); return; }
    var edit = event.target.closest("[data-edit]");
    if (edit) {
      var id = Number(edit.getAttribute("data-edit"));
      openMarkerForm(state.markers.filter(function (m) { return m.id === id; })[0]);
      return;
    }
    var remove = event.target.closest("[data-delete]");
    if (remove) {
      // Two presses, no pop-up: the button asks once more.
      if (remove.getAttribute("data-armed") !== "1") {
        remove.setAttribute("data-armed", "1");
        remove.textContent = msg("confirm-delete");
        return;
      }
      call("DELETE", withId(url("marker"), remove.getAttribute("data-delete"))).then(loadState)
        .catch(function (error) { notice.textContent = error.message; });
    }
  });

  // The marker form: at the current frame, or for the segment between in and out.
  var markerForm = $("marker-form");
  var editing = null;
  var formFrames = { start: 0, end: null };
  function renderMarkerOptions() {
    var tagBox = $("tag-options");
    tagBox.textContent = "";
    state.tags.forEach(function (tag, index) {
      tagBox.appendChild(el("label", { "class": "choice" }, [
        el("input", { type: "checkbox", name: "tags", value: tag, id: "marker-tag-" + index }), " " + tag
      ]));
    });
    var select = $("domain-options");
    select.textContent = "";
    select.appendChild(el("option", { value: "", text: msg("no-domain") }));
    state.domains.forEach(function (domain) {
      select.appendChild(el("option", { value: domain, text: msg("domain-" + domain) }));
    });
  }
  function openMarkerForm(marker) {
    if (!state || (!marker && !state.may.add_marker)) { return; }
    video.pause();
    editing = marker;
    var frame = currentFrame();
    var choice = $("segment-choice");
    var box = choice.querySelector("input");
    if (marker) {
      formFrames = { start: markerFrame(marker), end: markerEndFrame(marker) };
    } else {
      formFrames = { start: frame, end: null };
    }
    var segmentOffered = !marker && hasSegment();
    choice.hidden = !segmentOffered;
    box.checked = segmentOffered;
    if (segmentOffered) {
      $("segment-label").textContent = msg("in-out", { from: clockMs(msOfFrame(segment.start)), to: clockMs(msOfFrame(segment.end)) });
    }
    updateWhen();
    markerForm.elements.text.value = marker ? marker.text : "";
    markerForm.elements.teacher_words.value = marker ? marker.teacher_words : "";
    Array.prototype.forEach.call(markerForm.querySelectorAll("input[name=kind]"), function (input) {
      input.checked = input.value === (marker ? marker.kind : "strength");
    });
    Array.prototype.forEach.call(markerForm.querySelectorAll("input[name=tags]"), function (input) {
      input.checked = !!marker && marker.tags.indexOf(input.value) >= 0;
    });
    markerForm.elements.domain.value = marker && marker.domain ? marker.domain : "";
    $("marker-error").hidden = true;
    markerForm.hidden = false;
    selectTab("markers");
    markerForm.elements.text.focus();
  }
  function updateWhen() {
    var useSegment = !$("segment-choice").hidden && $("segment-choice").querySelector("input").checked;
    var start = useSegment ? segment.start : formFrames.start;
    var end = useSegment ? segment.end : formFrames.end;
    var text = start === null || start === undefined ? msg("no-time") : clockMs(msOfFrame(start)) + " · " + msg("frame", { n: start });
    if (end !== null && end !== undefined && end > start) { text += " – " + clockMs(msOfFrame(end)) + " · " + msg("frame", { n: end }); }
    $("marker-when").textContent = text;
    markerForm.setAttribute("data-start-frame", start === null || start === undefined ? "" : String(start));
  }
  $("segment-choice").addEventListener("change", updateWhen);
  function closeMarkerForm() { markerForm.hidden = true; editing = null; }
  markerForm.addEventListener("submit", function (event) {
    event.preventDefault();
    var useSegment = !$("segment-choice").hidden && $("segment-choice").querySelector("input").checked;
    var start = useSegment ? segment.start : formFrames.start;
    var end = useSegment ? segment.end : formFrames.end;
    var body = {
      kind: (markerForm.querySelector("input[name=kind]:checked") || {}).value || "strength",
      text: markerForm.elements.text.value,
      teacher_words: markerForm.elements.teacher_words.value,
      tags: Array.prototype.map.call(markerForm.querySelectorAll("input[name=tags]:checked"), function (i) { return i.value; }),
      domain: markerForm.elements.domain.value || null
    };
    var request;
    if (editing) {
      request = call("PATCH", withId(url("marker"), editing.id), body);
    } else {
      body.start_ms = start === null ? null : msOfFrame(start);
      body.end_ms = end !== null && end > start ? msOfFrame(end) : null;
      body.media_kind = kind;
      body.media_id = itemId;
      request = call("POST", url("markers"), body);
    }
    request.then(function () {
      closeMarkerForm();
      notice.textContent = msg("saved");
      return loadState();
    }).catch(function (error) {
      var box = $("marker-error");
      box.textContent = error.message;
      box.hidden = false;
    });
  });

  // The kijkwijzer beside the video: a time-code answer is one click.
  function renderGuide() {
    var form = $("guide-form");
    form.textContent = "";
    var guide = state.guide;
    if (!guide) { return; }
    var editable = state.may.edit_guide;
    var answers = guide.answers || {};
    form.setAttribute("data-editable", editable ? "1" : "0");
    guide.questions.forEach(function (question, index) {
      var key = question.key, id = "guide-" + key;
      var answer = answers[key];
      var block = el("fieldset", { "class": "pl-question", "data-question": key, "data-kind": question.kind }, [
        el("legend", { text: (index + 1) + ". " + question.label })
      ]);
      if (question.kind === "development_question") {
        block.appendChild(el("p", { "class": "pre", text: guide.development_question || "" }));
      } else if (question.kind === "text") {
        if (editable) {
          block.appendChild(el("label", { "for": id, "class": "visually-hidden", text: question.label }));
          var area = el("textarea", { id: id, name: key, rows: "3" });
          area.value = answer || "";
          block.appendChild(area);
        } else {
          block.appendChild(el("p", { "class": "pre", text: answer || msg("unanswered") }));
        }
      } else if (question.kind === "timecode") {
        var entry = answer || { text: "", ms: null };
        var when = el("p", { "class": "pl-tc" }, [
          entry.ms !== null && entry.ms !== undefined
            ? el("button", { type: "button", "class": "small secondary pl-jump", "data-jump-ms": entry.ms, "data-testid": "guide-jump-" + key, text: clockMs(entry.ms) })
            : el("span", { "class": "hint", text: msg("no-time") })
        ]);
        block.appendChild(when);
        if (editable) {
          block.appendChild(el("button", {
            type: "button", "class": "small", "data-use-now": key, "data-testid": "use-now-" + key,
            text: msg("use-now", { time: clockMs(msOfFrame(currentFrame())) })
          }));
          block.appendChild(el("label", { "for": id, "class": "visually-hidden", text: question.label }));
          var text = el("textarea", { id: id, name: key, rows: "2", "data-ms": entry.ms === null || entry.ms === undefined ? "" : String(entry.ms) });
          text.value = entry.text || "";
          block.appendChild(text);
        } else if (entry.text) {
          block.appendChild(el("p", { "class": "pre", text: entry.text }));
        }
      } else if (question.kind === "scale") {
        var low = (question.scale || [1, 5])[0], high = (question.scale || [1, 5])[1];
        var row = el("div", { "class": "scale" });
        for (var value = low; value <= high; value += 1) {
          var input = el("input", { type: "radio", name: key, value: String(value), id: id + "-" + value, disabled: !editable });
          input.checked = answer === value;
          row.appendChild(el("label", { "class": "choice", "for": id + "-" + value }, [input, " " + value]));
        }
        block.appendChild(row);
        if (question.scale_labels) { block.appendChild(el("p", { "class": "hint", text: question.scale_labels.join(" … ") })); }
      } else if (question.kind === "checklist") {
        (question.options || []).forEach(function (option, n) {
          var box = el("input", { type: "checkbox", name: key, value: option, id: id + "-" + n, disabled: !editable });
          box.checked = (answer || []).indexOf(option) >= 0;
          block.appendChild(el("label", { "class": "choice", "for": id + "-" + n }, [box, " " + option]));
        });
      }
      form.appendChild(block);
    });
    if (editable) {
      form.appendChild(el("p", { "class": "field-error", "data-role": "guide-error", role: "alert", hidden: true }));
      form.appendChild(el("div", { "class": "buttons" }, [
        el("button", { type: "button", "class": "secondary", "data-guide": "draft", "data-testid": "guide-draft", text: msg("save-draft") }),
        el("button", { type: "button", "data-guide": "submit", "data-testid": "guide-submit", text: msg("submit-guide") })
      ]));
    }
  }
  function guideAnswers() {
    var form = $("guide-form");
    var answers = {};
    state.guide.questions.forEach(function (question) {
      var key = question.key;
      if (question.kind === "text") { answers[key] = form.querySelector('[name="' + key + '"]').value; }
      if (question.kind === "timecode") {
        var area = form.querySelector('[name="' + key + '"]');
        var ms = area.getAttribute("data-ms");
        answers[key] = { text: area.value, ms: ms === "" ? null : Number(ms) };
      }
      if (question.kind === "scale") {
        var chosen = form.querySelector('[name="' + key + '"]:checked');
        answers[key] = chosen ? Number(chosen.value) : null;
      }
      if (question.kind === "checklist") {
        answers[key] = Array.prototype.map.call(form.querySelectorAll('[name="' + key + '"]:checked'), function (i) { return i.value; });
      }
    });
    return answers;
  }
  function saveGuide(submit) {
    var path = submit ? url("guide-submit") : url("guide");
    return call(submit ? "POST" : "PUT", path, { answers: guideAnswers() }).then(function (guide) {
      notice.textContent = msg("saved");
      if (submit) { mode = ""; return loadState(); }
      state.guide = guide;
      renderGuide();
    }).catch(function (error) {
      var box = $("guide-form").querySelector('[data-role="guide-error"]');
      if (box) { box.textContent = error.message; box.hidden = false; }
    });
  }
  $("guide-form").addEventListener("click", function (event) {
    var jump = event.target.closest("[data-jump-ms]");
    if (jump) { video.pause(); seekFrame(frameOfMs(Number(jump.getAttribute("data-jump-ms")))); return; }
    var now = event.target.closest("[data-use-now]");
    if (now) {
      var area = $("guide-form").querySelector('[name="' + now.getAttribute("data-use-now") + '"]');
      video.pause();
      area.setAttribute("data-ms", String(msOfFrame(currentFrame())));
      saveGuide(false);
      return;
    }
    var button = event.target.closest("[data-guide]");
    if (button) { saveGuide(button.getAttribute("data-guide") === "submit"); }
  });
  // The "use the current time" buttons say which time they would take.
  video.addEventListener("seeked", function () {
    root.querySelectorAll("[data-use-now]").forEach(function (button) {
      button.textContent = msg("use-now", { time: clockMs(msOfFrame(currentFrame())) });
    });
  });

  // The conversation: the coach's notes and montage, the conversation notes, action points.
  function clipJump(clip, montage) {
    if (kind === "montage" && montage.id === itemId) { return clip.montage_start_ms; }
    if (kind === "recording" && clip.recording_id === itemId) { return clip.in_ms; }
    return null;
  }
  function montageNotes(montage) {
    var items = montage.clips.map(function (clip) {
      var at = clipJump(clip, montage);
      return el("li", {}, [
        at !== null ? el("button", { type: "button", "class": "small secondary pl-jump", "data-jump-ms": at, text: clockMs(at) }) : null,
        " ",
        el("span", { text: clip.caption || msg("clip-of", { name: clip.recording_name, from: clockShort(clip.in_ms), to: clockShort(clip.out_ms) }) })
      ]);
    });
    return el("div", { "class": "pl-montage-notes" }, [
      el("h3", { "class": "pl-h", text: montage.title || msg("montage-notes") }),
      el("ol", {}, items),
      montage.player_url && !(kind === "montage" && montage.id === itemId)
        ? el("p", {}, [el("a", { href: montage.player_url, text: msg("watch-montage") })]) : null
    ]);
  }
  function renderConversation() {
    var box = $("conversation");
    box.textContent = "";
    if (state.mode !== "conversation" && state.mode !== "review") { return; }
    if (state.analysis_notes) {
      box.appendChild(el("div", { "class": "notes" }, [
        el("h2", { "class": "pl-h", text: msg("analysis-notes") }), el("p", { "class": "pre", text: state.analysis_notes })
      ]));
    }
    state.montages.forEach(function (montage) { if (montage.clips.length) { box.appendChild(montageNotes(montage)); } });
    box.appendChild(el("h2", { "class": "pl-h", text: msg("conversation-notes") }));
    if (state.may.conversation_notes) {
      var notes = el("textarea", { id: "conversation-notes", rows: "4", "data-testid": "conversation-notes" });
      notes.value = state.conversation_notes || "";
      box.appendChild(el("label", { "for": "conversation-notes", "class": "visually-hidden", text: msg("conversation-notes") }));
      box.appendChild(notes);
      box.appendChild(el("div", { "class": "buttons" }, [
        el("button", { type: "button", "class": "secondary", "data-save-notes": "1", "data-testid": "save-notes", text: msg("save") })
      ]));
    } else {
      box.appendChild(el("p", { "class": "pre", text: state.conversation_notes || "—" }));
    }
    box.appendChild(el("h2", { "class": "pl-h", text: msg("action-points") }));
    var points = state.action_points;
    if (points.length) {
      box.appendChild(el("ul", { "class": "pl-points", "data-testid": "action-points" }, points.map(function (point) {
        return el("li", { "data-point": point.id }, [
          el("span", { text: point.text }), " ",
          el("span", { "class": "meta", text: msg("status-" + point.status) + (point.cycle !== state.cycle ? " · " + msg("from-cycle", { n: point.cycle }) : "") })
        ]);
      })));
    } else {
      box.appendChild(el("p", { "class": "hint", text: msg("no-action-points") }));
    }
    if (state.may.add_action_point) {
      box.appendChild(el("form", { "class": "pl-point-form", "data-role": "point-form", novalidate: true }, [
        el("label", { "for": "new-action-point", text: msg("new-action-point") }),
        el("textarea", { id: "new-action-point", rows: "2", name: "text", "data-testid": "new-action-point" }),
        el("p", { "class": "field-error", "data-role": "point-error", role: "alert", hidden: true }),
        el("div", { "class": "buttons" }, [el("button", { type: "submit", "data-testid": "add-action-point", text: msg("add-action-point") })])
      ]));
    } else if (state.mode === "conversation" && state.step === "prepared") {
      box.appendChild(el("p", { "class": "hint", text: msg("notes-first") }));
    }
  }
  $("conversation").addEventListener("click", function (event) {
    var jump = event.target.closest("[data-jump-ms]");
    if (jump) { video.pause(); seekFrame(frameOfMs(Number(jump.getAttribute("data-jump-ms")))); return; }
    if (event.target.closest("[data-save-notes]")) {
      var text = document.getElementById("conversation-notes").value;
      call("POST", url("conversation"), { conversation_notes: text }).then(function () {
        notice.textContent = msg("saved");
        return loadState();
      }).catch(function (error) { notice.textContent = error.message; });
    }
  });
  $("conversation").addEventListener("submit", function (event) {
    event.preventDefault();
    var area = document.getElementById("new-action-point");
    call("POST", url("action-points"), { text: area.value }).then(function () {
      return loadState();
    }).catch(function (error) {
      var box = $("conversation").querySelector('[data-role="point-error"]');
      box.textContent = error.message;
      box.hidden = false;
    });
  });

  // The coach's montage on the same player: clips from in and out points, in order, captioned.
  var draft = null;  // {id, title, fade, clips: [{recording_id, in_ms, out_ms, caption}]}
  function montageDraft() {
    if (draft) { return draft; }
    var existing = state.montages.length ? state.montages[state.montages.length - 1] : null;
    draft = existing ? {
      id: existing.id, title: existing.title, fade: existing.fade, status: existing.status, player_url: existing.player_url, shared: existing.shared,
      clips: existing.clips.map(function (c) { return { recording_id: c.recording_id, in_ms: c.in_ms, out_ms: c.out_ms, caption: c.caption || "" }; })
    } : { id: null, title: "", fade: false, status: "draft", player_url: null, shared: false, clips: [] };
    return draft;
  }
  function recordingName(id) {
    var match = (state.recordings || []).filter(function (r) { return r.id === id; })[0];
    return match ? match.name : "#" + id;
  }
  function renderMontage() {
    var box = $("montage");
    if (!box || !state) { return; }
    box.textContent = "";
    if (!(state.is_coach && state.mode === "analysis")) { return; }
    if (!state.may.edit_montage) {
      box.appendChild(el("p", { "class": "hint", text: msg("montage-locked") }));
      state.montages.forEach(function (montage) { box.appendChild(montageNotes(montage)); });
    } else {
      var m = montageDraft();
      box.appendChild(el("label", { "for": "montage-title", text: msg("title") }));
      var title = el("input", { id: "montage-title", type: "text", maxlength: "200", "data-testid": "montage-title" });
      title.value = m.title;
      title.addEventListener("input", function () { m.title = title.value; });
      box.appendChild(title);
      if (!m.clips.length) { box.appendChild(el("p", { "class": "hint", text: msg("no-clips") })); }
      var list = el("ol", { "class": "pl-clips", "data-testid": "montage-clips" });
      m.clips.forEach(function (clip, index) {
        var caption = el("input", { type: "text", id: "clip-caption-" + index, maxlength: "300", "data-clip-caption": index });
        caption.value = clip.caption;
        list.appendChild(el("li", { "data-clip": index }, [
          el("p", { "class": "meta" }, [
            clip.recording_id === itemId && kind === "recording"
              ? el("button", { type: "button", "class": "small secondary pl-jump", "data-jump-ms": clip.in_ms, text: clockMs(clip.in_ms) })
              : null,
            " " + msg("clip-of", { name: recordingName(clip.recording_id), from: clockMs(clip.in_ms), to: clockMs(clip.out_ms) })
          ]),
          el("label", { "for": "clip-caption-" + index, text: msg("caption") }), caption,
          el("div", { "class": "buttons" }, [
            el("button", { type: "button", "class": "small secondary", "data-clip-move": index + ":-1", "data-testid": "clip-up-" + index, disabled: index === 0, text: "↑ " + msg("move-up") }),
            el("button", { type: "button", "class": "small secondary", "data-clip-move": index + ":1", "data-testid": "clip-down-" + index, disabled: index === m.clips.length - 1, text: "↓ " + msg("move-down") }),
            el("button", { type: "button", "class": "small secondary", "data-clip-remove": index, "data-testid": "clip-remove-" + index, text: msg("remove") })
          ])
        ]));
      });
      box.appendChild(list);
      box.appendChild(el("label", { "for": "new-clip-caption", text: msg("caption") }));
      box.appendChild(el("input", { id: "new-clip-caption", type: "text", maxlength: "300", "data-testid": "new-clip-caption" }));
      box.appendChild(el("div", { "class": "buttons" }, [
        el("button", { type: "button", "class": "secondary", "data-montage": "add", "data-testid": "add-clip", disabled: !hasSegment(), text: msg("add-clip") }),
        el("button", { type: "button", "class": "secondary", "data-montage": "save", "data-testid": "save-montage", disabled: !m.clips.length, text: msg("save-montage") }),
        el("button", { type: "button", "data-montage": "render", "data-testid": "render-montage", disabled: !m.clips.length, text: msg("render") })
      ]));
      box.setAttribute("data-montage-status", m.status);
      if (m.status === "rendering") { box.appendChild(el("p", { "class": "hint", text: msg("rendering") })); }
      if (m.player_url) { box.appendChild(el("p", {}, [el("a", { href: m.player_url, "data-testid": "montage-link", text: msg("watch-montage") })])); }
    }
    if (state.may.share) {
      box.appendChild(el("div", { "class": "buttons" }, [
        el("button", { type: "button", "data-montage": "share", "data-testid": "share", text: msg("share") })
      ]));
    } else if (state.step === "recorded" || state.step === "planned") {
      box.appendChild(el("p", { "class": "hint" }, [el("a", { href: url("traject"), text: msg("share-later") })]));
    }
    box.appendChild(el("p", { "class": "field-error", "data-role": "montage-error", role: "alert", hidden: true }));
  }
  function montageError(error) {
    var box = $("montage").querySelector('[data-role="montage-error"]');
    if (box) { box.textContent = error.message; box.hidden = false; }
  }
  function saveMontage() {
    var m = montageDraft();
    var body = { title: m.title, fade: m.fade, clips: m.clips };
    var request = m.id ? call("PUT", withId(url("montage"), m.id), body) : call("POST", url("montages"), body);
    return request.then(function (saved) {
      m.id = saved.id; m.status = saved.status; m.player_url = saved.player_url;
      notice.textContent = msg("saved");
      return saved;
    });
  }
  $("montage").addEventListener("input", function (event) {
    var index = event.target.getAttribute("data-clip-caption");
    if (index !== null) { montageDraft().clips[Number(index)].caption = event.target.value; }
  });
  $("montage").addEventListener("click", function (event) {
    var jump = event.target.closest("[data-jump-ms]");
    if (jump) { video.pause(); seekFrame(frameOfMs(Number(jump.getAttribute("data-jump-ms")))); return; }
    var m = state && state.may.edit_montage ? montageDraft() : null;
    var move = event.target.closest("[data-clip-move]");
    if (move && m) {
      var parts = move.getAttribute("data-clip-move").split(":").map(Number);
      var clip = m.clips.splice(parts[0], 1)[0];
      m.clips.splice(parts[0] + parts[1], 0, clip);
      renderMontage();
      return;
    }
    var remove = event.target.closest("[data-clip-remove]");
    if (remove && m) { m.clips.splice(Number(remove.getAttribute("data-clip-remove")), 1); renderMontage(); return; }
    var button = event.target.closest("[data-montage]");
    if (!button) { return; }
    var what = button.getAttribute("data-montage");
    if (what === "add" && m && hasSegment()) {
      m.clips.push({
        recording_id: itemId, in_ms: msOfFrame(segment.start), out_ms: msOfFrame(segment.end + 1),
        caption: document.getElementById("new-clip-caption").value
      });
      renderMontage();
    } else if (what === "save" && m) {
      saveMontage().then(renderMontage).catch(montageError);
    } else if (what === "render" && m) {
      saveMontage().then(function (saved) {
        return call("POST", withId(url("render"), saved.id));
      }).then(function (rendered) {
        m.status = rendered.status;
        renderMontage();
      }).catch(montageError);
    } else if (what === "share") {
      call("POST", url("share")).then(function () {
        notice.textContent = msg("shared");
        draft = null;
        return loadState();
      }).catch(montageError);
    }
  });

  setZoom(1);
  showRate();
  loadThumbnails();
  loadState();
})();
