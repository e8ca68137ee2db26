/* The candidate's recording page (templates/invites/record.html).
 *
 * Check the camera and microphone (record-devices.js: preview, sound level,
 * choice of device), record a take after a 3-2-1 countdown, let the candidate
 * watch it and re-record (the server counts takes), then send it. Every
 * recorded second goes to IndexedDB as it is recorded (record-store.js), and
 * the upload is resumable (record-upload.js, tus), so neither a dropped
 * connection nor a reload loses the take. A phone's camera app or a video
 * file goes through the same upload. Server values arrive as data-* attributes
 * on #recorder; the page's text already explains itself for browsers that
 * never get this far.
 *
 * A take that was being sent when the page closed (a reload, a crash) carries
 * on by itself when the page opens again, from what the server already has;
 * one recorded but never submitted is only offered.
 *
 * An interview (the JSON in #interview-data) is a list of questions, one on
 * screen at a time: the device check, an optional practice question (played
 * back here, never sent), then each question with its thinking time, time limit
 * and takes. An accepted answer is sent in the background (its own upload,
 * kept in IndexedDB until the server has it) while the candidate goes on to the
 * next question; after the last, the page waits for what is left. A reload
 * carries on at the first question without an answer, and answers that were on
 * their way carry on by themselves. The default interview (one question, no
 * thinking time, no practice) looks as the single-answer page always did.
 *
 * For tests, `?chunk=BYTES` in the page's URL fixes the size of the upload's
 * PATCH requests (otherwise sized by the connection's speed).
 */
(function () {
  "use strict";

  // The first type the browser can record wins: MP4/H.264 plays everywhere
  // (Safari included), WebM is what Chrome and Firefox produce natively.
  var MIME_TYPES = [
    "video/mp4;codecs=avc1.42E01E,mp4a.40.2",
    "video/mp4;codecs=avc1,mp4a",
    "video/mp4;codecs=h264,aac",
    "video/webm;codecs=vp9,opus",
    "video/webm;codecs=vp8,opus",
    "video/webm",
    "video/mp4",
  ];
  // A chunk every second, each kept in IndexedDB at once: a crash loses at most a second.
  var TIMESLICE_MS = 1000;
  // Less than any second of real recording (tens of kilobytes): a recorder's header alone.
  var BROKEN_BYTES = 4096;
  var COUNTDOWN_SECONDS = 3;
  // A double click's second click this soon after the question changed was meant for the last one.
  var DOUBLE_CLICK_MS = 600;
  // A chosen file may be this much longer than the question's limit (the server's tolerance).
  var FILE_TOLERANCE_SECONDS = 1;
  // The take's checks: how often they sample, and when a take counts as silent or dark.
  var CHECK_MS = 250;
  var SILENT_PEAK = 0.03; // loudest moment of ~0.7 s below this: silence
  var DARK_LUMA = 24; // mean brightness (0-255) below this: dark
  var FLAT_LUMA = 4; // spread of brightness below this: covered (one even colour)
  var WARN_SHARE = 0.9;
  // About 19 MB a minute: sharp enough for a face, quick to upload.
  var BITRATES = { videoBitsPerSecond: 2500000, audioBitsPerSecond: 128000 };

  var BROWSERS = "a recent Chrome, Edge, Firefox or Safari";
  var NOT_A_VIDEO = "That file isn\u2019t a video. Please choose a video file; this one didn\u2019t count as a take.";
  var FILE_INSTEAD = " You can also send a video file instead (below).";
  var MESSAGES = {
    insecure:
      "Your browser allows the camera only on secure pages. Open the link exactly as you " +
      "received it (it starts with https://).",
    noMediaDevices: "This browser can\u2019t use a camera on this page. Please open the link in " + BROWSERS + ".",
    noRecorder: "This browser can\u2019t record video. Please open the link in " + BROWSERS + ".",
    noUpload: "This browser can\u2019t send a recording. Please open the link in " + BROWSERS + ".",
    lostWithTake:
      "Your camera or microphone stopped working. What you recorded is kept: you can watch and " +
      "submit it, or reconnect the camera and press \u201cRe-record\u201d.",
    recorder: "Recording failed in this browser. Reload the page and try again, or use " + BROWSERS + ".",
    broken:
      "Your browser\u2019s recording came out broken (it can\u2019t play it back), so there is nothing to " +
      "send, and this take doesn\u2019t count. Some browsers can\u2019t record here: record your answer with " +
      "your camera app or choose a video file (below), or try recording again.",
    empty:
      "Your browser recorded nothing, so there is nothing to send, and this take doesn\u2019t count. " +
      "Some browsers can\u2019t record here: record your answer with your camera app or choose a video " +
      "file (below), or try recording again.",
    takeOffline:
      "We couldn\u2019t reach aurio to start a new take. Check your internet connection and try again.",
    lastTakeKept: " You can still submit the take you have.",
    offline:
      "You are offline. Sending carries on by itself, from where it stopped, as soon as you are back online.",
    reconnecting: "The connection is having trouble. We keep trying, and carry on from where it stopped.",
    keptHere: " Your recording is kept safe on this device.",
    keepOpen: " Please keep this page open.",
    wasSending: "Your answer was being sent when the page closed.",
    checkingArrived: " Checking how much of it arrived\u2026",
    arrivedNone: " None of it had arrived yet; sending it now\u2026",
    arrivedAll: " All of it had arrived; saving it\u2026",
    wasSent: "Your answer had arrived in full when the page closed. Saving it now\u2026",
    startAgain: "What had arrived is no longer on our server, so sending starts again from the beginning\u2026",
    unreadable: "Your browser couldn\u2019t read this recording to send it. Please record it again.",
    answeredElsewhere:
      "This question has already been answered with this link (in another tab or on another device). " +
      "Going on to the next one\u2026",
  };
  var STATUS_MESSAGES = {
    400: "The recording was empty. Please record again.",
    404: "We couldn\u2019t find this link. Ask the person who invited you for a new one.",
    409: "An answer was already submitted through this link.",
    410: "This link has expired or was withdrawn. Ask the person who invited you for a new one.",
    413: "This recording is too large to send. Please record a shorter answer.",
    415: "This file isn\u2019t a video we can accept.",
    422: "We couldn\u2019t read this recording, or it is too long.",
  };

  var el = {};
  var config = {};
  var mimeType = "";
  var canRecord = false;
  var store = null; // aurio.takeStore, or null where IndexedDB is unusable
  var phase = "";
  var devices = null; // aurio.deviceCheck: the camera and microphone
  var recorder = null;
  var chunks = [];
  var recordedBytes = 0;
  var chunkSeq = 0;
  var saving = Promise.resolve(); // this take's IndexedDB writes, in order
  var take = null; // the Blob or File under review
  var takeInfo = null; // {id, key, number, source: "camera" | "file" | "earlier", filename, stored, uploadUrl, refused}
  var takeUrl = "";
  var startedAt = 0;
  var ticker = 0;
  var stopNote = "";
  var busy = false; // a take is being requested or counted down
  var submitted = false;
  var takesUsed = 0;
  var maxTakes = 0;
  var takesRefused = false; // the server said no more takes
  var unspentTake = 0; // a take the server counted that recorded nothing: the next one is it
  var revealing = false; // asking the server for a held-back question's text

  var questions = []; // the interview's questions in order, practice included
  var question = null; // the one on screen
  var isInterview = false; // more than the default interview's one plain question
  var practiceOver = false;
  var jobs = []; // answers on their way: {question, info, blob, sender, sent, total, done, refused}
  var thinking = { timer: 0, endsAt: 0, announced: -1 };
  var announcedLeft = -1; // the time left last announced while recording
  var checks = null; // the take's samples: {timer, sound, silent, pictures, dark}
  var questionShownAt = 0; // performance.now() when the question on screen last changed

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

  function formatBytes(bytes) {
    if (bytes < 1e6) return Math.round(bytes / 1e3) + " KB";
    return (bytes / 1e6).toFixed(1) + " MB";
  }

  function formatSecondsLeft(seconds) {
    if (seconds < 5) return "a few seconds left";
    if (seconds < 60) return "about " + Math.round(seconds / 5) * 5 + " seconds left";
    var minutes = Math.round(seconds / 60);
    return "about " + minutes + " minute" + (minutes === 1 ? "" : "s") + " left";
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

  // Where record-upload.js keeps a take's unfinished upload (localStorage).
  function fingerprintOf(takeId) {
    return window.aurio.takeUpload.fingerprintFor(config.token, takeId);
  }

  function newTakeId() {
    var random = new Uint32Array(2);
    window.crypto.getRandomValues(random);
    return Date.now().toString(36) + "-" + random[0].toString(36) + random[1].toString(36);
  }

  // record-upload.js keeps it within the PATCH sizes the server accepts.
  function chunkSizeFromUrl() {
    return parseInt(new URLSearchParams(window.location.search).get("chunk"), 10) || null;
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

  // --- what the page shows in each phase ------------------------------------------
  //
  // check: live preview and device check; countdown; recording; review: watch the take;
  // earlier: a take from an earlier visit; sending; denied: no camera (help shown);
  // unavailable: this browser cannot record here (file only); gone: the link is unusable.

  function setPhase(next) {
    phase = next;
    if (next !== "thinking") stopThinking();
    var live = ["check", "thinking", "countdown", "recording"].indexOf(next) !== -1;
    var watching = ["review", "earlier", "sending"].indexOf(next) !== -1 && !!el.playback.getAttribute("src");
    var cameraTake = !!takeInfo && takeInfo.source !== "file";
    show(el.recorder, next !== "unavailable" && next !== "gone");
    show(el.stage, live || (watching && !el.playback.classList.contains("unplayable")));
    show(el.preview, live);
    show(el.playback, watching);
    show(el.devices, live);
    devices.allowChoice(next === "check");
    show(el.timer, next === "countdown" || next === "recording" || (watching && cameraTake));
    show(el.timeLeft, live);
    show(el.earlier, next === "earlier");
    show(el.thinking, next === "thinking");
    show(el.alternative, ["check", "review", "earlier", "denied", "unavailable"].indexOf(next) !== -1 &&
      !(question && question.practice));
    show(el.question, !!question && next !== "sending" && next !== "gone" && (isInterview || !!question.text));
    if (next !== "review") showWarning("");
    if (next !== "sending") show(el.upload, false);
    renderPending();
    el.file.disabled = busy;
    updateTakeLabel();
    updateButtons();
  }

  function updateButtons() {
    var review = phase === "review";
    var refused = !!takeInfo && takeInfo.refused;
    var practice = !!question && question.practice;
    show(el.retry, phase === "denied");
    show(el.start, phase === "check");
    show(el.startNow, phase === "thinking");
    // Until the server has sent the question there is nothing to start on.
    el.startNow.disabled = revealing;
    show(el.stop, phase === "recording");
    show(el.submit, (review && !refused) || phase === "earlier" || (phase === "sending" && !isInterview));
    show(el.rerecord, review && canRecord && !takesRefused);
    // With no take left for the question, the earlier take is the candidate's last: not to discard.
    show(el.discard, phase === "earlier" && !outOfTakes());
    show(el.skipPractice, practice && ["check", "review", "denied"].indexOf(phase) !== -1);
    el.start.textContent = startLabel();
    el.submit.textContent = practice ? "Start the interview" : isLastQuestion() ? "Submit" : "Next question";
    el.rerecord.textContent = takeInfo && takeInfo.source === "file" ? "Record with the camera instead" :
      warningShown() ? "Record again" : "Re-record";
    el.rerecord.classList.toggle("primary", warningShown());
    el.start.disabled = busy || !devices.isLive() || takesRefused;
    el.rerecord.disabled = busy;
    el.submit.disabled = busy || phase === "sending";
    el.discard.disabled = busy;
  }

  function outOfTakes() {
    return maxTakes > 0 && takesUsed - (unspentTake ? 1 : 0) >= maxTakes;
  }

  function updateTakeLabel() {
    el.takeLabel.textContent = takeInfo && takeInfo.number && maxTakes ?
      "Take " + takeInfo.number + " of " + maxTakes : "";
  }

  function takesNote() {
    if (!maxTakes || (question && question.practice)) return "";
    if (outOfTakes()) return maxTakes === 1 ? " You have used your one take." : " You have used all " + maxTakes + " takes.";
    if (!takesUsed) return " You can record up to " + maxTakes + " take" + (maxTakes === 1 ? "" : "s") + ".";
    var left = maxTakes - takesUsed + (unspentTake ? 1 : 0);
    if (maxTakes === 1) return " You have your one take left.";
    return " You have " + left + " of " + maxTakes + " takes left.";
  }

  function resetTimer() {
    el.elapsed.textContent = formatTime(0);
    el.remaining.textContent = formatTime(config.maxSeconds);
  }

  // --- camera and microphone (record-devices.js) --------------------------------------

  // Resolves true when the camera is on.
  function preview() {
    devices.stop();
    if (!take) hideError();
    setStatus("Waiting for your camera and microphone\u2026");
    if (phase !== "review") setPhase("check");
    updateButtons();
    return devices.start(cameraStillWanted).then(
      function (started) {
        if (!started || !cameraStillWanted()) return false;
        if (phase !== "review") {
          setPhase("check");
          setStatus(readyNote());
        }
        updateButtons();
        return true;
      },
      function (error) {
        if (!cameraStillWanted()) return false;
        var help = window.aurio.deviceCheck.helpFor(error);
        if (take) {
          // Keep the take on screen: it can still be submitted.
          setPhase("review");
          showError(help);
        } else {
          setPhase("denied");
          setStatus("");
          showError(help + FILE_INSTEAD);
        }
        return false;
      }
    );
  }

  // Once the answer is being sent, a camera that arrives late is let go at once (a
  // Re-record that was waiting for it must not replace the take on its way).
  function cameraStillWanted() {
    return !submitted && phase !== "sending";
  }

  function onTrackEnded() {
    if (submitted) return;
    var wasRecording = phase === "recording";
    stop();
    devices.stop();
    if (phase === "countdown") {
      if (takeInfo) setUnspentTake(takeInfo.number); // counted, never recorded with
      takeInfo = null;
    }
    if (wasRecording || take) {
      showError(MESSAGES.lostWithTake);
      updateButtons();
      return;
    }
    setPhase("denied");
    showError(window.aurio.deviceCheck.LOST);
  }

  // --- takes: the server counts them ------------------------------------------------

  function requestTake() {
    if (question && question.practice) {
      // Practice takes are the page's own: the server neither counts nor sees them.
      return Promise.resolve({ status: 201, body: { take: takesUsed + 1, maxTakes: 0 } });
    }
    if (unspentTake && storedUnspentTake() === unspentTake) {
      // Still kept (in storage too) until this take records something, so a reload in
      // the countdown, or a recorder that fails to start, doesn't lose it.
      var number = unspentTake;
      unspentTake = 0;
      return Promise.resolve({ status: 201, body: { take: number, maxTakes: maxTakes } });
    }
    unspentTake = 0; // another tab of this browser has used it
    return fetch(config.takesUrl, { method: "POST", headers: { Accept: "application/json" } }).then(
      function (response) {
        return response.text().then(function (text) {
          var body = {};
          try {
            body = JSON.parse(text);
          } catch (ignored) {
            // An error page instead of JSON: the status says enough.
          }
          return { status: response.status, body: body };
        });
      }
    );
  }

  // A take that recorded nothing is remembered in this browser (a reload keeps it), and
  // only while it is still the server's latest: a take counted since, on another device
  // say, makes it spent after all.
  function unspentKey(questionId) {
    var id = arguments.length ? questionId : question && question.id;
    return "aurio-unspent-take:" + config.token + (id ? ":" + id : "");
  }

  // The take `info` has something kept: it is spent (unless the question moved on to another).
  function takeRecorded(info) {
    if (!info || info.practice || info.unspentCleared) return;
    info.unspentCleared = true;
    if (question && (question.id || null) === (info.questionId || null)) {
      if (unspentTake === info.number) unspentTake = 0;
    }
    try {
      var key = unspentKey(info.questionId || null);
      if (parseInt(window.localStorage.getItem(key), 10) === info.number) window.localStorage.removeItem(key);
    } catch (ignored) {
      // No storage: nothing was remembered.
    }
  }

  function setUnspentTake(number) {
    unspentTake = number;
    try {
      if (number) window.localStorage.setItem(unspentKey(), String(number));
      else window.localStorage.removeItem(unspentKey());
    } catch (ignored) {
      // Storage refused (private mode, full): the take is given back for this visit only.
    }
  }

  function storedUnspentTake() {
    try {
      return parseInt(window.localStorage.getItem(unspentKey()), 10) || 0;
    } catch (ignored) {
      return unspentTake; // no storage: this visit's word is all there is
    }
  }

  function restoreUnspentTake() {
    var kept = storedUnspentTake();
    if (kept && kept === takesUsed) unspentTake = kept;
    else if (kept) setUnspentTake(0);
  }

  function setBusy(value) {
    busy = value;
    el.file.disabled = value;
    updateButtons();
  }

  // Answers other than 201 from the takes endpoint; false when it refused.
  function takeGranted(answer) {
    if (answer.status === 201) {
      takesUsed = answer.body.take || takesUsed + 1;
      maxTakes = answer.body.maxTakes || maxTakes;
      if (question && !question.practice) question.takesUsed = takesUsed;
      if (heldBack(question)) {
        // A take (a file chosen before "Show the question") shows the question too.
        var shownFor = question;
        revealQuestion(shownFor).then(function (shown) {
          if (shown && question === shownFor) {
            shownFor.revealed = true;
            renderQuestion();
          }
        });
      }
      return true;
    }
    var detail = answer.body && answer.body.detail;
    if (answer.status === 403) {
      takesRefused = true;
      takesUsed = Math.max(takesUsed, maxTakes);
      showError((detail || "You have used all your takes.") + (take ? MESSAGES.lastTakeKept : ""));
      if (phase === "check") setStatus("");
      updateButtons();
    } else if (answer.status === 409) {
      answeredElsewhere(question);
    } else if (answer.status === 404 || answer.status === 410) {
      gone(detail || STATUS_MESSAGES[answer.status]);
    } else {
      showError(detail || MESSAGES.takeOffline);
    }
    return false;
  }

  /* The server says question `q` already has its answer: sent from another tab or device
   * with this link. Not a dead link: learn from the server which questions are answered
   * and go on to the next one left (answers on their way from this tab carry on). */
  function answeredElsewhere(q) {
    if (!q) return;
    setStatus(MESSAGES.answeredElsewhere);
    fetch(config.inviteUrl, { headers: { Accept: "application/json" } })
      .then(function (response) {
        if (response.status === 404 || response.status === 410) {
          return response.json().catch(function () { return {}; }).then(function (body) {
            gone((body && body.detail) || STATUS_MESSAGES[response.status]);
            return null;
          });
        }
        return response.ok ? response.json() : {};
      })
      .catch(function () {
        return {};
      })
      .then(function (state) {
        if (state === null) return; // the link itself is gone
        updateFromServer(state);
        q.answered = true; // the server's 409 says so, whatever the state could tell
        realQuestions().forEach(function (each) {
          if (each.answered) forgetThinking(each);
        });
        if (question !== q || busy || phase === "recording" || phase === "countdown") return;
        dropTake();
        nextQuestion();
      });
  }

  // What GET /invites/{token} says of each question: answered, takes counted.
  function updateFromServer(state) {
    var byId = {};
    ((state && state.questions) || []).forEach(function (data) {
      byId[data.id] = data;
    });
    var submitted = state && state.status === "submitted";
    realQuestions().forEach(function (q) {
      var data = q.id ? byId[q.id] : null;
      if (submitted || (data && data.answered)) q.answered = true;
      if (data && typeof data.takesUsed === "number") q.takesUsed = Math.max(q.takesUsed || 0, data.takesUsed);
      if (data && data.revealed && data.text) learnQuestion(q, data);
    });
  }

  /* The server keeps back the text (and video) of a question with thinking time until the
   * candidate asks to see it (POST …/reveal), and runs its thinking time from that first
   * time: a reload, or another device, gets only what is left (`thinkingSecondsLeft`). */
  function learnQuestion(q, data) {
    q.text = data.text || "";
    q.questionVideoUrl = data.questionVideoUrl || "";
    q.serverRevealed = true;
    if (q.thinkingSeconds > 0 && typeof data.thinkingSecondsLeft === "number") {
      rememberThinking(q, Date.now() + data.thinkingSecondsLeft * 1000);
    }
  }

  function heldBack(q) {
    return !!q && !q.practice && q.thinkingSeconds > 0 && !q.serverRevealed && !!q.id && !!config.questionTakesUrl;
  }

  // Ask the server for the question's text: it starts the thinking time, once.
  function revealQuestion(q) {
    var url = config.questionTakesUrl.replace(config.someQuestion, q.id).replace(/\/takes$/, "/reveal");
    return fetch(url, { method: "POST", headers: { Accept: "application/json" } }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (body) {
        if (response.ok) {
          learnQuestion(q, body);
          return true;
        }
        if (response.status === 409) answeredElsewhere(q);
        else if (response.status === 404 || response.status === 410) gone(body.detail || STATUS_MESSAGES[response.status]);
        else showError(body.detail || MESSAGES.takeOffline);
        return false;
      });
    }, function () {
      showError(MESSAGES.takeOffline);
      return false;
    });
  }

  /* Start and Re-record: ask the server for a take, count down, record. `immediate`: the
   * question's thinking time is up, so recording starts without the 3-2-1. A question
   * with thinking time shows its text and starts that countdown first. */
  function startTake(immediate) {
    if (busy || phase === "sending" || submitted) return;
    leaveWelcome();
    if (needsThinking()) {
      startThinking();
      return;
    }
    if (!devices.isLive()) {
      preview().then(function (live) {
        if (live) startTake(immediate);
      });
      return;
    }
    hideError();
    setBusy(true);
    setStatus("Getting ready\u2026");
    requestTake().then(
      function (answer) {
        setBusy(false);
        if (takeGranted(answer)) beginTake(immediate);
        else if (phase === "check" || phase === "thinking") {
          setPhase("check");
          setStatus(takesNote().trim());
        }
      },
      function () {
        setBusy(false);
        if (phase === "check" || phase === "thinking") {
          setPhase("check");
          setStatus("");
        }
        showError(MESSAGES.takeOffline);
      }
    );
  }

  function beginTake(immediate) {
    dropTake();
    var id = newTakeId();
    takeInfo = {
      id: id,
      key: window.aurio.takeStore.keyFor(config.token, id),
      number: takesUsed,
      source: "camera",
      stored: false,
      questionId: question && question.id,
      practice: !!(question && question.practice),
    };
    if (question && question.practice) question.localTakes = takesUsed;
    // Counted, nothing recorded yet: a reload in the countdown (or before the recorder's
    // first chunk is kept) gives this take back. The first chunk kept spends it.
    else setUnspentTake(takesUsed);
    resetTimer();
    setPhase("countdown");
    setStatus("Get ready\u2026");
    countdown(immediate ? 0 : COUNTDOWN_SECONDS);
  }

  function countdown(seconds) {
    if (phase !== "countdown") return; // the camera went away meanwhile
    if (seconds === 0) {
      show(el.countdown, false);
      startRecording();
      return;
    }
    el.countdownNumber.textContent = String(seconds);
    show(el.countdown, true);
    // Restart the CSS animation for each number.
    el.countdown.classList.remove("tick");
    void el.countdown.offsetWidth;
    el.countdown.classList.add("tick");
    window.setTimeout(function () {
      countdown(seconds - 1);
    }, 1000);
  }

  // --- recording ----------------------------------------------------------

  function startRecording() {
    chunks = [];
    recordedBytes = 0;
    chunkSeq = 0;
    try {
      var options = Object.assign({}, BITRATES, mimeType ? { mimeType: mimeType } : {});
      recorder = new MediaRecorder(devices.stream(), options);
    } catch (error) {
      setUnspentTake(takeInfo ? takeInfo.number : 0); // nothing was recorded with it
      setPhase("check");
      showError(MESSAGES.recorder);
      return;
    }
    recorder.addEventListener("dataavailable", onChunk);
    recorder.addEventListener("stop", onRecorderStop);
    recorder.addEventListener("error", function () {
      showError(MESSAGES.recorder);
      stop();
    });
    keepTake(takeInfo, (recorder.mimeType || mimeType || "video/webm").split(";")[0]);
    stopNote = "";
    recorder.start(TIMESLICE_MS);
    startedAt = performance.now();
    ticker = window.setInterval(tick, 250);
    el.timer.classList.add("running");
    show(el.badge, true);
    setPhase("recording");
    startChecks();
    announcedLeft = -1;
    el.stop.focus();
    setStatus("Recording. Press \u201cStop recording\u201d when you have finished.");
  }

  // Start keeping this take in IndexedDB; the chunks follow as they are recorded.
  function keepTake(info, type) {
    if (!store || info.practice) return; // a practice take is never kept, nor sent
    info.mimeType = type;
    saving = store
      .createTake({
        key: info.key,
        token: config.token,
        id: info.id,
        number: info.number,
        questionId: info.questionId || null,
        mimeType: type,
        createdAt: Date.now(),
        state: "recording",
      })
      .then(function () {
        info.stored = true;
      })
      .catch(function (error) {
        storeFailed(info, error);
      });
  }

  // Note `changes` on the kept take, after the writes already under way for it.
  function updateKept(info, changes) {
    if (!store || !info) return;
    saving = saving.then(function () {
      if (!info.stored) return undefined;
      return store.updateTake(info.key, changes).catch(function () {});
    });
  }

  // A gap would make the kept copy unusable: keep none rather than a broken one.
  function storeFailed(info, error) {
    if (info.storeBroken) return;
    info.storeBroken = true;
    info.stored = false;
    if (window.console) window.console.warn("Keeping the take in this browser failed:", error);
    store.deleteTake(info.key).catch(function () {});
  }

  function toArrayBuffer(blob) {
    if (typeof blob.arrayBuffer === "function") return blob.arrayBuffer();
    return new Promise(function (resolve, reject) {
      var reader = new FileReader();
      reader.onload = function () {
        resolve(reader.result);
      };
      reader.onerror = function () {
        reject(reader.error);
      };
      reader.readAsArrayBuffer(blob);
    });
  }

  function onChunk(event) {
    // Safari can hand over empty chunks: they carry nothing to keep.
    if (!event.data || !event.data.size) return;
    var data = event.data;
    var info = takeInfo;
    var seq = chunkSeq++;
    chunks.push(data);
    recordedBytes += data.size;
    if (store && info) {
      saving = saving.then(function () {
        if (info.storeBroken || !info.stored) return undefined;
        return toArrayBuffer(data)
          .then(function (bytes) {
            return store.addChunk(info.key, seq, bytes);
          })
          .then(function () {
            takeRecorded(info);
          })
          .catch(function (error) {
            storeFailed(info, error);
          });
      });
    } else if (!store) {
      takeRecorded(info); // nothing is kept in this browser: the recording itself spends it
    }
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
    var left = Math.ceil(config.maxSeconds - elapsed);
    if (left !== announcedLeft && shouldAnnounce(left, config.maxSeconds)) {
      announcedLeft = left;
      announce(left === config.maxSeconds ? "Recording. " + spokenTime(left) + " left." : spokenTime(left) + " left.",
        left <= 5 && left !== config.maxSeconds);
    }
    if (elapsed >= config.maxSeconds) {
      stopNote = "Time is up, so the recording stopped. ";
      stop();
    }
  }

  function stop() {
    stopChecks();
    window.clearInterval(ticker);
    ticker = 0;
    el.timer.classList.remove("running", "ending");
    show(el.badge, false);
    show(el.countdown, false);
    if (recorder && recorder.state !== "inactive") {
      recorder.stop(); // onRecorderStop follows, after the last chunk
    }
  }

  function onRecorderStop() {
    var type = (recorder.mimeType || mimeType || "video/webm").split(";")[0];
    var info = takeInfo;
    var seconds = Math.round((performance.now() - startedAt) / 1000);
    recorder = null;
    take = new Blob(chunks, { type: type });
    chunks = [];
    devices.stopLevel();
    if (!take.size) {
      // Never send nothing. (WebKit without GStreamer's isofmp4mux hands over an empty MP4.)
      recordedNothing(info, MESSAGES.empty);
      return;
    }
    setUnspentTake(0); // this take recorded something: it is spent
    updateKept(info, { state: "recorded", size: take.size, seconds: seconds });
    showTake(take);
    setPhase("review");
    showWarning(info && info.source === "camera" ? takeWarning() : "");
    el.playback.focus();
    setStatus(
      stopNote + "Here is your take (" + el.elapsed.textContent + "). " + (question && question.practice ?
        "Watch it, then try again or start the interview." : isInterview ?
        "Watch it, then " + (isLastQuestion() ? "submit it" : "go on to the next question") + " or record again." :
        "Watch it, then submit it or record again.") +
      (outOfTakes() ? " This was your last take." : "")
    );
  }

  // The take the server counted for a recording that came out empty or broken is used by
  // the next one, and the file picker is the way out when this browser can't record at all.
  function recordedNothing(info, message) {
    dropTake();
    setUnspentTake(info ? info.number : 0);
    showError(message);
    setPhase(devices.isLive() ? "check" : "denied");
    setStatus(takesNote().trim());
    el.file.focus();
  }

  function isBrokenRecording() {
    var error = el.playback.error;
    return !!takeInfo && takeInfo.source === "camera" && !takeInfo.sent && phase === "review" &&
      take.size < BROKEN_BYTES && el.playback.readyState === HTMLMediaElement.HAVE_NOTHING &&
      !!error && (error.code === MediaError.MEDIA_ERR_SRC_NOT_SUPPORTED ||
        error.code === MediaError.MEDIA_ERR_DECODE);
  }

  function showTake(blob) {
    if (takeUrl) URL.revokeObjectURL(takeUrl);
    takeUrl = URL.createObjectURL(blob);
    el.playback.classList.remove("unplayable");
    el.playback.src = takeUrl;
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

  // A picked file this browser cannot play (HEVC in Chrome, say) can still be sent, and so
  // can a recording: a player's failure is not the file's. Only a recording of a few bytes
  // that its own browser can't even open, never sent, is taken for nothing recorded.
  function onPlaybackError() {
    if (!take || !el.playback.getAttribute("src")) return;
    if (isBrokenRecording()) {
      recordedNothing(takeInfo, MESSAGES.broken);
      return;
    }
    el.playback.classList.add("unplayable");
    setPhase(phase);
    if (takeInfo && takeInfo.source === "file") {
      setStatus(el.status.textContent + " This browser can\u2019t play the file, but you can still send it.");
    }
  }

  // Let go of the current take: on screen, in IndexedDB, and its unfinished upload.
  function dropTake() {
    var info = takeInfo;
    if (info && !info.sent) {
      window.aurio.takeUpload.forget(fingerprintOf(info.id));
      if (store && info.key) {
        var key = info.key;
        saving = saving.then(function () {
          return store.deleteTake(key).catch(function () {});
        });
      }
    }
    if (takeUrl) URL.revokeObjectURL(takeUrl);
    takeUrl = "";
    take = null;
    takeInfo = null;
    el.playback.removeAttribute("src");
    el.playback.classList.remove("unplayable");
    el.playback.load();
  }

  // No longer the take under review, though not out of the browser: it is on its way as an
  // answer. `onScreen`: it stays in the player (the last answer, while the page waits for it).
  function releaseTake(onScreen) {
    take = null;
    takeInfo = null;
    if (onScreen) return;
    if (takeUrl) URL.revokeObjectURL(takeUrl);
    takeUrl = "";
    el.playback.removeAttribute("src");
    el.playback.classList.remove("unplayable");
    el.playback.load();
  }

  // --- a take kept from an earlier visit --------------------------------------------------

  // The question a kept take answers (a take kept by an older page: the first question left).
  function questionOf(info) {
    if (!info.questionId) return questionsLeft()[0] || null;
    return questions.filter(function (q) { return q.id === info.questionId; })[0] || null;
  }

  /* The newest kept take with something in it for each question still without an answer;
   * older and empty ones, and those of answered questions, are cleared away. */
  function findKeptTakes() {
    return store.takesFor(config.token).then(function (kept) {
      var found = [];
      var seen = [];
      return kept
        .reduce(function (done, info) {
          return done.then(function () {
            var q = questionOf(info);
            if (!q || q.answered || q.practice || seen.indexOf(q) !== -1) return forgetKept(info);
            return store.readTake(info).then(function (blob) {
              if (!blob.size) return forgetKept(info);
              seen.push(q);
              found.push({ info: info, blob: blob, question: q });
              return undefined;
            });
          });
        }, Promise.resolve())
        .then(function () {
          return found;
        });
    });
  }

  function forgetKept(info) {
    window.aurio.takeUpload.forget(fingerprintOf(info.id));
    return store.deleteTake(info.key).catch(function () {});
  }

  /* How far a kept take had got towards the server when the page closed: "" (never
   * submitted, or refused and left for the candidate to submit again), "asked" (Submit
   * was pressed, no upload made yet), "started" (an upload holds some of it: the
   * fingerprint in localStorage), or "sent" (all of it arrived; only "finish" was left). */
  function howFarSent(info) {
    if (info.sending === false) return Promise.resolve("");
    if (info.uploadUrl) return Promise.resolve("sent");
    var fingerprint = fingerprintOf(info.id);
    return window.aurio.takeUpload.hasPrevious(fingerprint).then(function (started) {
      if (started) return "started";
      return info.sending ? "asked" : "";
    });
  }

  function keepEarlierTake(earlier) {
    var info = earlier.info;
    take = earlier.blob;
    takeInfo = earlierInfo(info);
    el.elapsed.textContent = formatTime(info.seconds || 0);
    el.remaining.textContent = formatTime(config.maxSeconds - (info.seconds || 0));
    showTake(take);
  }

  function earlierInfo(info) {
    return {
      id: info.id,
      key: info.key,
      number: info.number,
      source: "earlier",
      stored: true,
      mimeType: info.mimeType,
      uploadUrl: info.uploadUrl || null,
      questionId: info.questionId || null,
    };
  }

  // Recorded, not submitted: the candidate decides whether to send it.
  function offerEarlierTake(earlier) {
    var info = earlier.info;
    keepEarlierTake(earlier);
    var when = new Date(info.createdAt);
    var parts = ["It was recorded on " + when.toLocaleDateString(undefined, { day: "numeric", month: "long" }) +
      " at " + when.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" })];
    if (info.seconds) parts.push("and is " + formatTime(info.seconds) + " long");
    else if (info.state !== "recorded") parts.push("(the recording was interrupted)");
    el.earlierInfo.textContent = parts.join(" ") + ".";
    el.earlierChoice.textContent = outOfTakes() ?
      "This is your last take for this question: send it, or keep it." :
      "Submit it, or discard it and record a new one.";
    setPhase("earlier");
    setStatus("");
  }

  // Sent, and the page closed while it was on its way: carry on, as it would have.
  function resumeEarlierTake(earlier, howFar) {
    sendAnswer(earlier.question, earlier.blob, earlierInfo(earlier.info), howFar);
  }

  function discardEarlierTake() {
    if (busy || phase !== "earlier" || outOfTakes()) return;
    dropTake();
    setStatus("");
    if (canRecord) preview();
    else setPhase("unavailable");
  }

  // --- a video file (a phone's camera app, or a file on a computer) -----------------------

  function onFileChosen() {
    var file = el.file.files && el.file.files[0];
    el.file.value = ""; // so choosing the same file again fires `change` again
    if (!file || busy || phase === "sending" || phase === "recording" || phase === "countdown") return;
    hideError();
    if (!file.size) {
      showError("That file is empty. Please choose another video.");
      return;
    }
    if (file.size > config.maxBytes) {
      showError("That file is " + formatBytes(file.size) + "; the largest we accept is " +
        formatBytes(config.maxBytes) + ". Please choose a shorter video.");
      return;
    }
    // The same file as before (after a reload, say) continues its own take and upload.
    var id = "file-" + (question && question.id ? question.id + "-" : "") + file.size + "-" + file.lastModified +
      "-" + file.name;
    if (take && takeInfo && takeInfo.source === "file" && takeInfo.id === id) {
      return; // the file under review, chosen again: still the same take, as it was
    }
    // Not a video by its type: refused here, before it costs a take. (A video the browser
    // can't play may still be one the server accepts; that is the server's word.)
    if (file.type && file.type.indexOf("video/") !== 0) {
      showError(NOT_A_VIDEO);
      el.file.focus();
      return;
    }
    var fingerprint = fingerprintOf(id);
    var limit = config.maxSeconds;
    setBusy(true);
    fileDuration(file)
      .then(function (seconds) {
        // No type, and this browser can't open it as a video either: not a video.
        if (seconds === undefined && !file.type) throw { notVideo: true };
        // Longer than the question allows: refused here, before it costs a take.
        if (seconds && seconds > limit + FILE_TOLERANCE_SECONDS) {
          throw { tooLong: seconds };
        }
        return window.aurio.takeUpload.hasPrevious(fingerprint);
      })
      .then(function (resuming) {
        return resuming ? { status: 201, resumed: true, body: {} } : requestTake();
      })
      .then(
        function (answer) {
          setBusy(false);
          if (answer.resumed) useFile(file, id, true);
          else if (takeGranted(answer)) useFile(file, id, false);
        },
        function (error) {
          setBusy(false);
          if (error && error.notVideo) {
            showError(NOT_A_VIDEO);
            el.file.focus();
            return;
          }
          if (error && error.tooLong) {
            showError("That video is " + formatTime(error.tooLong) + " long; the longest answer to this question is " +
              formatTime(limit) + ". Please choose a shorter video.");
            el.file.focus();
            return;
          }
          showError(MESSAGES.takeOffline);
        }
      );
  }

  function useFile(file, id, resumed) {
    if (!resumed) setUnspentTake(0); // the file is this take
    if (!takeInfo || takeInfo.id !== id) dropTake();
    // The camera is not needed to watch or send a file.
    devices.stop();
    take = file;
    takeInfo = { id: id, number: resumed ? 0 : takesUsed, source: "file", filename: file.name, stored: false,
      questionId: question && question.id };
    showTake(file);
    setPhase("review");
    setStatus(
      "You chose \u201c" + file.name + "\u201d (" + formatBytes(file.size) + "). Watch it if you like, then press " +
      "\u201c" + el.submit.textContent + "\u201d." + (resumed ? " Sending continues from where it stopped." : "")
    );
  }

  // --- sending --------------------------------------------------------------------

  function filenameFor(blob, info) {
    if (info.filename) return info.filename;
    return blob.type.indexOf("mp4") !== -1 ? "answer.mp4" : "answer.webm";
  }

  // The answers on their way (and, once the last question is behind, the progress bar).
  function inFlight() {
    return jobs.filter(function (job) {
      return !job.done && !job.refused;
    });
  }

  function jobFor(q) {
    return inFlight().filter(function (job) {
      return job.question === q;
    })[0] || null;
  }

  function showProgress() {
    var sending = inFlight();
    var sent = 0;
    var total = 0;
    var speed = 0;
    sending.forEach(function (job) {
      sent += job.sent;
      total += job.total;
      speed += job.bytesPerSecond || 0;
    });
    var fraction = total ? sent / total : 0;
    var percent = Math.floor(fraction * 100);
    el.progress.value = percent;
    el.progress.textContent = percent + "%";
    el.percent.textContent = percent + "%";
    var parts = [formatBytes(sent) + " of " + formatBytes(total)];
    if (speed) {
      parts.push(formatBytes(speed) + "/s");
      if (sending.every(function (job) { return job.bytesPerSecond; })) {
        parts.push(formatSecondsLeft((total - sent) / speed));
      }
    }
    el.uploadDetail.textContent = (sending.length > 1 ? sending.length + " answers: " : "") + parts.join(" \u00b7 ");
    renderPending();
  }

  // The small note that earlier answers are still on their way, while the candidate goes on.
  function renderPending() {
    var sending = inFlight();
    var visible = sending.length > 0 && phase !== "sending" && phase !== "gone";
    show(el.pending, visible);
    if (!visible) return;
    var sent = 0;
    var total = 0;
    sending.forEach(function (job) {
      sent += job.sent;
      total += job.total;
    });
    var waiting = sending.some(function (job) { return job.waiting; });
    el.pending.textContent = (sending.length === 1 ? "Sending your earlier answer" :
      "Sending " + sending.length + " earlier answers") + " (" + Math.floor(total ? (sent / total) * 100 : 0) + "%)" +
      (waiting ? ": waiting for the connection\u2026" : "\u2026");
  }

  function onJobProgress(job, progress) {
    job.sent = progress.sent;
    job.total = progress.total;
    job.bytesPerSecond = progress.bytesPerSecond;
    job.waiting = false;
    showProgress();
    if (phase === "sending" && el.upload.classList.contains("waiting")) {
      el.upload.classList.remove("waiting");
      setStatus("Sending your answer" + (inFlight().length > 1 ? "s." : ".") + MESSAGES.keepOpen);
    }
  }

  // Submit (or Next question): the take on screen is the answer to this question.
  function submit() {
    if (!take || busy || phase === "sending" || submitted) return;
    if (question && question.practice) {
      endPractice();
      return;
    }
    if (takeInfo.refused) return;
    var q = question;
    var last = isLastQuestion();
    if (!sendAnswer(q, take, takeInfo, "")) return;
    // The last answer stays on screen while it is sent, as the one answer always did.
    releaseTake(last);
    nextQuestion();
  }

  // What the server holds of a take that was being sent before the page closed.
  function arrivedNote(offset, total) {
    if (!offset) return MESSAGES.arrivedNone;
    if (offset >= total) return MESSAGES.arrivedAll;
    return " " + formatBytes(offset) + " of " + formatBytes(total) + " had arrived; sending the rest\u2026";
  }

  function firstSendingNote(resumed) {
    if (resumed === "sent") return MESSAGES.wasSent;
    if (resumed === "started") return MESSAGES.wasSending + MESSAGES.checkingArrived;
    if (resumed === "asked") return MESSAGES.wasSending + MESSAGES.arrivedNone + MESSAGES.keepOpen;
    return "Sending your answer." + MESSAGES.keepOpen;
  }

  // Kept with the take, so that after a reload the page knows whether it was asked to send it.
  function markSending(info, value) {
    updateKept(info, { sending: value });
  }

  // The status line speaks for an upload only while the page is waiting for the uploads.
  function jobStatus(job, text) {
    if (phase === "sending" && inFlight().length <= 1) setStatus(text);
  }

  // The interview's question and the take the server counted for it, so the server files
  // the answer under the right question.
  function metadataFor(q, info) {
    if (!q || !q.id) return {};
    var metadata = { question: q.id };
    if (info.number) metadata.take = String(info.number);
    return metadata;
  }

  /* Send a take as the answer to question `q`, in the background: one upload per answer,
   * never cancelled by a later one. `resumed` says how far it had got before the page
   * closed (see howFarSent), or is "" when the candidate has just accepted it. */
  function sendAnswer(q, blob, info, resumed) {
    if (blob.size > config.maxBytes) {
      showError(STATUS_MESSAGES[413]);
      return false;
    }
    var job = { question: q, info: info, blob: blob, sent: 0, total: blob.size, bytesPerSecond: 0,
      note: firstSendingNote(resumed), resuming: resumed === "started", done: false, refused: false };
    info.sent = true; // on its way: from now on only the server judges it
    q.refusal = null;
    jobs.push(job);
    markSending(info, true);
    job.sender = window.aurio.takeUpload.send({
      blob: blob,
      filename: filenameFor(blob, info),
      fingerprint: fingerprintOf(info.id),
      endpoint: config.tusUrl,
      finishUrlPrefix: config.finishUrlPrefix,
      inviteUrl: config.inviteUrl,
      chunkSize: config.chunkSize,
      uploadUrl: info.uploadUrl || null,
      metadata: metadataFor(q, info),
      questionId: q.id || null,
      onProgress: function (progress) {
        onJobProgress(job, progress);
      },
      onWaiting: function (offline) {
        job.waiting = true;
        renderPending();
        if (phase !== "sending") return;
        el.upload.classList.add("waiting");
        setStatus((offline ? MESSAGES.offline : MESSAGES.reconnecting) +
          (info.stored ? MESSAGES.keptHere : MESSAGES.keepOpen));
      },
      onResumeFrom: function (offset, total) {
        onJobProgress(job, { sent: offset, total: total, bytesPerSecond: 0 });
        if (!job.resuming) return;
        job.resuming = false;
        job.note = MESSAGES.wasSending + arrivedNote(offset, total) + MESSAGES.keepOpen;
        jobStatus(job, job.note);
      },
      onStartAgain: function () {
        job.note = (resumed ? MESSAGES.wasSending + " " : "") + MESSAGES.startAgain + MESSAGES.keepOpen;
        jobStatus(job, job.note);
        job.resuming = false;
        resumed = "";
      },
      onUploaded: function (url) {
        info.uploadUrl = url;
        if (store && info.stored) store.updateTake(info.key, { uploadUrl: url }).catch(function () {});
      },
      onSaving: function () {
        job.sent = job.total;
        showProgress();
        el.upload.classList.remove("waiting");
        // A take sent in full before a reload keeps the note that says so.
        if (resumed !== "sent") jobStatus(job, "Sent. Saving your answer\u2026");
      },
      onDone: function () {
        answered(job);
      },
      onRefused: function (status, detail, verdict) {
        refused(job, status, detail, verdict);
      },
    });
    return true;
  }

  function answered(job) {
    job.done = true;
    job.question.answered = true;
    forgetThinking(job.question);
    var info = job.info;
    if (store && info.key) {
      job.cleared = saving.then(function () {
        return store.deleteTake(info.key);
      }).catch(function () {});
    }
    showProgress();
    if (phase === "sending" && !inFlight().length) finished();
  }

  // Every answer is in: on to the confirmation page.
  function finished() {
    submitted = true;
    devices.stop();
    setStatus("Done. Taking you to the confirmation page\u2026");
    var cleared = Promise.all(jobs.map(function (job) {
      return job.cleared || Promise.resolve();
    }));
    // Leave within a moment even if the browser is slow to clear its copies.
    var patience = new Promise(function (resolve) {
      window.setTimeout(resolve, 2000);
    });
    Promise.race([cleared, patience]).then(function () {
      window.location.assign(config.doneUrl);
    });
  }

  // No question left to record: wait for the answers still on their way.
  function waitForTheRest() {
    stopChecks();
    devices.stop();
    hideError();
    setPhase("sending");
    var sending = inFlight();
    if (!sending.length) {
      finished();
      return;
    }
    show(el.upload, true);
    el.upload.classList.remove("waiting");
    showProgress();
    setStatus(sending.length === 1 ? sending[0].note :
      "Sending your last " + sending.length + " answers." + MESSAGES.keepOpen);
    el.status.focus();
  }

  /* The server refused an answer. `verdict`: it refused the file itself, so the take is let
   * go; any other refusal keeps the take (in this browser too) to send again. Either way the
   * candidate goes back to that question, now or as soon as the take on screen is dealt with. */
  function refused(job, status, detail, verdict) {
    job.refused = true;
    var info = job.info;
    if (status === 404 || status === 410) {
      gone(detail || STATUS_MESSAGES[status]);
      return;
    }
    var message = detail || STATUS_MESSAGES[status] ||
      (status ? "Something went wrong on our side (error " + status + "). Please press \u201c" +
        (isInterview ? "Next question" : "Submit") + "\u201d again." : MESSAGES.unreadable);
    if (verdict) {
      // The server will not take these bytes: sending them again cannot help.
      info.refused = true;
      if (store && info.stored) store.deleteTake(info.key).catch(function () {});
      info.stored = false;
      message += info.source === "file" ? " Please choose another video" + (canRecord ? ", or record one here." : ".") :
        " Please record your answer again.";
    } else {
      // The candidate is asked to send it again: after a reload, offer the take, don't send it.
      markSending(info, false);
      info.sent = false;
    }
    var q = job.question;
    q.refusal = { message: (isInterview && q.number ? "Question " + q.number + ": " : "") + message, job: job };
    renderPending();
    // Not in the middle of a take: back to that question now (else after this one).
    if (!busy && !take && ["check", "thinking", "denied", "unavailable", "sending"].indexOf(phase) !== -1) {
      goToQuestion(q);
    } else if (question !== q) {
      showError(q.refusal.message + " You will come back to it after this question.");
    }
  }

  // Back to a question whose answer was refused, with its take on screen: to send again,
  // or (the server refused the file itself) to watch before recording or choosing another.
  function returnToRefused(q) {
    var refusal = q.refusal;
    var job = refusal.job;
    q.refusal = null;
    take = job.blob;
    takeInfo = job.info;
    showTake(take);
    setPhase("review");
    setStatus("");
    showError(refusal.message);
    (el.submit.hidden ? (el.rerecord.hidden ? el.file : el.rerecord) : el.submit).focus();
  }

  // The link itself can no longer be used: nothing on this page can help.
  function gone(message) {
    stop();
    devices.stop();
    jobs.forEach(function (job) {
      if (job.sender && !job.done) job.sender.abort();
    });
    setPhase("gone");
    showError(message);
  }

  // --- the interview's questions ---------------------------------------------------

  function readInterview() {
    var node = $("interview-data");
    var data = null;
    try {
      data = node ? JSON.parse(node.textContent) : null;
    } catch (ignored) {
      data = null;
    }
    var list = (data && data.questions) || [];
    if (!list.length) {
      // An older server: one question, as the data-* attributes say.
      list = [{ id: null, number: 1, text: "", answerSeconds: config.maxSeconds, thinkingSeconds: 0,
        maxTakes: config.maxTakes, takesUsed: config.takesUsed, practice: false, answered: false }];
    }
    questions = list.slice().sort(function (a, b) {
      return (a.position || 0) - (b.position || 0);
    });
    questions.forEach(function (q) {
      // Revealed before (this device or another): its text is here, and its thinking time
      // carries on from what the server says is left.
      if (q.revealed === true && q.thinkingSeconds > 0 && !q.practice && !q.answered) learnQuestion(q, q);
      else if (q.revealed !== false) q.serverRevealed = true;
      q.revealed = false; // the page's own flag from here on: shown on this screen
    });
    var real = questions.filter(function (q) { return !q.practice; });
    isInterview = real.length > 1 || questions.some(function (q) { return q.practice || q.thinkingSeconds > 0; });
    var interview = (data && data.interview) || {};
    if (/^#[0-9a-fA-F]{6}$/.test(interview.accentColour || "")) {
      document.documentElement.style.setProperty("--accent", interview.accentColour);
    }
  }

  function realQuestions() {
    return questions.filter(function (q) { return !q.practice; });
  }

  // The questions still to record, in order: not answered, and no answer on its way.
  function questionsLeft() {
    return realQuestions().filter(function (q) {
      return !q.answered && !jobFor(q);
    });
  }

  function isLastQuestion() {
    if (!question || question.practice) return false;
    return questionsLeft().every(function (q) { return q === question; });
  }

  function needsThinking() {
    return !!question && question.thinkingSeconds > 0 && !question.revealed && canRecord;
  }

  function startLabel() {
    if (question && question.practice) return "Start the practice question";
    if (needsThinking()) return "Show the question";
    return "Start recording";
  }

  function readyNote() {
    if (needsThinking()) {
      return "Your camera is on. Press \u201cShow the question\u201d when you are ready: you then have " +
        spokenTime(question.thinkingSeconds) + " to think, and recording starts by itself." + takesNote();
    }
    return "Your camera is on. Press \u201c" + startLabel() + "\u201d when you are ready." + takesNote();
  }

  function spokenTime(seconds) {
    var s = Math.max(0, Math.round(seconds));
    var minutes = Math.floor(s / 60);
    var rest = s % 60;
    var parts = [];
    if (minutes) parts.push(minutes + " minute" + (minutes === 1 ? "" : "s"));
    if (rest || !minutes) parts.push(rest + " second" + (rest === 1 ? "" : "s"));
    return parts.join(" ");
  }

  function renderQuestion() {
    var q = question;
    if (!q) return;
    var total = realQuestions().length;
    el.questionHeading.textContent = q.practice ? "Practice question" :
      isInterview ? "Question " + q.number + " of " + total : "Your question";
    var hidden = needsThinking();
    el.questionText.textContent = hidden ? "The question appears when you press \u201cShow the question\u201d." :
      q.text || "";
    el.questionText.classList.toggle("muted", hidden);
    // The recruiter asking the question on video, once the question is shown.
    var videoUrl = hidden || !q.questionVideoUrl ? "" : q.questionVideoUrl;
    if ((el.questionVideo.getAttribute("src") || "") !== videoUrl) {
      if (videoUrl) el.questionVideo.src = videoUrl;
      else el.questionVideo.removeAttribute("src");
    }
    show(el.questionVideo, !!videoUrl);
    var limits = ["Answer in up to " + spokenTime(q.answerSeconds || config.maxSeconds)];
    if (q.thinkingSeconds > 0) limits.unshift(spokenTime(q.thinkingSeconds) + " to think");
    if (q.practice) limits.push("never sent");
    else if (q.maxTakes) limits.push(q.maxTakes + " take" + (q.maxTakes === 1 ? "" : "s"));
    el.questionLimits.textContent = isInterview ? limits.join(" \u00b7 ") + "." : "";
  }

  // Put `q` on screen: its limit, its takes, its takes URL.
  function useQuestion(q) {
    if (question !== q) questionShownAt = performance.now();
    question = q;
    config.maxSeconds = q.answerSeconds || config.defaultMaxSeconds;
    config.takesUrl = q.id && config.questionTakesUrl && !q.practice ?
      config.questionTakesUrl.replace(config.someQuestion, q.id) : config.defaultTakesUrl;
    maxTakes = q.practice ? 0 : q.maxTakes || config.maxTakes;
    // Back at a question already begun (a reload): its text is no secret any more.
    if (!q.practice && q.takesUsed) q.revealed = true;
    // Shown on this device before: not hidden again, and its thinking time not granted anew.
    var thinkingEnd = q.thinkingEndsAt || storedThinkingEnd(q);
    if (thinkingEnd && q.thinkingSeconds > 0) {
      q.revealed = true;
      q.thinkingEndsAt = thinkingEnd;
    }
    takesUsed = q.practice ? q.localTakes || 0 : q.takesUsed || 0;
    takesRefused = false;
    unspentTake = 0;
    if (!q.practice) restoreUnspentTake();
    resetTimer();
    renderQuestion();
    if (!q.practice && (q.number > 1 || q.takesUsed)) leaveWelcome();
  }

  // Once an interview has begun, its welcome makes room for the questions (on a phone
  // the question, the camera and the buttons then fit on one screen).
  function leaveWelcome() {
    if (isInterview && el.welcome) show(el.welcome, false);
  }

  // On to the next question without an answer, or to waiting for the uploads.
  function nextQuestion() {
    var next = questionsLeft()[0];
    if (!next) {
      waitForTheRest();
      return;
    }
    goToQuestion(next);
  }

  function goToQuestion(q) {
    hideError();
    useQuestion(q);
    if (q.refusal) {
      returnToRefused(q);
    } else if (!canRecord) {
      setPhase("unavailable");
      setStatus("");
    } else if (!devices.isLive()) {
      setPhase("check"); // the last question's review is over
      preview();
    } else if (needsThinking()) {
      startThinking();
      return;
    } else {
      setPhase("check");
      setStatus(readyNote());
    }
    el.questionHeading.focus();
  }

  /* The second click of a double click on "Next question" can land on the next question's
   * first button (the same place): "Start recording" would spend a take, "Start now" would
   * skip the thinking time. It was meant for "Next question", so it does nothing. */
  function secondClickOfNext(event) {
    return event.detail > 1 && performance.now() - questionShownAt < DOUBLE_CLICK_MS;
  }

  // --- thinking time: the question is shown, recording starts by itself -----------------

  function startThinking() {
    if (!devices.isLive()) {
      preview().then(function (live) {
        if (live) startThinking();
      });
      return;
    }
    if (heldBack(question)) {
      if (revealing) return;
      revealing = true;
      var asked = question;
      // The thinking screen at once (nothing of the last question's review stays under the
      // pointer); its countdown starts when the server has sent the question.
      leaveWelcome();
      hideError();
      setPhase("thinking");
      el.thinkingLeft.textContent = formatTime(asked.thinkingSeconds);
      setStatus("Showing the question\u2026");
      updateButtons();
      revealQuestion(asked).then(function (shown) {
        revealing = false;
        updateButtons();
        if (shown && question === asked && phase === "thinking") startThinking();
        else if (!shown && phase === "thinking") setPhase("check");
      });
      return;
    }
    question.revealed = true;
    // Shown before (a reload): the time left, not all of it again.
    var left = question.thinkingEndsAt ? question.thinkingEndsAt - Date.now() : 0;
    if (left <= 0) {
      left = question.thinkingSeconds * 1000;
      rememberThinking(question, Date.now() + left);
    }
    leaveWelcome();
    renderQuestion();
    hideError();
    setPhase("thinking");
    setStatus("");
    thinking.endsAt = performance.now() + left;
    thinking.announced = -1;
    tickThinking();
    thinking.timer = window.setInterval(tickThinking, 250);
    el.questionHeading.focus();
  }

  function tickThinking() {
    var left = Math.max(0, Math.ceil((thinking.endsAt - performance.now()) / 1000));
    el.thinkingLeft.textContent = formatTime(left);
    var first = thinking.announced === -1;
    if (left !== thinking.announced && (first || shouldAnnounce(left, question.thinkingSeconds))) {
      thinking.announced = left;
      announce((first ? "You have " + spokenTime(left) + " to think. Recording starts by itself when the time is up. " :
        "") + (first ? "" : spokenTime(left) + " to think."), left <= 5 && !first);
    }
    if (left <= 0) endThinking();
  }

  function stopThinking() {
    if (thinking.timer) window.clearInterval(thinking.timer);
    thinking.timer = 0;
  }

  // Time is up, or "Start now": record at once (the question already had its countdown).
  function endThinking() {
    if (phase !== "thinking" || revealing) return;
    stopThinking();
    rememberThinking(question, Date.now()); // over: a reload does not give it back
    startTake(true);
  }

  /* When the thinking time of a question shown on this device ends (epoch ms), kept in
   * localStorage so a reload neither hides the question again nor grants its time anew.
   * The server does not track it: another device starts afresh. */
  function thinkingKey(q) {
    return "aurio-thinking:" + config.token + ":" + q.id;
  }

  function rememberThinking(q, endsAt) {
    if (!q || !q.id || q.practice) return;
    q.thinkingEndsAt = endsAt;
    try {
      window.localStorage.setItem(thinkingKey(q), String(endsAt));
    } catch (ignored) {
      // No storage: a reload shows the question afresh.
    }
  }

  function storedThinkingEnd(q) {
    if (!q || !q.id || q.practice) return 0;
    try {
      return parseInt(window.localStorage.getItem(thinkingKey(q)), 10) || 0;
    } catch (ignored) {
      return 0;
    }
  }

  function forgetThinking(q) {
    if (!q || !q.id) return;
    try {
      window.localStorage.removeItem(thinkingKey(q));
    } catch (ignored) {
      // Nothing was kept.
    }
  }

  // Back at a question whose thinking time was running (a reload): it carries on, with the
  // time left. (Its time over, the question is shown and recording waits for "Start recording".)
  function resumeThinking() {
    var q = question;
    if (!q || q.practice || phase !== "check" || busy || take || !canRecord) return;
    if (!q.thinkingSeconds || !q.thinkingEndsAt || q.thinkingEndsAt - Date.now() < 1000) return;
    startThinking();
  }

  /* When a countdown is worth saying aloud: at its start, every 30 s above a minute,
   * every 10 s in the last minute, and every second of the last five. */
  function shouldAnnounce(left, from) {
    if (left === from) return true;
    if (left <= 5) return left > 0;
    if (left <= 60) return left % 10 === 0;
    return left % 30 === 0;
  }

  function announce(text, urgent) {
    var node = urgent ? el.announceUrgent : el.announce;
    node.textContent = "";
    // A change of text is what a screen reader hears: let it see the empty one first.
    window.setTimeout(function () {
      node.textContent = text;
    }, 50);
  }

  // --- the practice question: recorded and watched here, never sent ---------------------

  function practiceQuestion() {
    return questions.filter(function (q) { return q.practice; })[0] || null;
  }

  function endPractice() {
    if (busy || phase === "recording" || phase === "countdown") return;
    practiceOver = true;
    try {
      window.sessionStorage.setItem("aurio-practice-over:" + config.token, "1");
    } catch (ignored) {
      // No storage: the practice question is offered again after a reload.
    }
    if (question && question.practice) question.localTakes = takesUsed;
    dropTake();
    nextQuestion();
  }

  function practiceWanted() {
    if (practiceOver || !practiceQuestion() || !canRecord) return false;
    try {
      if (window.sessionStorage.getItem("aurio-practice-over:" + config.token)) return false;
    } catch (ignored) {
      // No storage: offer it.
    }
    // Not once the interview has begun (on this device or another).
    return realQuestions().every(function (q) {
      return !q.answered && !q.takesUsed && !jobFor(q);
    });
  }

  // --- the take's checks: could anyone hear and see the candidate? ------------------------

  function startChecks() {
    stopChecks();
    checks = { timer: 0, sound: 0, silent: 0, pictures: 0, dark: 0, canvas: document.createElement("canvas") };
    checks.canvas.width = 32;
    checks.canvas.height = 24;
    checks.timer = window.setInterval(sampleTake, CHECK_MS);
  }

  function stopChecks() {
    if (checks && checks.timer) window.clearInterval(checks.timer);
    if (checks) checks.timer = 0;
  }

  function sampleTake() {
    if (!checks || phase !== "recording") return;
    var loudness = devices.loudness ? devices.loudness() : null;
    if (loudness !== null) {
      checks.sound += 1;
      if (loudness < SILENT_PEAK) checks.silent += 1;
    }
    var video = el.preview;
    if (video.readyState < 2 || !video.videoWidth) return;
    try {
      var context = checks.canvas.getContext("2d", { willReadFrequently: true });
      context.drawImage(video, 0, 0, checks.canvas.width, checks.canvas.height);
      var pixels = context.getImageData(0, 0, checks.canvas.width, checks.canvas.height).data;
      var sum = 0;
      var squares = 0;
      var count = pixels.length / 4;
      for (var i = 0; i < pixels.length; i += 4) {
        var luma = 0.299 * pixels[i] + 0.587 * pixels[i + 1] + 0.114 * pixels[i + 2];
        sum += luma;
        squares += luma * luma;
      }
      var mean = sum / count;
      var spread = Math.sqrt(Math.max(0, squares / count - mean * mean));
      checks.pictures += 1;
      if (mean < DARK_LUMA || spread < FLAT_LUMA) checks.dark += 1;
    } catch (ignored) {
      // A picture the canvas can't read: this check says nothing.
    }
  }

  // What the checks found in the take just recorded: "" when it looks and sounds fine.
  function takeWarning() {
    if (!checks) return "";
    var silent = checks.sound >= 4 && checks.silent >= WARN_SHARE * checks.sound;
    var dark = checks.pictures >= 4 && checks.dark >= WARN_SHARE * checks.pictures;
    if (silent && dark) return "We couldn\u2019t hear you in this take, and your camera looks covered or dark.";
    if (silent) return "We couldn\u2019t hear you in this take.";
    if (dark) return "Your camera looks covered or dark in this take.";
    return "";
  }

  function showWarning(text) {
    var changed = el.takeWarning.textContent !== text;
    el.takeWarning.textContent = text ? text + " Check your camera and microphone and record again if you can; " +
      "you may still send this take." : "";
    show(el.takeWarning, !!text);
    if (changed) updateButtons();
  }

  function warningShown() {
    return !el.takeWarning.hidden;
  }

  // --- a video file's length, before it is sent ------------------------------------------

  // Resolves with the file's duration in seconds, or null when this browser can't tell;
  // with `undefined` when it could not open the file as a video at all.
  function fileDuration(file) {
    return new Promise(function (resolve) {
      var video = document.createElement("video");
      var url = URL.createObjectURL(file);
      var settled = false;
      function done(value) {
        if (settled) return;
        settled = true;
        window.clearTimeout(timer);
        video.removeAttribute("src");
        video.load();
        URL.revokeObjectURL(url);
        resolve(value);
      }
      var timer = window.setTimeout(function () {
        done(null);
      }, 5000);
      video.preload = "metadata";
      video.muted = true;
      video.addEventListener("loadedmetadata", function () {
        done(isFinite(video.duration) && video.duration > 0 ? video.duration : null);
      });
      video.addEventListener("error", function () {
        done(undefined);
      });
      video.src = url;
    });
  }

  // --- page ---------------------------------------------------------------

  function warnBeforeLeaving(event) {
    if (submitted) return;
    if (take || phase === "recording" || phase === "sending" || inFlight().length) {
      event.preventDefault();
      event.returnValue = "";
    }
  }

  function readConfig(root) {
    var data = root.dataset;
    return {
      token: data.token,
      tusUrl: data.tusUrl,
      finishUrlPrefix: data.finishUrlPrefix,
      takesUrl: data.takesUrl,
      defaultTakesUrl: data.takesUrl,
      questionTakesUrl: data.questionTakesUrl || "",
      someQuestion: data.someQuestion || "",
      inviteUrl: data.inviteUrl,
      doneUrl: data.doneUrl,
      maxSeconds: parseInt(data.maxSeconds, 10) || 120,
      defaultMaxSeconds: parseInt(data.maxSeconds, 10) || 120,
      maxBytes: parseInt(data.maxBytes, 10) || Infinity,
      maxTakes: parseInt(data.maxTakes, 10) || 0,
      takesUsed: parseInt(data.takesUsed, 10) || 0,
      chunkSize: chunkSizeFromUrl(),
    };
  }

  // The first screen: the practice question if there is one (and the interview has not
  // begun), else the first question without an answer.
  function begin() {
    if (practiceWanted()) useQuestion(practiceQuestion());
    if (canRecord) {
      preview().then(function (live) {
        if (live) resumeThinking();
      });
      return;
    }
    setPhase("unavailable");
    showError(unsupportedReason() + FILE_INSTEAD);
  }

  /* After a reload (or on another device): answers that were on their way carry on by
   * themselves, and the page opens at the first question left, offering a take recorded
   * for it and not sent. */
  function carryOn(kept) {
    return Promise.all(kept.map(function (earlier) {
      return howFarSent(earlier.info).then(function (howFar) {
        earlier.howFar = howFar;
      });
    })).then(function () {
      kept.forEach(function (earlier) {
        if (earlier.howFar) resumeEarlierTake(earlier, earlier.howFar);
      });
      var current = questionsLeft()[0];
      if (!current) {
        waitForTheRest();
        return;
      }
      useQuestion(current);
      var offered = kept.filter(function (earlier) {
        return !earlier.howFar && earlier.question === current;
      })[0];
      if (offered) offerEarlierTake(offered);
      else begin();
    });
  }

  function init() {
    var root = $("recorder");
    if (!root) return;
    ["nojs", "error", "recorder", "earlier", "stage", "preview", "playback", "countdown", "devices", "timer",
      "elapsed", "remaining", "retry", "start", "stop", "rerecord", "submit", "discard", "upload", "progress",
      "percent", "status", "alternative", "file"].forEach(function (id) {
      el[id] = $(id);
    });
    el.badge = $("rec-badge");
    el.earlierInfo = $("earlier-info");
    el.earlierChoice = $("earlier-choice");
    el.takeLabel = $("take-label");
    el.countdownNumber = $("countdown-number");
    el.timeLeft = $("time-left");
    el.uploadDetail = $("upload-detail");
    ["pending", "question", "thinking", "announce"].forEach(function (id) {
      el[id] = $(id);
    });
    el.questionHeading = $("question-heading");
    el.questionText = $("question-text");
    el.questionLimits = $("question-limits");
    el.questionVideo = $("question-video");
    el.thinkingLeft = $("thinking-left");
    el.startNow = $("start-now");
    el.skipPractice = $("skip-practice");
    el.takeWarning = $("take-warning");
    el.announceUrgent = $("announce-urgent");
    el.welcome = $("welcome");
    config = readConfig(root);
    readInterview();
    realQuestions().forEach(function (q) {
      if (q.answered) forgetThinking(q);
    });
    useQuestion(questionsLeft()[0] || realQuestions()[0] || questions[0]);

    show(el.nojs, false);
    if (!window.aurio || !window.aurio.takeUpload || !window.aurio.takeUpload.isSupported()) {
      showError(MESSAGES.noUpload);
      return;
    }
    devices = window.aurio.deviceCheck.attach({
      preview: el.preview,
      panel: el.devices,
      onEnded: onTrackEnded,
      onChoose: preview,
    });
    canRecord = !unsupportedReason();
    if (canRecord) mimeType = chooseMimeType();
    renderQuestion();
    resetTimer();

    el.retry.addEventListener("click", preview);
    el.start.addEventListener("click", function (event) {
      if (secondClickOfNext(event)) return;
      startTake(false);
    });
    el.startNow.addEventListener("click", function (event) {
      if (secondClickOfNext(event)) return;
      endThinking();
    });
    el.skipPractice.addEventListener("click", endPractice);
    el.stop.addEventListener("click", stop);
    el.rerecord.addEventListener("click", function () {
      startTake(false);
    });
    el.submit.addEventListener("click", submit);
    el.discard.addEventListener("click", discardEarlierTake);
    el.file.addEventListener("change", onFileChosen);
    el.playback.addEventListener("loadedmetadata", fixDuration);
    el.playback.addEventListener("error", onPlaybackError);
    window.addEventListener("beforeunload", warnBeforeLeaving);
    // Back from the browser's page cache: the camera was let go on the way out.
    window.addEventListener("pageshow", function (event) {
      if (event.persisted && canRecord && phase === "check") preview();
    });

    window.aurio.takeStore
      .open()
      .then(function (opened) {
        store = opened;
        return store ? findKeptTakes() : [];
      })
      .catch(function () {
        return [];
      })
      .then(function (kept) {
        if (!questionsLeft().length && !kept.length) {
          // Every answer is in (from another device, say): the confirmation page says so.
          window.location.assign(config.doneUrl);
          return undefined;
        }
        return carryOn(kept);
      });
  }

  init();
})();
