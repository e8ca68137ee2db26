/* Keeps the candidate's takes in the browser (IndexedDB) until they are submitted.
 *
 * Every MediaRecorder chunk is written as it arrives, so a crash, a reload or
 * a closed tab mid-recording or mid-upload still leaves the take to submit.
 * Chunks are stored as ArrayBuffers (older Safari cannot store Blobs), keyed
 * by [take key, sequence number] so they read back in recorded order.
 *
 * Used by static/js/record.js as `aurio.takeStore.open()`, which resolves
 * with a store, or with null where IndexedDB is unusable (private windows in
 * some browsers): the page then keeps the take in memory only.
 */
(function () {
  "use strict";

  var DB_NAME = "aurio-takes";
  var DB_VERSION = 1;
  var TAKES = "takes";
  var CHUNKS = "chunks";

  function promised(request) {
    return new Promise(function (resolve, reject) {
      request.onsuccess = function () {
        resolve(request.result);
      };
      request.onerror = function () {
        reject(request.error);
      };
    });
  }

  // Resolves when the transaction is committed, not merely when its requests succeeded.
  function committed(transaction) {
    return new Promise(function (resolve, reject) {
      transaction.oncomplete = function () {
        resolve();
      };
      transaction.onerror = transaction.onabort = function () {
        reject(transaction.error || new Error("IndexedDB transaction aborted"));
      };
    });
  }

  function chunksOf(key) {
    return IDBKeyRange.bound([key, 0], [key, Infinity]);
  }

  function upgrade(db) {
    if (!db.objectStoreNames.contains(TAKES)) {
      db.createObjectStore(TAKES, { keyPath: "key" }).createIndex("token", "token");
    }
    if (!db.objectStoreNames.contains(CHUNKS)) {
      db.createObjectStore(CHUNKS, { keyPath: ["take", "seq"] });
    }
  }

  function Store(db) {
    this.db = db;
  }

  Store.keyFor = function (token, takeId) {
    return token + "/" + takeId;
  };

  /* A take: {key, token, id, number, mimeType, createdAt, state: "recording" | "recorded",
   * size, seconds, uploadUrl}. */
  Store.prototype.createTake = function (take) {
    var tx = this.db.transaction(TAKES, "readwrite");
    tx.objectStore(TAKES).put(take);
    return committed(tx);
  };

  Store.prototype.updateTake = function (key, changes) {
    var tx = this.db.transaction(TAKES, "readwrite");
    var takes = tx.objectStore(TAKES);
    var request = takes.get(key);
    // A plain callback: the transaction must still be active when we write.
    request.onsuccess = function () {
      if (request.result) takes.put(Object.assign(request.result, changes));
    };
    return committed(tx);
  };

  Store.prototype.addChunk = function (key, seq, data) {
    var tx = this.db.transaction(CHUNKS, "readwrite");
    tx.objectStore(CHUNKS).put({ take: key, seq: seq, data: data });
    return committed(tx);
  };

  // This invite's takes, newest first.
  Store.prototype.takesFor = function (token) {
    var tx = this.db.transaction(TAKES, "readonly");
    return promised(tx.objectStore(TAKES).index("token").getAll(token)).then(function (takes) {
      return takes.sort(function (a, b) {
        return b.createdAt - a.createdAt;
      });
    });
  };

  // The take's bytes as one Blob, exactly as recorded (the same bytes resume the same upload).
  Store.prototype.readTake = function (take) {
    var tx = this.db.transaction(CHUNKS, "readonly");
    return promised(tx.objectStore(CHUNKS).getAll(chunksOf(take.key))).then(function (chunks) {
      return new Blob(
        chunks.map(function (chunk) {
          return chunk.data;
        }),
        { type: take.mimeType }
      );
    });
  };

  Store.prototype.deleteTake = function (key) {
    var tx = this.db.transaction([TAKES, CHUNKS], "readwrite");
    tx.objectStore(TAKES).delete(key);
    tx.objectStore(CHUNKS).delete(chunksOf(key));
    return committed(tx);
  };

  function open() {
    if (!window.indexedDB) return Promise.resolve(null);
    return new Promise(function (resolve) {
      var request;
      try {
        request = window.indexedDB.open(DB_NAME, DB_VERSION);
      } catch (error) {
        resolve(null);
        return;
      }
      request.onupgradeneeded = function () {
        upgrade(request.result);
      };
      request.onsuccess = function () {
        var db = request.result;
        // Another tab with a newer version of this page wants to upgrade: let it.
        db.onversionchange = function () {
          db.close();
        };
        resolve(new Store(db));
      };
      request.onerror = function () {
        resolve(null);
      };
      request.onblocked = function () {
        resolve(null);
      };
    });
  }

  window.aurio = window.aurio || {};
  window.aurio.takeStore = { open: open, keyFor: Store.keyFor };
})();
