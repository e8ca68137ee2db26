/* The candidate's recording page (templates/invites/record.html).
 *
 * Preview the camera, record one take with MediaRecorder, let the candidate
 * watch it and re-record, then upload it with XMLHttpRequest (for progress).
 * Server values arrive as data-* attributes on #recorder; the page's text
 * already explains itself for browsers that never get this far.
 */
(function () {
  "use strict";

  // The first type the browser can record wins: MP4 plays everywhere
  // (Safari included), WebM is what Chrome and Firefox produce natively.
  var MIME_TYPES = [
    "video/mp4;codecs=avc1,mp4a",
    "video/webm;codecs=vp9,opus",
    "video/webm;codecs=vp8,opus",
    "video/webm",
    "video/mp4",
  ];
  // Chunks every second: a crash mid-take still leaves most of it in memory.
  var TIMESLICE_MS = 1000;
  var CONSTRAINTS = {
    audio: true,
    video: { facingMode: "user", width: { ideal: 1280 }, height: { ideal: 720 } },
  };
  // About 19 MB a minute: sharp enough for a face, quick to upload.
  var BITRATES = { videoBitsPerSecond: 2500000, audioBitsPerSecond: 128000 };

  var BROWSERS = "a recent Chrome, Edge, Firefox or Safari";
  var RETRY = "then press \u201cTry the camera again\u201d.";
  var MESSAGES = {
    insecure:
      "Your browser allows the camera only on secure pages. Open the link exactly as you " +
      "received it (it starts with https://).",
    noMediaDevices: "This browser can\u2019t use a camera on this page. Please open the link in " + BROWSERS + ".",
    noRecorder: "This browser can\u2019t record video. Please open the link in " + BROWSERS + ".",
    denied:
      "You didn\u2019t allow the camera and microphone, so we can\u2019t record your answer. " +
      "Allow them for this site (usually with the camera icon in the address bar or in the " +
      "site settings), " + RETRY,
    missing:
      "We couldn\u2019t find a camera and a microphone. Plug them in or switch them on, " + RETRY,
    busy:
      "Your camera or microphone is being used by another app or browser tab, or the system " +
      "is blocking it. Close other apps that use it (a video call, for example), " + RETRY,
    lost: "Your camera or microphone stopped working. Check that it is still connected, " + RETRY,
    lostWithTake:
      "Your camera or microphone stopped working. What you recorded is kept: you can watch and " +
      "submit it, or reconnect the camera and press \u201cRe-record\u201d.",
    recorder: "Recording failed in this browser. Reload the page and try again, or use " + BROWSERS + ".",
    empty: "Nothing was recorded. Please try again.",
    network:
      "The upload was interrupted. Check your internet connection and press \u201cSubmit\u201d " +
      "again; your recording is still here.",
  };
  var STATUS_MESSAGES = {
    400: "The recording was empty. Please record again.",
    404: "We couldn\u2019t find this link. Ask the person who invited you for a new one.",
    409: "An answer was already submitted through this link.",
    410: "This link has expired or was withdrawn. Ask the person who invited you for a new one.",
    413: "This recording is too large to send. Please record a shorter answer.",
    415: "This file isn\u2019t a video we can accept. Please record again.",
    422: "We couldn\u2019t read this recording, or it is too long. Please record again.",
  };

  var el = {};
  var config = {};
  var mimeType = "";
  var stream = null;
  var recorder = null;
  var chunks = [];
  var recordedBytes = 0;
  var take = null;
  var takeUrl = "";
  var startedAt = 0;
  var ticker = 0;
  var submitted = false;
  var stopNote = "";

  function $(id) {
    return document.getElementById(id);
  }

  function show(node, visible) {
    node.hidden = !visible;
  }

  function formatTime(seconds) {
    var s = Math.max(0, Math.floor(seconds));
    return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
  }

  function setStatus(text) {
    el.status.textContent = text;
  }

  function showError(text) {
    el.error.textContent = text;
    show(el.error, true);
  }

  function hideError() {
    el.error.textContent = "";
    show(el.error, false);
  }

  function unsupportedReason() {
    if (!window.isSecureContext) return MESSAGES.insecure;
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) return MESSAGES.noMediaDevices;
    if (typeof window.MediaRecorder === "undefined") return MESSAGES.noRecorder;
    return "";
  }

  function chooseMimeType() {
    if (typeof MediaRecorder.isTypeSupported !== "function") return "";
    for (var i = 0; i < MIME_TYPES.length; i++) {
      if (MediaRecorder.isTypeSupported(MIME_TYPES[i])) return MIME_TYPES[i];
    }
    return "";
  }

  function cameraHelp(error) {
    switch (error && error.name) {
      case "NotAllowedError":
      case "SecurityError":
        return MESSAGES.denied;
      case "NotFoundError":
      case "OverconstrainedError":
        return MESSAGES.missing;
      case "NotReadableError":
      case "AbortError":
        return MESSAGES.busy;
      default:
        return "We couldn\u2019t start your camera (" + ((error && error.name) || "unknown error") + "). " +
          "Reload the page and try again.";
    }
  }

  function showStage(which) {
    show(el.preview, which === "preview");
    show(el.playback, which === "playback");
  }

  // Without a camera the empty stage and the timer only get in the way.
  function showCamera(visible) {
    show(el.stage, visible);
    show(el.timer, visible);
  }

  function showButtons(names) {
    ["retry", "start", "stop", "rerecord", "submit"].forEach(function (name) {
      show(el[name], names.indexOf(name) !== -1);
    });
  }

  function resetTimer() {
    el.elapsed.textContent = formatTime(0);
    el.remaining.textContent = formatTime(config.maxSeconds);
  }

  // --- camera -------------------------------------------------------------

  function preview() {
    hideError();
    showButtons(["start"]);
    el.start.disabled = true;
    setStatus("Waiting for your camera and microphone\u2026");
    return navigator.mediaDevices.getUserMedia(CONSTRAINTS).then(
      function (mediaStream) {
        stream = mediaStream;
        stream.getTracks().forEach(function (track) {
          track.addEventListener("ended", onTrackEnded);
        });
        el.preview.srcObject = stream;
        showCamera(true);
        showStage("preview");
        el.start.disabled = false;
        setStatus("Your camera is on. Press \u201cStart recording\u201d when you are ready.");
      },
      function (error) {
        stopCamera();
        showCamera(false);
        showButtons(["retry"]);
        setStatus("");
        showError(cameraHelp(error));
      }
    );
  }

  function cameraIsLive() {
    return !!stream && stream.getTracks().every(function (track) {
      return track.readyState === "live";
    });
  }

  function stopCamera() {
    if (stream) {
      stream.getTracks().forEach(function (track) {
        track.removeEventListener("ended", onTrackEnded);
        track.stop();
      });
    }
    stream = null;
    el.preview.srcObject = null;
  }

  function onTrackEnded() {
    if (submitted) return;
    var wasRecording = recorder && recorder.state !== "inactive";
    stop();
    stopCamera();
    if (wasRecording || take) {
      showError(MESSAGES.lostWithTake);
      return;
    }
    showError(MESSAGES.lost);
    showCamera(false);
    showButtons(["retry"]);
  }

  // --- recording ----------------------------------------------------------

  function start() {
    if (!cameraIsLive()) {
      preview();
      return;
    }
    hideError();
    discardTake();
    chunks = [];
    recordedBytes = 0;
    try {
      var options = Object.assign({}, BITRATES, mimeType ? { mimeType: mimeType } : {});
      recorder = new MediaRecorder(stream, options);
    } catch (error) {
      showError(MESSAGES.recorder);
      return;
    }
    recorder.addEventListener("dataavailable", onChunk);
    recorder.addEventListener("stop", onRecorderStop);
    recorder.addEventListener("error", function () {
      showError(MESSAGES.recorder);
      stop();
    });
    stopNote = "";
    recorder.start(TIMESLICE_MS);
    startedAt = performance.now();
    ticker = window.setInterval(tick, 250);
    resetTimer();
    el.timer.classList.add("running");
    show(el.badge, true);
    showButtons(["stop"]);
    el.stop.focus();
    setStatus("Recording. Press \u201cStop recording\u201d when you have finished.");
  }

  function onChunk(event) {
    if (!event.data || !event.data.size) return;
    chunks.push(event.data);
    recordedBytes += event.data.size;
    // Stop before the take grows past what the server will accept.
    if (recordedBytes >= config.maxBytes) {
      stopNote = "The recording reached the largest size we accept, so it stopped. ";
      stop();
    }
  }

  function tick() {
    var elapsed = Math.min((performance.now() - startedAt) / 1000, config.maxSeconds);
    el.elapsed.textContent = formatTime(elapsed);
    el.remaining.textContent = formatTime(Math.ceil(config.maxSeconds - elapsed));
    el.timer.classList.toggle("ending", config.maxSeconds - elapsed <= 10);
    if (elapsed >= config.maxSeconds) {
      stopNote = "Time is up, so the recording stopped. ";
      stop();
    }
  }

  function stop() {
    window.clearInterval(ticker);
    ticker = 0;
    el.timer.classList.remove("running", "ending");
    show(el.badge, false);
    if (recorder && recorder.state !== "inactive") {
      recorder.stop(); // onRecorderStop follows, after the last chunk
    }
  }

  function onRecorderStop() {
    var type = (recorder.mimeType || mimeType || "video/webm").split(";")[0];
    recorder = null;
    take = new Blob(chunks, { type: type });
    chunks = [];
    if (!take.size) {
      take = null;
      showError(MESSAGES.empty);
      showStage("preview");
      showButtons(cameraIsLive() ? ["start"] : ["retry"]);
      return;
    }
    takeUrl = URL.createObjectURL(take);
    el.playback.src = takeUrl;
    showStage("playback");
    showButtons(["rerecord", "submit"]);
    el.playback.focus();
    setStatus(stopNote + "Here is your take (" + el.elapsed.textContent + "). Watch it, then submit it or record again.");
  }

  // Chrome writes recorder WebM without a duration, so the player shows no
  // length and cannot seek until it has read to the end once: make it do so.
  function fixDuration() {
    var video = el.playback;
    if (video.duration !== Infinity) return;
    video.addEventListener("timeupdate", function rewind() {
      video.removeEventListener("timeupdate", rewind);
      video.currentTime = 0;
    });
    video.currentTime = 1e101;
  }

  function discardTake() {
    if (takeUrl) URL.revokeObjectURL(takeUrl);
    takeUrl = "";
    take = null;
    el.playback.removeAttribute("src");
    el.playback.load();
  }

  function rerecord() {
    hideError();
    discardTake();
    resetTimer();
    show(el.upload, false);
    if (!cameraIsLive()) {
      preview();
      return;
    }
    showStage("preview");
    showButtons(["start"]);
    el.start.disabled = false;
    el.start.focus();
    setStatus("Your camera is on. Press \u201cStart recording\u201d when you are ready.");
  }

  // --- upload -------------------------------------------------------------

  function filenameFor(blob) {
    return blob.type.indexOf("mp4") !== -1 ? "answer.mp4" : "answer.webm";
  }

  function setBusy(busy) {
    el.submit.disabled = busy;
    el.rerecord.disabled = busy;
  }

  function showProgress(fraction) {
    var percent = Math.round(fraction * 100);
    el.progress.value = percent;
    el.progress.textContent = percent + "%";
    el.percent.textContent = percent + "%";
  }

  function serverDetail(xhr) {
    try {
      var body = JSON.parse(xhr.responseText);
      if (body && typeof body.detail === "string" && body.detail) return body.detail;
    } catch (ignored) {
      // Not JSON (a proxy's error page, say): fall back to our own words.
    }
    return STATUS_MESSAGES[xhr.status] ||
      "Something went wrong on our side (error " + xhr.status + "). Please press \u201cSubmit\u201d again in a moment.";
  }

  function upload() {
    if (!take) return;
    if (take.size > config.maxBytes) {
      showError(STATUS_MESSAGES[413]);
      return;
    }
    hideError();
    setBusy(true);
    showProgress(0);
    show(el.upload, true);
    setStatus("Sending your answer. Please keep this page open.");

    var form = new FormData();
    form.append("file", take, filenameFor(take));
    var xhr = new XMLHttpRequest();
    xhr.open("POST", config.uploadUrl);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.addEventListener("progress", function (event) {
      if (event.lengthComputable) showProgress(event.loaded / event.total);
    });
    xhr.upload.addEventListener("load", function () {
      showProgress(1);
      setStatus("Sent. Saving your answer\u2026");
    });
    xhr.addEventListener("load", function () {
      onUploadAnswered(xhr);
    });
    xhr.addEventListener("error", function () {
      onUploadFailed(MESSAGES.network);
    });
    xhr.addEventListener("timeout", function () {
      onUploadFailed(MESSAGES.network);
    });
    xhr.send(form);
  }

  function onUploadAnswered(xhr) {
    // 409: an earlier attempt already got through (its answer was lost on the way back).
    if (xhr.status === 201 || xhr.status === 409) {
      finish();
      return;
    }
    if (xhr.status === 404 || xhr.status === 410) {
      // The link itself is no longer usable: retrying cannot help.
      stopCamera();
      show(el.upload, false);
      showButtons([]);
      setStatus("");
      showError(serverDetail(xhr));
      return;
    }
    onUploadFailed(serverDetail(xhr));
  }

  function onUploadFailed(message) {
    setBusy(false);
    show(el.upload, false);
    setStatus("");
    showError(message);
    el.submit.focus();
  }

  function finish() {
    submitted = true;
    stopCamera();
    setStatus("Done. Taking you to the confirmation page\u2026");
    window.location.assign(config.doneUrl);
  }

  // --- page ---------------------------------------------------------------

  function warnBeforeLeaving(event) {
    if (take && !submitted) {
      event.preventDefault();
      event.returnValue = "";
    }
  }

  function init() {
    var root = $("recorder");
    if (!root) return;
    ["nojs", "error", "preview", "playback", "timer", "elapsed", "remaining", "retry", "start", "stop",
      "rerecord", "submit", "upload", "progress", "percent", "status"].forEach(function (id) {
      el[id] = $(id);
    });
    el.badge = $("rec-badge");
    el.stage = root.querySelector(".stage");
    config = {
      uploadUrl: root.dataset.uploadUrl,
      doneUrl: root.dataset.doneUrl,
      maxSeconds: parseInt(root.dataset.maxSeconds, 10) || 120,
      maxBytes: parseInt(root.dataset.maxBytes, 10) || Infinity,
    };

    show(el.nojs, false);
    var problem = unsupportedReason();
    if (problem) {
      showError(problem);
      return;
    }
    mimeType = chooseMimeType();
    show(root, true);
    resetTimer();

    el.retry.addEventListener("click", preview);
    el.start.addEventListener("click", start);
    el.stop.addEventListener("click", stop);
    el.rerecord.addEventListener("click", rerecord);
    el.submit.addEventListener("click", upload);
    el.playback.addEventListener("loadedmetadata", fixDuration);
    window.addEventListener("beforeunload", warnBeforeLeaving);
    window.addEventListener("pagehide", stopCamera);
    preview();
  }

  init();
})();
