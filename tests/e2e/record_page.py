"""Steps on the candidate's record page shared by the browser tests."""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.files.storage import default_storage
from django.urls import reverse
from playwright.sync_api import Page, Route, expect

from invites.models import Invite
from uploads.models import Chunk, Upload

RECORD_MS = 4_000
# Generous: the server may remux the upload before it answers.
UPLOAD_TIMEOUT_MS = 60_000
# Small upload chunks (`?chunk=` on the page's URL), so a few seconds of fake
# camera (about 75 KB a second) travel in several PATCH requests.
SMALL_CHUNK = 64 * 1024
# Without `?chunk=`, the page sizes its PATCHes by speed (static/js/record-upload.js):
# the first is FIRST_CHUNK; none but the last is below MIN_CHUNK (the server's
# AURIO_MIN_CHUNK_BYTES) and none is above MAX_CHUNK (well under AURIO_MAX_CHUNK_BYTES).
FIRST_CHUNK = 256 * 1024
MIN_CHUNK = 64 * 1024
MAX_CHUNK = 5 * 1024 * 1024

# What the page kept of its take in IndexedDB (size and SHA-256), once the
# take is fully kept. (The page's CSP forbids fetching its in-memory blob: URL.)
KEPT_TAKE_JS = """
async () => {
  const db = await new Promise((resolve, reject) => {
    const opening = indexedDB.open("aurio-takes");
    opening.onsuccess = () => resolve(opening.result);
    opening.onerror = () => reject(opening.error);
  });
  const all = (name) => new Promise((resolve, reject) => {
    const request = db.transaction(name).objectStore(name).getAll();
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  if (!db.objectStoreNames.contains("takes")) { db.close(); return null; }
  const takes = await all("takes");
  const chunks = await all("chunks");
  db.close();
  if (takes.length !== 1 || takes[0].state !== "recorded") return null;
  const hex = async (blob) => Array.from(
    new Uint8Array(await crypto.subtle.digest("SHA-256", await blob.arrayBuffer())),
    (b) => b.toString(16).padStart(2, "0")).join("");
  const kept = new Blob(chunks.filter((c) => c.take === takes[0].key).map((c) => c.data));
  return { size: kept.size, declaredSize: takes[0].size, sha256: await hex(kept) };
}
"""

# How many takes the page still keeps in IndexedDB (any page of the same origin).
KEPT_TAKE_COUNT_JS = """
async () => {
  const db = await new Promise((resolve, reject) => {
    const opening = indexedDB.open("aurio-takes");
    opening.onsuccess = () => resolve(opening.result);
    opening.onerror = () => reject(opening.error);
  });
  if (!db.objectStoreNames.contains("takes")) { db.close(); return 0; }
  const count = await new Promise((resolve, reject) => {
    const request = db.transaction("takes").objectStore("takes").count();
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  db.close();
  return count;
}
"""


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll `condition` (e.g. a database read) until true or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def page_bytes(n: int) -> str:
    """A size as the page writes it (formatBytes in static/js/record.js)."""
    return f"{math.floor(n / 1e3 + 0.5)} KB" if n < 1e6 else f"{n / 1e6:.1f} MB"


def record_path(token: str, chunk: int | None = None) -> str:
    path = reverse("invites:record", args=[token])
    return f"{path}?chunk={chunk}" if chunk else path


def wait_for_camera(page: Page) -> None:
    expect(page.locator("#nojs")).to_be_hidden()
    expect(page.locator("#start")).to_be_enabled()
    page.wait_for_function("() => document.getElementById('preview').readyState >= 2")


@dataclass
class Candidate:
    """A candidate with an open invite of their own (the `candidate` fixture), and
    their record page at the live server's `address` or in front of it (a proxy's)."""

    invite: Invite
    address: str

    def url(self, address: str | None = None, *, chunk: int | None = None) -> str:
        return (address or self.address) + record_path(self.invite.token, chunk=chunk)

    def open(self, page: Page, address: str | None = None, *, chunk: int | None = None) -> Page:
        """Open the record page on `page` and wait until it shows the camera."""
        page.goto(self.url(address, chunk=chunk))
        wait_for_camera(page)
        return page


def record_take(page: Page, ms: int = RECORD_MS, button: str = "#start") -> None:
    """Press Start (or Re-record), sit through the countdown, record `ms`, stop."""
    page.click(button)
    expect(page.locator("#stop")).to_be_visible()
    expect(page.locator("#countdown")).to_be_hidden()
    page.wait_for_timeout(ms)  # the recording itself: real time is the point
    page.click("#stop")
    expect(page.locator("#playback")).to_be_visible()
    expect(page.locator("#submit")).to_be_enabled()


def kept_take(page: Page) -> dict[str, Any]:
    """The take as kept in IndexedDB: every chunk the recorder produced, in order."""
    # wait_for_function does not wait for an async predicate: poll inside the page instead.
    kept: dict[str, Any] | None = page.evaluate(
        f"""async () => {{
          const read = {KEPT_TAKE_JS};
          for (let tries = 0; tries < 100; tries++) {{
            const kept = await read();
            if (kept) return kept;
            await new Promise((resolve) => setTimeout(resolve, 100));
          }}
          return null;
        }}"""
    )
    assert kept is not None, "the page did not keep exactly one recorded take in IndexedDB"
    assert kept["size"] > 0
    assert kept["size"] == kept["declaredSize"], kept
    return kept


def kept_take_count(page: Page) -> int:
    return int(page.evaluate(KEPT_TAKE_COUNT_JS))


def expect_done(page: Page, invite: Invite) -> None:
    expect(page.locator("h1")).to_contain_text("Thank you", timeout=UPLOAD_TIMEOUT_MS)
    assert page.url.endswith(reverse("invites:done", args=[invite.token]))


def assembled_sha256(upload: Upload) -> str:
    """SHA-256 of the bytes the server holds for an upload (its committed chunks, in order)."""
    digest = hashlib.sha256()
    for chunk in Chunk.objects.filter(upload=upload, offset__lt=upload.offset).order_by("offset"):
        with default_storage.open(chunk.name, "rb") as f:
            digest.update(f.read())
    return digest.hexdigest()


def capture_received_upload(page: Page) -> dict[str, Any]:
    """Before each "finish" request goes out, note what the server received for that upload.

    Finishing assembles the chunks and may remux them (WebM), then deletes the
    chunks: this is the last moment the uploaded bytes themselves can be read.
    """
    received: dict[str, Any] = {}

    def before_finish(route: Route) -> None:
        upload_id = route.request.url.rstrip("/").split("/")[-2]
        upload = Upload.objects.filter(pk=upload_id).first()
        if upload is not None and upload.video_id is None:
            received.update(
                id=upload.pk, length=upload.length, offset=upload.offset, sha256=assembled_sha256(upload)
            )
        route.continue_()

    page.route("**/finish", before_finish)
    return received


# Every take the page keeps in IndexedDB, whole: its question, size and SHA-256.
KEPT_TAKES_JS = """
async () => {
  const db = await new Promise((resolve, reject) => {
    const opening = indexedDB.open("aurio-takes");
    opening.onsuccess = () => resolve(opening.result);
    opening.onerror = () => reject(opening.error);
  });
  const all = (name) => new Promise((resolve, reject) => {
    const request = db.transaction(name).objectStore(name).getAll();
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  if (!db.objectStoreNames.contains("takes")) { db.close(); return []; }
  const takes = await all("takes");
  const chunks = await all("chunks");
  db.close();
  const hex = async (blob) => Array.from(
    new Uint8Array(await crypto.subtle.digest("SHA-256", await blob.arrayBuffer())),
    (b) => b.toString(16).padStart(2, "0")).join("");
  const result = [];
  for (const take of takes) {
    const kept = new Blob(chunks.filter((c) => c.take === take.key).map((c) => c.data));
    result.push({ questionId: take.questionId || null, state: take.state, size: kept.size,
      declaredSize: take.size, sha256: await hex(kept) });
  }
  return result;
}
"""


def kept_take_for(page: Page, question_id: str) -> dict[str, Any]:
    """The recorded take the page keeps for one question of an interview."""
    deadline = time.monotonic() + 10
    while True:
        takes = page.evaluate(KEPT_TAKES_JS)
        found = [t for t in takes if t["questionId"] == question_id and t["state"] == "recorded"]
        if len(found) == 1 and found[0]["size"] == found[0]["declaredSize"]:
            return dict(found[0])
        assert time.monotonic() < deadline, takes
        time.sleep(0.1)


def question_ids(page: Page) -> list[str]:
    """The interview's questions as the page has them (practice included), in order."""
    return list(
        page.evaluate(
            """() => JSON.parse(document.getElementById("interview-data").textContent).questions
              .sort((a, b) => a.position - b.position).map((q) => q.id)"""
        )
    )


def takes_used(invite: Invite, number: int = 1) -> int:
    """The takes the server counted for one question (the first, by default), read afresh."""
    from invites.api import candidate_state

    invite.refresh_from_db()
    questions = candidate_state(invite)["questions"]
    assert isinstance(questions, list)
    return int(next(q for q in questions if q["number"] == number)["takesUsed"])
