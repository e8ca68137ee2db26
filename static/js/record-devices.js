/* The device check on the candidate's recording page: the live camera preview,
 * the sound level, the choice of camera and microphone, and the words for a
 * camera the browser would not give or took away.
 *
 * Used by static/js/record.js as `aurio.deviceCheck.attach({...})`, which
 * returns the page's camera and microphone: start() asks for them and shows
 * them (preview, sound level, choices), stop() lets them go. What a refusal or
 * a lost device means for the candidate's take is the page's to decide;
 * `aurio.deviceCheck.helpFor(error)` and `.LOST` say what to tell them.
 */
(function () {
  "use strict";

  // Below this RMS level the microphone is taken to be silent.
  var HEARD_LEVEL = 0.02;
  var SILENCE_HINT_MS = 6000;

  var RETRY = "then press \u201cTry the camera again\u201d.";
  var MESSAGES = {
    denied:
      "You didn\u2019t allow the camera and microphone, so we can\u2019t record your answer. " +
      "Allow them for this site (usually with the camera icon in the address bar or in the " +
      "site settings), " + RETRY,
    missing: "We couldn\u2019t find a camera and a microphone. Plug them in or switch them on, " + RETRY,
    busy:
      "Your camera or microphone is being used by another app or browser tab, or the system " +
      "is blocking it. Close other apps that use it (a video call, for example), " + RETRY,
    lost: "Your camera or microphone stopped working. Check that it is still connected, " + RETRY,
    micSay: "Say something: the bar should move.",
    micHeard: "We can hear you.",
    micSilent:
      "We can\u2019t hear anything yet. Check that the right microphone is chosen and that it isn\u2019t muted.",
  };

  // What to tell the candidate when getUserMedia failed with `error`.
  function helpFor(error) {
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

  function constraints(chosen) {
    var video = { facingMode: "user", width: { ideal: 1280 }, height: { ideal: 720 } };
    if (chosen.video) video = { deviceId: { exact: chosen.video }, width: { ideal: 1280 }, height: { ideal: 720 } };
    return { audio: chosen.audio ? { deviceId: { exact: chosen.audio } } : true, video: video };
  }

  function stopTracks(mediaStream) {
    mediaStream.getTracks().forEach(function (track) {
      track.stop();
    });
  }

  /* options: preview (the <video> that shows the camera), panel (#devices: the sound
   * level and the choice of devices), onEnded() (a camera or microphone stopped:
   * unplugged, or its permission withdrawn), onChoose() (the candidate chose another
   * device: start again to use it). */
  function attach(options) {
    var preview = options.preview;
    var panel = options.panel;
    var el = {
      micCheck: panel.querySelector(".mic-check"),
      micLevel: panel.querySelector("#mic-level"),
      micMeter: panel.querySelector("#mic-meter"),
      micNote: panel.querySelector("#mic-note"),
      camera: panel.querySelector("#camera"),
      cameraChoice: panel.querySelector("#camera-choice"),
      microphone: panel.querySelector("#microphone"),
      microphoneChoice: panel.querySelector("#microphone-choice"),
    };
    var stream = null;
    var asked = 0;
    var chosen = { video: "", audio: "" };
    var choosable = false;
    var meter = { context: null, source: null, analyser: null, samples: null, frame: 0, shown: 0 };

    function show(node, visible) {
      node.hidden = !visible;
    }

    /* Ask for the camera and microphone and show them. Resolves true when they are on, or
     * false when `stillWanted()` says the page no longer needs them (they are let go at
     * once); rejects with getUserMedia's error (see helpFor). */
    function start(stillWanted) {
      stop();
      // Only the latest request counts: one a quicker change of camera replaced is let go
      // when it comes (each would hold a camera and a microphone until the page closes).
      var mine = ++asked;
      return navigator.mediaDevices.getUserMedia(constraints(chosen)).then(
        function (mediaStream) {
          if (mine !== asked || !stillWanted()) {
            stopTracks(mediaStream);
            return false;
          }
          stream = mediaStream;
          stream.getTracks().forEach(function (track) {
            track.addEventListener("ended", options.onEnded);
          });
          preview.srcObject = stream;
          startMeter();
          listDevices();
          return true;
        },
        function (error) {
          if (mine !== asked) return false; // a newer request is under way
          stop();
          // A chosen device that went away: the next try takes whatever the browser offers.
          if (error && (error.name === "NotFoundError" || error.name === "OverconstrainedError")) {
            chosen = { video: "", audio: "" };
          }
          throw error;
        }
      );
    }

    function isLive() {
      return !!stream && stream.getTracks().every(function (track) {
        return track.readyState === "live";
      });
    }

    function stop() {
      stopMeter();
      if (stream) {
        stream.getTracks().forEach(function (track) {
          track.removeEventListener("ended", options.onEnded);
        });
        stopTracks(stream);
      }
      stream = null;
      preview.srcObject = null;
    }

    // --- the choice of devices ---------------------------------------------------------

    function currentDeviceId(kind) {
      var tracks = stream ? (kind === "video" ? stream.getVideoTracks() : stream.getAudioTracks()) : [];
      var settings = tracks.length && tracks[0].getSettings ? tracks[0].getSettings() : {};
      return settings.deviceId || "";
    }

    // Offer a choice only when there is one; labels are readable once access is granted.
    function listDevices() {
      if (!navigator.mediaDevices.enumerateDevices) return;
      navigator.mediaDevices.enumerateDevices().then(function (devices) {
        fillChoice(el.camera, el.cameraChoice, devices, "videoinput", currentDeviceId("video"), "Camera");
        fillChoice(el.microphone, el.microphoneChoice, devices, "audioinput", currentDeviceId("audio"), "Microphone");
      });
    }

    function fillChoice(select, wrapper, devices, kind, current, name) {
      var found = devices.filter(function (device) {
        return device.kind === kind && device.deviceId;
      });
      select.textContent = "";
      found.forEach(function (device, i) {
        var option = document.createElement("option");
        option.value = device.deviceId;
        option.textContent = device.label || name + " " + (i + 1);
        option.selected = device.deviceId === current;
        select.appendChild(option);
      });
      show(wrapper, found.length > 1);
    }

    // The page allows a choice only while the candidate checks the devices.
    function allowChoice(allowed) {
      choosable = allowed;
      el.camera.disabled = el.microphone.disabled = !allowed;
    }

    function choose() {
      if (!choosable) return;
      chosen = { video: el.camera.value, audio: el.microphone.value };
      options.onChoose();
    }

    // --- the sound level ---------------------------------------------------------------

    function startMeter() {
      stopMeter();
      var Context = window.AudioContext || window.webkitAudioContext;
      if (!Context || !stream || !stream.getAudioTracks().length) {
        show(el.micCheck, false);
        return;
      }
      try {
        meter.context = meter.context || new Context();
        meter.source = meter.context.createMediaStreamSource(stream);
        meter.analyser = meter.context.createAnalyser();
        meter.analyser.fftSize = 1024;
        meter.source.connect(meter.analyser);
      } catch (error) {
        show(el.micCheck, false);
        return;
      }
      show(el.micCheck, true);
      // Some browsers start audio only after a click: the first one anywhere will do.
      if (meter.context.state === "suspended") {
        meter.context.resume().catch(function () {});
        document.addEventListener("click", resumeAudio, { once: true });
      }
      meter.samples = new Uint8Array(meter.analyser.fftSize);
      meter.shown = 0;
      meter.heard = false;
      meter.since = performance.now();
      el.micNote.textContent = MESSAGES.micSay;
      el.micCheck.classList.remove("heard", "silent");
      meter.frame = window.requestAnimationFrame(drawLevel);
    }

    function resumeAudio() {
      if (meter.context) meter.context.resume().catch(function () {});
    }

    function drawLevel() {
      var samples = meter.samples;
      meter.analyser.getByteTimeDomainData(samples);
      var sum = 0;
      for (var i = 0; i < samples.length; i++) {
        var value = (samples[i] - 128) / 128;
        sum += value * value;
      }
      var rms = Math.sqrt(sum / samples.length);
      // Speech is quiet in RMS terms: a square-root curve lets a normal voice fill half the bar.
      var level = Math.min(1, Math.sqrt(rms) * 1.6);
      meter.shown = Math.max(level, meter.shown * 0.92);
      var percent = Math.round(meter.shown * 100);
      if (percent !== meter.percent) {
        meter.percent = percent;
        el.micLevel.style.clipPath = "inset(0 " + (100 - percent) + "% 0 0)";
        el.micMeter.setAttribute("aria-valuenow", String(percent));
      }
      if (rms >= HEARD_LEVEL && !meter.heard) {
        meter.heard = true;
        el.micNote.textContent = MESSAGES.micHeard;
        el.micCheck.classList.remove("silent");
        el.micCheck.classList.add("heard");
      } else if (!meter.heard && performance.now() - meter.since > SILENCE_HINT_MS &&
        !el.micCheck.classList.contains("silent")) {
        el.micNote.textContent = MESSAGES.micSilent;
        el.micCheck.classList.add("silent");
      }
      meter.frame = window.requestAnimationFrame(drawLevel);
    }

    /* The loudest moment (0..1) of the last ~0.7 s of sound, for the take's silence
     * check (record.js samples it four times a second while recording), or null when there is
     * no meter. A long window: a short beep between two samples still counts. */
    function loudness() {
      if (!meter.context || !meter.source) return null;
      if (!meter.window) {
        try {
          meter.window = meter.context.createAnalyser();
          meter.window.fftSize = 32768;
          meter.windowSamples = new Uint8Array(meter.window.fftSize);
        } catch (error) {
          return null;
        }
      }
      if (meter.windowSource !== meter.source) {
        meter.source.connect(meter.window);
        meter.windowSource = meter.source;
      }
      meter.window.getByteTimeDomainData(meter.windowSamples);
      var peak = 0;
      for (var i = 0; i < meter.windowSamples.length; i++) {
        var value = Math.abs(meter.windowSamples[i] - 128);
        if (value > peak) peak = value;
      }
      return peak / 128;
    }

    function stopMeter() {
      if (meter.frame) window.cancelAnimationFrame(meter.frame);
      meter.frame = 0;
      if (meter.source) meter.source.disconnect();
      meter.source = null;
      meter.analyser = null;
      meter.percent = 0;
      el.micLevel.style.clipPath = "";
      el.micMeter.setAttribute("aria-valuenow", "0");
    }

    el.camera.addEventListener("change", choose);
    el.microphone.addEventListener("change", choose);
    if (navigator.mediaDevices && navigator.mediaDevices.addEventListener) {
      navigator.mediaDevices.addEventListener("devicechange", function () {
        if (stream) listDevices();
      });
    }
    window.addEventListener("pagehide", stop);

    return {
      start: start,
      stop: stop,
      isLive: isLive,
      stream: function () {
        return stream;
      },
      stopLevel: stopMeter,
      loudness: loudness,
      allowChoice: allowChoice,
    };
  }

  window.aurio = window.aurio || {};
  window.aurio.deviceCheck = { attach: attach, helpFor: helpFor, LOST: MESSAGES.lost };
})();
