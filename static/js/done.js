// The confirmation page: the answer is in, so any copy of a take still kept
// in this browser (IndexedDB, see record-store.js) for this invite can go.
"use strict";

(function () {
  const root = document.getElementById("done");
  const token = root && root.dataset.token;
  if (!token || !window.aurio || !window.aurio.takeStore) return;
  window.aurio.takeStore.open().then(function (store) {
    if (!store) return;
    return store.takesFor(token).then(function (takes) {
      return Promise.all(takes.map(function (take) { return store.deleteTake(take.key); }));
    });
  }).catch(function () { /* nothing kept, or storage unavailable: nothing to clean */ });
})();
