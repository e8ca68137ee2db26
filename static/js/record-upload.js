/* Sends one take to aurio and submits it: tus 1.0 upload, then "finish".
 *
 * Built on the vendored tus-js-client (static/vendor/tus-js-client). The
 * upload's URL is kept in localStorage under a fingerprint made of the invite
 * token and the take's id, so the same take, read back from IndexedDB after a
 * reload, resumes the same upload from the last byte the server has. Network
 * trouble never ends an upload: it waits for the connection (the browser's
 * `online` event, or a timer) and carries on. Only the server's refusals end
 * it, with the server's own words.
 *
 * Every PATCH carries an Upload-Checksum, so the server keeps a PATCH only if
 * it arrives whole: a dropped connection loses the PATCH under way. PATCHes
 * are therefore sized by measured speed, each taking a couple of seconds
 * (ChunkSizer), so a drop costs seconds of sending, not the whole take.
 *
 * Used by static/js/record.js as `aurio.takeUpload.send({...})`.
 */
(function () {
  "use strict";

  // The first PATCH: small enough to arrive within seconds on a slow phone line.
  var FIRST_CHUNK_SIZE = 256 * 1024;
  // The server refuses smaller PATCHes, except the last (AURIO_MIN_CHUNK_BYTES, 64 KiB by default).
  var MIN_CHUNK_SIZE = 64 * 1024;
  // The server refuses PATCHes above AURIO_MAX_CHUNK_BYTES (8 MiB by default); at 5 MiB a
  // fast line already spends its time on bytes, not on requests.
  var MAX_CHUNK_SIZE = 5 * 1024 * 1024;
  // Each PATCH should take about this long; one slower than SLOW_PATCH_MS makes the next smaller.
  var TARGET_PATCH_MS = 2000;
  var SLOW_PATCH_MS = 3000;
  // tus-js-client's own quick retries; after them we keep waiting with WAIT_DELAYS.
  var RETRY_DELAYS = [0, 1000, 3000, 5000, 10000, 20000];
  var WAIT_DELAYS = [2000, 5000, 10000, 20000, 30000];
  // A request that moves no byte for this long is given up and resumed.
  var STALL_MS = 30000;
  var SPEED_WINDOW_MS = 8000;

  function fingerprintFor(token, takeId) {
    return "aurio:" + token + ":" + takeId;
  }

  function absolute(url) {
    return new URL(url, window.location.href).href;
  }

  function parseDetail(text) {
    try {
      var body = JSON.parse(text);
      if (body && typeof body.detail === "string") return body.detail;
    } catch (ignored) {
      // Not JSON (a proxy's error page, say): the caller has its own words.
    }
    return "";
  }

  // No answer, or an answer that says "try again later" rather than "no".
  function isTransient(status) {
    return !status || status >= 500 || [408, 423, 429].indexOf(status) !== -1;
  }

  function isOnline() {
    return navigator.onLine !== false;
  }

  // Resolves after `ms`, or as soon as the browser says it is back online.
  function waitForNetwork(ms) {
    return new Promise(function (resolve) {
      var timer = window.setTimeout(done, ms);
      window.addEventListener("online", done);
      function done() {
        window.clearTimeout(timer);
        window.removeEventListener("online", done);
        resolve();
      }
    });
  }

  // --- Upload-Checksum on every PATCH (the server checks it and answers 460 on a mismatch) ---

  function base64(buffer) {
    var bytes = new Uint8Array(buffer);
    var text = "";
    for (var i = 0; i < bytes.length; i += 0x8000) {
      text += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    }
    return window.btoa(text);
  }

  function ChecksumHttpStack() {
    this.inner = new window.tus.DefaultHttpStack();
  }

  ChecksumHttpStack.prototype.getName = function () {
    return "ChecksumHttpStack";
  };

  ChecksumHttpStack.prototype.createRequest = function (method, url) {
    var request = this.inner.createRequest(method, url);
    var send = request.send.bind(request);
    request.send = function (body) {
      if (!body || typeof body.arrayBuffer !== "function" || !(window.crypto && window.crypto.subtle)) {
        return send(body);
      }
      return body
        .arrayBuffer()
        .then(function (bytes) {
          return window.crypto.subtle.digest("SHA-256", bytes);
        })
        .then(function (digest) {
          request.setHeader("Upload-Checksum", "sha256 " + base64(digest));
          return send(body);
        });
    };
    return request;
  };

  // --- how much to send in one PATCH ----------------------------------------------

  /* The size of the next PATCH, from how long the last one took. `fixed` (the page's
   * `?chunk=`, for tests) keeps one size, fitted within the bounds, except where the
   * server refuses it. */
  function ChunkSizer(fixed) {
    this.fixed = !!fixed;
    // Raised or lowered for good when the server refuses a PATCH as too small or too large
    // (AURIO_MIN_CHUNK_BYTES or AURIO_MAX_CHUNK_BYTES set beyond their defaults).
    this.floor = MIN_CHUNK_SIZE;
    this.ceiling = MAX_CHUNK_SIZE;
    this.size = this.fit(fixed || FIRST_CHUNK_SIZE);
    this.startedAt = 0;
  }

  ChunkSizer.prototype.fit = function (bytes) {
    return Math.floor(Math.min(this.ceiling, Math.max(this.floor, bytes)));
  };

  ChunkSizer.prototype.started = function () {
    this.startedAt = performance.now();
  };

  ChunkSizer.prototype.completed = function (bytes) {
    if (!this.startedAt) return;
    var ms = Math.max(1, performance.now() - this.startedAt);
    this.startedAt = 0;
    if (this.fixed || !bytes) return;
    var fitting = (bytes * TARGET_PATCH_MS) / ms;
    // Grow at most twofold at a time: a small PATCH's time is mostly the round trip, not its bytes.
    var next = ms < SLOW_PATCH_MS ? Math.min(this.size * 2, Math.max(this.size, fitting)) : fitting;
    this.size = this.fit(next);
  };

  // A PATCH that failed (the connection dropped or stalled): the next one risks less.
  ChunkSizer.prototype.failed = function () {
    this.startedAt = 0;
    if (!this.fixed) this.size = this.fit(this.size / 2);
  };

  // The server refused a PATCH as too large (413): false when it cannot get smaller.
  ChunkSizer.prototype.tooLarge = function () {
    var smaller = this.fit(this.size / 2);
    if (smaller === this.size) return false;
    this.size = this.ceiling = smaller;
    return true;
  };

  // The server refused a PATCH that was not the last one as too small (400): false when it
  // cannot get larger.
  ChunkSizer.prototype.tooSmall = function () {
    var larger = this.fit(this.size * 2);
    if (larger === this.size) return false;
    this.size = this.floor = larger;
    return true;
  };

  // --- speed and time left ---------------------------------------------------

  function RateMeter() {
    this.samples = [];
  }

  RateMeter.prototype.add = function (bytes) {
    var now = performance.now();
    var last = this.samples[this.samples.length - 1];
    // Resuming can move back to the server's offset: start measuring afresh.
    if (last && bytes < last.bytes) this.samples = [];
    this.samples.push({ at: now, bytes: bytes });
    while (this.samples.length > 2 && now - this.samples[0].at > SPEED_WINDOW_MS) this.samples.shift();
  };

  // Bytes per second over the last few seconds, or 0 while that is unknown.
  RateMeter.prototype.speed = function () {
    var first = this.samples[0];
    var last = this.samples[this.samples.length - 1];
    if (!first || last.at - first.at < 1000) return 0;
    return ((last.bytes - first.bytes) * 1000) / (last.at - first.at);
  };

  RateMeter.prototype.reset = function () {
    this.samples = [];
  };

  // --- the upload --------------------------------------------------------------

  /* options: blob, filename, fingerprint, endpoint, finishUrlPrefix, inviteUrl,
   * metadata (more Upload-Metadata: the interview's question and take), questionId (the
   * question the upload answers: once the server says it is answered, the upload is done),
   * chunkSize (one fixed PATCH size, for tests; without it PATCHes are sized by speed),
   * uploadUrl (a finished upload to submit without sending it again), and callbacks:
   * onProgress({sent, total, fraction, bytesPerSecond, secondsLeft}), onWaiting(offline),
   * onResumeFrom(offset, total) (the server's answer when an upload carries on),
   * onStartAgain(status) (the server no longer has the upload: it starts again from byte 0),
   * onUploaded(url or null), onSaving(), onDone(videoId), onRefused(status, detail, verdict):
   * `verdict` is true when the server refused the file itself (too large, not a video, too long),
   * false when it refused a request (sending the same take again later may work). */
  function send(options) {
    var tus = window.tus;
    var meter = new RateMeter();
    var sizer = new ChunkSizer(options.chunkSize);
    var lastFailure = null;
    var upload = null;
    var stopped = false;
    var uploadedAgain = false;
    var finishing = false; // the bytes are all there: only "finish" is left
    var waits = 0;
    var restarts = 0;
    var lastActivity = Date.now();
    var watchdog = window.setInterval(checkStall, 5000);

    function activity() {
      lastActivity = Date.now();
    }

    function stop() {
      stopped = true;
      window.clearInterval(watchdog);
      if (upload) upload.abort(false);
    }

    function refuse(status, detail, verdict) {
      stop();
      options.onRefused(status, detail, Boolean(verdict));
    }

    function nextWait() {
      var delay = WAIT_DELAYS[Math.min(waits, WAIT_DELAYS.length - 1)];
      waits += 1;
      options.onWaiting(!isOnline());
      return waitForNetwork(delay);
    }

    function checkStall() {
      if (stopped || finishing || !upload || Date.now() - lastActivity < STALL_MS) return;
      // A connection that hangs without failing (a half-open socket): drop it and resume.
      activity();
      upload.abort(false);
      sizer.failed();
      applyChunkSize();
      upload.start();
    }

    // tus-js-client (4.x) reads options.chunkSize afresh for every PATCH, so this sizes the
    // next PATCH without restarting the upload. tests/e2e/test_resumable_upload.py checks
    // that the sizes really change, should a new tus-js-client stop doing so.
    function applyChunkSize() {
      if (upload) upload.options.chunkSize = sizer.size;
    }

    // Whether a refused PATCH carried the end of the take (the server takes any size for that one).
    function wasLastPatch(request) {
      var offset = parseInt(request.getHeader("Upload-Offset"), 10);
      return isNaN(offset) || offset + sizer.size >= options.blob.size;
    }

    // onShouldRetry and onError can both see one failure: count it once.
    function noteFailure(error) {
      if (!error || error === lastFailure) return;
      lastFailure = error;
      var response = error.originalResponse;
      var request = error.originalRequest;
      if (request && request.getMethod() === "PATCH" && isTransient(response ? response.getStatus() : 0)) {
        sizer.failed();
        applyChunkSize();
      }
    }

    // tus-js-client asks the server where to carry on (HEAD) before it resumes an upload.
    function onHeadAnswer(response) {
      var status = response.getStatus();
      if (status >= 200 && status < 300) {
        var offset = parseInt(response.getHeader("Upload-Offset"), 10);
        var total = parseInt(response.getHeader("Upload-Length"), 10);
        if (!isNaN(offset) && !isNaN(total) && options.onResumeFrom) options.onResumeFrom(offset, total);
      } else if (status >= 400 && status < 500 && status !== 423 && options.onStartAgain) {
        // Gone (expired, say): tus-js-client forgets it and creates a new upload, from byte 0.
        options.onStartAgain(status);
      }
    }

    function onProgress(sent, total) {
      activity();
      waits = 0;
      restarts = 0;
      meter.add(sent);
      var speed = meter.speed();
      options.onProgress({
        sent: sent,
        total: total,
        fraction: total ? sent / total : 0,
        bytesPerSecond: speed,
        secondsLeft: speed ? (total - sent) / speed : null,
      });
    }

    function onTusError(error) {
      if (stopped) return;
      var response = error && error.originalResponse;
      var status = response ? response.getStatus() : 0;
      if (!error || !error.originalRequest) {
        // Not an HTTP failure: the browser could not read the recording.
        refuse(0, "");
        return;
      }
      var detail = response ? parseDetail(response.getBody()) : "";
      var method = error.originalRequest.getMethod();
      noteFailure(error);
      if (isTransient(status)) {
        meter.reset();
        nextWait().then(resume);
      } else if (status === 409) {
        // Either the offset moved (ask the server where it is and carry on), or an answer
        // was already submitted through this link (another tab, a lost response): done.
        doneIfSubmitted(resumeSoon, function () {
          nextWait().then(resume);
        });
      } else if (method !== "POST" && [404, 410, 460].indexOf(status) !== -1) {
        // A damaged chunk (460) or a vanished or expired upload: tus-js-client asks the
        // server for the offset and, where the upload is gone, starts a new one.
        resumeSoon();
      } else if (method === "PATCH" && status === 413 && sizer.tooLarge()) {
        // The server takes smaller PATCHes than this one (AURIO_MAX_CHUNK_BYTES).
        applyChunkSize();
        resumeSoon();
      } else if (method === "PATCH" && status === 400 && !wasLastPatch(error.originalRequest) &&
        sizer.tooSmall()) {
        // The server wants larger PATCHes than this one (AURIO_MIN_CHUNK_BYTES); a 400 for
        // any other reason is refused after a few doublings, as before.
        applyChunkSize();
        resumeSoon();
      } else {
        // Only a take too large to create an upload for is a verdict on the file itself.
        refuse(status, detail, method === "POST" && status === 413);
      }
    }

    function resume() {
      if (stopped) return;
      activity();
      upload.start();
    }

    // At once the first few times; then as after a network failure, so nothing spins.
    function resumeSoon() {
      restarts += 1;
      if (restarts <= 3) resume();
      else nextWait().then(resume);
    }

    function startUpload() {
      activity();
      upload = new tus.Upload(options.blob, {
        endpoint: absolute(options.endpoint),
        chunkSize: sizer.size,
        retryDelays: RETRY_DELAYS,
        metadata: Object.assign({ filename: options.filename, filetype: options.blob.type || "" },
          options.metadata || {}),
        fingerprint: function () {
          return Promise.resolve(options.fingerprint);
        },
        storeFingerprintForResuming: true,
        removeFingerprintOnSuccess: true,
        httpStack: new ChecksumHttpStack(),
        onBeforeRequest: function (request) {
          activity();
          if (request.getMethod() === "PATCH") sizer.started();
        },
        onAfterResponse: function (request, response) {
          activity();
          if (request.getMethod() === "HEAD") onHeadAnswer(response);
        },
        onChunkComplete: function (bytes) {
          sizer.completed(bytes);
          applyChunkSize();
        },
        onShouldRetry: function (error, attempt) {
          var response = error.originalResponse;
          noteFailure(error);
          // Other refusals go to onTusError, which knows what each one means.
          var retry = isOnline() && isTransient(response ? response.getStatus() : 0);
          if (retry) {
            // tus-js-client waits before retrying: that is not a stall.
            lastActivity = Date.now() + RETRY_DELAYS[attempt];
            if (attempt > 0) options.onWaiting(false);
          }
          return retry;
        },
        onProgress: onProgress,
        onError: onTusError,
        onSuccess: function () {
          if (stopped) return;
          finishing = true;
          var url = upload.url;
          options.onUploaded(url);
          finish(url);
        },
      });
      upload
        .findPreviousUploads()
        .then(function (previous) {
          var resumable = null;
          previous.forEach(function (entry) {
            if (!resumable && entry.size === options.blob.size && entry.uploadUrl) {
              resumable = entry;
            } else {
              // Another file under the same fingerprint: its upload cannot continue.
              tus.defaultOptions.urlStorage.removeUpload(entry.urlStorageKey);
            }
          });
          if (resumable) upload.resumeFromPreviousUpload(resumable);
        })
        .catch(function () {
          // No stored uploads to look at (storage blocked): start a new one.
        })
        .then(function () {
          if (!stopped) upload.start();
        });
    }

    function uploadAgain(status, detail) {
      // The server lost or threw away a finished upload (expired, damaged): send it once more.
      if (uploadedAgain) {
        refuse(status, detail);
        return;
      }
      uploadedAgain = true;
      finishing = false;
      options.onUploaded(null);
      if (options.onStartAgain) options.onStartAgain(status);
      startUpload();
    }

    function finish(url) {
      if (stopped) return;
      activity();
      options.onSaving();
      var id = url.replace(/[?#].*$/, "").replace(/\/+$/, "").split("/").pop();
      fetch(options.finishUrlPrefix + id + "/finish", {
        method: "POST",
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      })
        .then(function (response) {
          return response.text().then(function (text) {
            onFinishAnswer(url, response.status, text);
          });
        })
        .catch(function () {
          retryFinish(url);
        });
    }

    function retryFinish(url) {
      if (stopped) return;
      nextWait().then(function () {
        finish(url);
      });
    }

    function onFinishAnswer(url, status, text) {
      if (stopped) return;
      var detail = parseDetail(text);
      if (status === 200 || status === 201) {
        stop();
        var body = {};
        try {
          body = JSON.parse(text);
        } catch (ignored) {
          // A success without a body is still a success.
        }
        options.onDone(body.videoId || null);
      } else if (status === 409) {
        // Either an earlier attempt got through (its answer was lost) or the upload is incomplete.
        doneIfSubmitted(
          function () {
            uploadAgain(status, detail);
          },
          function () {
            retryFinish(url);
          }
        );
      } else if (status === 404) {
        uploadAgain(status, detail);
      } else if (status === 410) {
        // The link was withdrawn or expired, or only this upload expired while the link
        // still takes an answer: ask which.
        linkOpen().then(
          function (open) {
            if (stopped) return;
            if (open) {
              uploadAgain(status, detail);
            } else {
              refuse(status, detail, false);
            }
          },
          function () {
            retryFinish(url);
          }
        );
      } else if (status >= 500 || status === 429) {
        retryFinish(url);
      } else {
        refuse(status, detail, [413, 415, 422].indexOf(status) !== -1);
      }
    }

    // A 409 can mean an answer was already submitted through this link: then the take is
    // done; otherwise `carryOn()`, or `unsure()` when the server cannot be asked.
    function doneIfSubmitted(carryOn, unsure) {
      alreadySubmitted().then(function (submitted) {
        if (stopped) return;
        if (!submitted) {
          carryOn();
          return;
        }
        stop();
        options.onDone(null);
      }, unsure);
    }

    // Does the link still take an answer? (The check answers 410 once it is withdrawn or expired.)
    function linkOpen() {
      return fetch(options.inviteUrl, { headers: { Accept: "application/json" } }).then(function (response) {
        if (response.status === 404 || response.status === 410) return false;
        if (!response.ok) throw new Error("the link's state is unknown (" + response.status + ")");
        return response.json().then(function (body) {
          return body.canSubmit !== false;
        });
      });
    }

    // The whole invite, or (in an interview) this upload's question, has its answer.
    function alreadySubmitted() {
      return fetch(options.inviteUrl, { headers: { Accept: "application/json" } }).then(function (response) {
        if (!response.ok) return false;
        return response.json().then(function (body) {
          if (body.status === "submitted") return true;
          return !!options.questionId && (body.questions || []).some(function (question) {
            return question.id === options.questionId && question.answered;
          });
        });
      });
    }

    if (options.uploadUrl) {
      finishing = true;
      finish(options.uploadUrl);
    } else {
      startUpload();
    }
    return { abort: stop };
  }

  // Is an unfinished upload of this take stored here?
  function hasPrevious(fingerprint) {
    return window.tus.defaultOptions.urlStorage.findUploadsByFingerprint(fingerprint).then(
      function (previous) {
        return previous.length > 0;
      },
      function () {
        return false;
      }
    );
  }

  // Forget a discarded take's upload: here, and (best effort) on the server.
  function forget(fingerprint) {
    var tus = window.tus;
    var storage = tus.defaultOptions.urlStorage;
    return storage
      .findUploadsByFingerprint(fingerprint)
      .then(function (previous) {
        return Promise.all(
          previous.map(function (entry) {
            var removed = storage.removeUpload(entry.urlStorageKey);
            if (!entry.uploadUrl) return removed;
            return Promise.all([removed, tus.Upload.terminate(entry.uploadUrl, { retryDelays: null })]);
          })
        );
      })
      .catch(function () {
        // The server expires abandoned uploads by itself.
      });
  }

  window.aurio = window.aurio || {};
  window.aurio.takeUpload = {
    isSupported: function () {
      return !!(window.tus && window.tus.isSupported);
    },
    fingerprintFor: fingerprintFor,
    hasPrevious: hasPrevious,
    forget: forget,
    send: send,
  };
})();
