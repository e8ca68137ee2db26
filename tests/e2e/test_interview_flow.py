"""An interview of several questions on the candidate's page, in Chromium.

The candidate goes through the questions one at a time; each accepted answer is
sent in the background (its own resumable upload) while the next question is
on screen; a reload resumes at the first question without an answer, and the
answers already on their way carry on by themselves. A practice question is
never sent; a chosen file longer than the question allows is refused before it
costs a take; the whole walk works with the keyboard alone and on a phone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, Route, expect
from pytest_django.live_server_helper import LiveServer

from invites.api import candidate_state
from invites.models import Answer, Invite
from invites.services import invite_create
from tests.e2e.record_page import (
    SMALL_CHUNK,
    Candidate,
    expect_done,
    kept_take_for,
    question_ids,
    record_take,
    wait_for_camera,
    wait_until,
)
from tests.support.factories import make_interview
from tests.support.media import make_video
from uploads.models import Upload
from videos.models import Video

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

UPLOAD_TIMEOUT_MS = 60_000


def interview_candidate(live_server: LiveServer, questions: list[dict[str, Any]], **fields: Any) -> Candidate:
    interview = make_interview(title="Support engineer", questions=questions, **fields)
    invite = invite_create(email="cand@example.com", name="Cand", interview=interview)
    return Candidate(invite, live_server.url)


def question(text: str, **fields: Any) -> dict[str, Any]:
    return {"text": text, "answer_seconds": 20, "thinking_seconds": 0, **fields}


def on_question(page: Page, number: int, total: int, text: str) -> None:
    heading = page.locator("#question-heading")
    expect(heading).to_have_text(f"Question {number} of {total}")
    expect(page.locator("#question-text")).to_have_text(text)


def state(invite: Invite) -> dict[str, Any]:
    """The candidate's state as GET /api/v1/invites/{token} gives it, read afresh."""
    invite.refresh_from_db()
    return dict(candidate_state(invite))


def answered_video(invite: Invite, question_id: str) -> Video | None:
    answer = Answer.objects.filter(invite=invite, question_id=question_id).first()
    if answer is None or answer.submission_id is None:
        return None
    return Video.objects.filter(pk=answer.submission_id).first()


def tus_creations(page: Page) -> list[str]:
    created: list[str] = []
    page.on(
        "request",
        lambda r: created.append(r.url) if r.method == "POST" and "/api/v1/tus/" in r.url else None,
    )
    return created


def test_three_questions_with_thinking_time_a_retake_and_a_reload(
    live_server: LiveServer, browser_page: Page
) -> None:
    candidate = interview_candidate(
        live_server,
        [
            question("Tell us about yourself.", thinking_seconds=3, retakes=2),
            question("Describe a bug you fixed."),
            question("Why this team?"),
        ],
        intro="Three short questions about you.",
        closing="We will be in touch within a week.",
        accent_colour="#aa3300",
    )
    invite, page = candidate.invite, browser_page
    page.goto(candidate.url(chunk=SMALL_CHUNK))
    welcome = page.locator("#welcome")
    expect(welcome).to_contain_text("Support engineer")
    expect(welcome).to_contain_text("Three short questions about you.")
    expect(welcome).to_contain_text("3 questions")
    accent = "() => getComputedStyle(document.documentElement).getPropertyValue('--accent').trim()"
    assert page.evaluate(accent) == "#aa3300"
    wait_for_camera(page)
    ids = question_ids(page)

    # Question 1: its text appears with the thinking time, then recording starts by itself.
    expect(page.locator("#start")).to_have_text("Show the question")
    page.click("#start")
    on_question(page, 1, 3, "Tell us about yourself.")
    expect(page.locator("#thinking")).to_be_visible()
    expect(page.locator("#announce")).to_contain_text("to think")
    expect(page.locator("#stop")).to_be_visible(timeout=10_000)  # nobody pressed anything
    expect(page.locator("#question-text")).to_be_visible()  # still there while recording
    page.wait_for_timeout(2_000)
    page.click("#stop")
    expect(page.locator("#submit")).to_have_text("Next question")
    # A retake: the 3-2-1 countdown this time.
    record_take(page, ms=2_000, button="#rerecord")
    expect(page.locator("#take-label")).to_have_text("Take 2 of 3")
    first = kept_take_for(page, ids[0])
    page.click("#submit")

    # Question 2 at once, while answer 1 travels; the focus is on its heading.
    on_question(page, 2, 3, "Describe a bug you fixed.")
    expect(page.locator("#question-heading")).to_be_focused()
    record_take(page, ms=2_000)
    page.reload()

    # Back at question 2 (its take offered, not sent); answer 1 carries on by itself.
    wait_for_camera_or_earlier(page)
    on_question(page, 2, 3, "Describe a bug you fixed.")
    assert wait_until(lambda: answered_video(invite, ids[0]) is not None, timeout=60)
    video_1 = answered_video(invite, ids[0])
    assert video_1 is not None
    assert Upload.objects.get(pk=video_1.pk).sha256 == first["sha256"]  # a tus upload's video has its id

    expect(page.locator("#earlier")).to_be_visible()
    page.click("#discard")
    wait_for_camera(page)
    record_take(page, ms=2_000)
    page.click("#submit")

    on_question(page, 3, 3, "Why this team?")
    record_take(page, ms=2_000)
    expect(page.locator("#submit")).to_have_text("Submit")
    page.click("#submit")
    expect_done(page, invite)
    expect(page.locator("#done")).to_contain_text("We will be in touch within a week.")

    videos = [answered_video(invite, question_id) for question_id in ids]
    assert all(videos), videos
    assert len({v.pk for v in videos if v}) == 3
    assert Video.objects.filter(invite=invite).count() == 3
    after = state(invite)
    assert after["status"] == "submitted"
    assert [q["takesUsed"] for q in after["questions"]] == [2, 2, 1]


def wait_for_camera_or_earlier(page: Page) -> None:
    expect(page.locator("#nojs")).to_be_hidden()
    expect(page.locator("#start, #earlier").first).to_be_visible()


def test_the_walk_fits_a_phone(live_server: LiveServer, phone_page: Page) -> None:
    candidate = interview_candidate(live_server, [question("First?"), question("Second?")])
    page = phone_page
    page.goto(candidate.url())
    wait_for_camera(page)

    def fits(selector: str) -> None:
        button = page.locator(selector)
        expect(button).to_be_visible()
        box = button.bounding_box()
        assert box is not None
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390, box
        assert box["y"] >= 0 and box["y"] + box["height"] <= 844, box
        assert box["height"] >= 44, box
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 390

    page.locator("#question-heading").scroll_into_view_if_needed()
    fits("#start")
    for number in (1, 2):
        on_question(page, number, 2, "First?" if number == 1 else "Second?")
        page.click("#start")
        fits("#stop")
        page.wait_for_timeout(1_500)
        page.click("#stop")
        fits("#submit")
        page.click("#submit")
    expect_done(page, candidate.invite)
    assert Video.objects.filter(invite=candidate.invite).count() == 2


def test_a_practice_question_is_never_sent(live_server: LiveServer, browser_page: Page) -> None:
    candidate = interview_candidate(
        live_server,
        [question("Practice: what did you have for breakfast?", practice=True), question("Real one?")],
    )
    page = browser_page
    created = tus_creations(page)
    page.goto(candidate.url())
    wait_for_camera(page)
    expect(page.locator("#question-heading")).to_have_text("Practice question")
    expect(page.locator("#start")).to_have_text("Start the practice question")
    record_take(page, ms=2_000)
    expect(page.locator("#submit")).to_have_text("Start the interview")
    page.click("#submit")
    on_question(page, 1, 1, "Real one?")
    page.wait_for_timeout(1_000)
    assert created == []
    assert not Upload.objects.filter(invite=candidate.invite).exists()
    assert [q["takesUsed"] for q in state(candidate.invite)["questions"]] == [0, 0]
    assert page.evaluate("() => JSON.stringify(localStorage)").count("aurio:") == 0

    record_take(page, ms=2_000)
    page.click("#submit")
    expect_done(page, candidate.invite)
    assert Upload.objects.filter(invite=candidate.invite).count() == 1


def test_a_file_longer_than_the_question_allows_is_refused_before_it_is_sent(
    live_server: LiveServer, browser_page: Page, tmp_path: Path
) -> None:
    candidate = interview_candidate(
        live_server, [question("Short one?", answer_seconds=3), question("Next?")]
    )
    page = browser_page
    created = tus_creations(page)
    page.goto(candidate.url())
    wait_for_camera(page)
    long_clip = make_video(tmp_path / "long.webm", seconds=6.0)
    page.locator("#file").set_input_files(str(long_clip))
    expect(page.locator("#error")).to_contain_text("0:06 long")
    expect(page.locator("#error")).to_contain_text("0:03")
    page.wait_for_timeout(500)
    assert created == []
    assert not Upload.objects.filter(invite=candidate.invite).exists()
    assert state(candidate.invite)["questions"][0]["takesUsed"] == 0

    # One within the limit (and its tolerance) goes through, as the answer to question 1.
    clip = make_video(tmp_path / "fits.webm", seconds=3.0)
    page.locator("#file").set_input_files(str(clip))
    expect(page.locator("#submit")).to_be_visible()
    page.click("#submit")
    on_question(page, 2, 2, "Next?")
    ids = question_ids(page)
    assert wait_until(lambda: answered_video(candidate.invite, ids[0]) is not None, timeout=60)


def test_one_question_with_the_keyboard_alone(live_server: LiveServer, browser_page: Page) -> None:
    candidate = interview_candidate(live_server, [question("Keys only?"), question("And again?")])
    page = browser_page
    page.goto(candidate.url())
    wait_for_camera(page)

    def tab_to(element_id: str) -> None:
        for _ in range(30):
            if page.evaluate("() => document.activeElement && document.activeElement.id") == element_id:
                assert page.evaluate("() => document.activeElement.matches(':focus-visible')")
                return
            page.keyboard.press("Tab")
        raise AssertionError(f"Tab never reached #{element_id}")

    tab_to("start")
    page.keyboard.press("Enter")
    expect(page.locator("#stop")).to_be_visible()
    expect(page.locator("#stop")).to_be_focused()
    expect(page.locator("#countdown")).to_be_hidden()
    page.wait_for_timeout(2_000)
    page.keyboard.press("Space")
    expect(page.locator("#playback")).to_be_visible()
    tab_to("submit")
    page.keyboard.press("Enter")
    on_question(page, 2, 2, "And again?")
    expect(page.locator("#question-heading")).to_be_focused()
    ids = question_ids(page)
    assert wait_until(lambda: answered_video(candidate.invite, ids[0]) is not None, timeout=60)


def test_a_refused_answer_brings_the_candidate_back_to_its_question(
    live_server: LiveServer, browser_page: Page
) -> None:
    candidate = interview_candidate(live_server, [question("Refused one?"), question("Meanwhile?")])
    page = browser_page
    page.goto(candidate.url())
    wait_for_camera(page)
    refusals: list[str] = []

    def refuse_first_finish(route: Route) -> None:
        if refusals:
            route.continue_()
            return
        refusals.append(route.request.url)
        too_long = '{"detail": "This video is too long."}'
        route.fulfill(status=422, content_type="application/json", body=too_long)

    page.route("**/finish", refuse_first_finish)
    record_take(page, ms=2_000)
    page.click("#submit")
    # Question 1's answer is refused while question 2 waits for its Start: back to question 1.
    on_question(page, 1, 2, "Refused one?")
    expect(page.locator("#error")).to_contain_text("This video is too long.")
    expect(page.locator("#error")).to_contain_text("Please record your answer again.")
    expect(page.locator("#submit")).to_be_hidden()
    record_take(page, ms=2_000, button="#rerecord")
    page.click("#submit")
    on_question(page, 2, 2, "Meanwhile?")
    record_take(page, ms=2_000)
    page.click("#submit")
    expect_done(page, candidate.invite)
    assert refusals
    assert [q["takesUsed"] for q in state(candidate.invite)["questions"]] == [2, 1]
