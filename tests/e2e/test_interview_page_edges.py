"""Edge cases of the candidate's interview page (issue 13): a careless candidate (the last
take, a reload in the countdown or during thinking time, a double click, a file that is
not a video), the same link in two tabs, closing the tab after the last answer, an
interview's text that tries to run script, and a bad connection. None of them may cost
the candidate a take or an answer, or leave the page stuck."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect
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
from uploads.models import Upload
from videos.models import Video

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def interview_candidate(live_server: LiveServer, questions: list[dict[str, Any]], **fields: Any) -> Candidate:
    interview = make_interview(title="Support engineer", questions=questions, **fields)
    invite = invite_create(email="cand@example.com", name="Cand", interview=interview)
    return Candidate(invite, live_server.url)


def question(text: str, **fields: Any) -> dict[str, Any]:
    return {"text": text, "answer_seconds": 20, "thinking_seconds": 0, **fields}


def takes(invite: Invite) -> list[int]:
    invite.refresh_from_db()
    return [int(q["takesUsed"]) for q in candidate_state(invite)["questions"]]  # type: ignore[index,union-attr]


def answered_video(invite: Invite, question_id: str) -> Video | None:
    answer = Answer.objects.filter(invite=invite, question_id=question_id).first()
    if answer is None or answer.submission_id is None:
        return None
    return Video.objects.filter(pk=answer.submission_id).first()


def on_question(page: Page, number: int, total: int) -> None:
    expect(page.locator("#question-heading")).to_have_text(f"Question {number} of {total}")


# --- a careless candidate ---------------------------------------------------------------


def test_discarding_the_last_take_after_a_reload_must_not_leave_the_question_unanswerable(
    live_server: LiveServer, browser_page: Page
) -> None:
    """One take allowed; recorded, page reloaded before "Next question": the earlier take is
    offered, but not "Discard it" (the server would refuse a new take, and a file too): it
    is the candidate's last take for the question."""
    candidate = interview_candidate(live_server, [question("Only one take?", retakes=0), question("Second?")])
    page = browser_page
    candidate.open(page)
    record_take(page, ms=2_000)
    ids = question_ids(page)
    kept_take_for(page, ids[0])
    page.reload()
    expect(page.locator("#earlier")).to_be_visible()
    assert takes(candidate.invite) == [1, 0]
    if page.locator("#discard").is_visible():
        page.click("#discard")
        wait_for_camera(page)
        page.click("#start")
        # Should record: instead "You have used all 1 take for this question." and no way on.
        expect(page.locator("#stop")).to_be_visible(timeout=5_000)


def test_a_reload_during_the_3_2_1_countdown_does_not_spend_the_take(
    live_server: LiveServer, browser_page: Page
) -> None:
    """A take the server counted is remembered as unspent until its first chunk is kept, so a
    reload in the 3-2-1 countdown gives it back."""
    candidate = interview_candidate(live_server, [question("One take?", retakes=0), question("Second?")])
    page = browser_page
    candidate.open(page)
    page.click("#start")
    expect(page.locator("#countdown")).to_be_visible()
    assert wait_until(lambda: takes(candidate.invite)[0] == 1)
    page.reload()
    wait_for_camera(page)
    page.click("#start")
    expect(page.locator("#error")).to_be_hidden()
    expect(page.locator("#stop")).to_be_visible(timeout=8_000)


def test_double_clicking_next_question_does_not_skip_the_next_questions_thinking_time(
    live_server: LiveServer, browser_page: Page
) -> None:
    """Moving on to a question with thinking time shows it and starts its countdown (one click
    does that). The second click of a double click on "Next question" lands where "Start now"
    is: it must not skip the thinking time and start recording."""
    candidate = interview_candidate(
        live_server, [question("First?"), question("Second?", thinking_seconds=30), question("Third?")]
    )
    page = browser_page
    candidate.open(page)
    record_take(page, ms=1_500)
    page.dblclick("#submit")
    on_question(page, 2, 3)
    page.wait_for_timeout(1_500)
    expect(page.locator("#thinking")).to_be_visible()
    expect(page.locator("#countdown")).to_be_hidden()
    expect(page.locator("#stop")).to_be_hidden()
    assert takes(candidate.invite)[1] == 0


def test_double_clicking_next_question_does_not_spend_a_take_of_the_next(
    live_server: LiveServer, browser_page: Page
) -> None:
    candidate = interview_candidate(live_server, [question("First?"), question("Second?", retakes=0)])
    page = browser_page
    candidate.open(page)
    record_take(page, ms=1_500)
    page.dblclick("#submit")
    on_question(page, 2, 2)
    page.wait_for_timeout(1_500)
    assert takes(candidate.invite)[1] == 0
    expect(page.locator("#countdown")).to_be_hidden()


# "Next question", then at once a second click (event.detail 2, as a double click's) on the
# first button the next question shows where "Next question" was.
NEXT_THEN_SECOND_CLICK = """() => {
  document.getElementById("submit").click();
  const first = [...document.querySelectorAll(".controls button")].find((b) => !b.hidden);
  first.dispatchEvent(new MouseEvent("click", { bubbles: true, cancelable: true, detail: 2 }));
  return first.id;
}"""


def test_the_second_click_of_a_double_click_on_next_question_is_ignored(
    live_server: LiveServer, browser_page: Page
) -> None:
    """Where the layout puts the next question's first button under the pointer (not so in
    this browser's window, hence a synthetic second click): "Start now" must not skip the
    thinking time, and "Start recording" must not spend a take."""
    candidate = interview_candidate(
        live_server,
        [question("First?"), question("Second?", thinking_seconds=30), question("Third?", retakes=0)],
    )
    page = browser_page
    candidate.open(page)
    record_take(page, ms=1_500)
    assert page.evaluate(NEXT_THEN_SECOND_CLICK) == "start-now"
    on_question(page, 2, 3)
    page.wait_for_timeout(1_500)
    expect(page.locator("#thinking")).to_be_visible()
    expect(page.locator("#stop")).to_be_hidden()
    page.click("#start-now")
    expect(page.locator("#stop")).to_be_visible()
    page.wait_for_timeout(1_500)
    page.click("#stop")
    expect(page.locator("#submit")).to_be_enabled()
    assert page.evaluate(NEXT_THEN_SECOND_CLICK) == "start"
    on_question(page, 3, 3)
    page.wait_for_timeout(1_500)
    expect(page.locator("#countdown")).to_be_hidden()
    assert takes(candidate.invite) == [1, 1, 0]
    page.click("#start")  # a click of its own still starts the take
    expect(page.locator("#stop")).to_be_visible()


def test_a_file_that_is_not_a_video_does_not_cost_a_take(
    live_server: LiveServer, phone_page: Page, tmp_path: Path
) -> None:
    """On a phone the picker can hand over any file: one that is not a video is refused by
    the page before it is counted as a take."""
    candidate = interview_candidate(live_server, [question("One take?", retakes=0), question("Second?")])
    page = phone_page
    candidate.open(page)
    notes = tmp_path / "cv.pdf"
    notes.write_bytes(b"%PDF-1.4\n" + b"not a video at all\n" * 2000)
    page.locator("#file").set_input_files(str(notes))
    page.wait_for_timeout(1_000)
    if page.locator("#submit").is_visible():
        page.click("#submit")
    page.wait_for_timeout(3_000)
    assert takes(candidate.invite)[0] == 0, "a file that is not a video was counted as a take"


# --- the same link in two tabs ----------------------------------------------------------


def test_a_second_tab_behind_the_first_moves_on_instead_of_calling_the_link_gone(
    live_server: LiveServer, chromium: Browser
) -> None:
    """Tab A answers question 1; tab B, opened at the same time, still shows question 1.
    Pressing Start in B gets 409 "already answered" from the takes endpoint: B learns which
    questions are answered and goes on to the next one (the link is not gone)."""
    candidate = interview_candidate(
        live_server, [question("First?"), question("Second?"), question("Third?")]
    )
    ids_holder: list[str] = []
    context_a = chromium.new_context()
    context_b = chromium.new_context()
    try:
        a, b = context_a.new_page(), context_b.new_page()
        for p in (a, b):
            p.on("dialog", lambda d: d.accept())
            candidate.open(p)
        ids_holder = question_ids(a)
        record_take(a, ms=1_500)
        a.click("#submit")
        on_question(a, 2, 3)
        assert wait_until(lambda: answered_video(candidate.invite, ids_holder[0]) is not None, timeout=60)

        b.click("#start")
        b.wait_for_timeout(1_500)
        expect(b.locator("#recorder")).to_be_visible()  # not "gone"
        expect(b.locator("#error")).not_to_contain_text("already been answered")
        on_question(b, 2, 3)  # on to the next question left
    finally:
        context_a.close()
        context_b.close()


def test_two_tabs_answering_at_once_both_end_on_the_done_page_with_every_answer(
    live_server: LiveServer, chromium: Browser
) -> None:
    """Two tabs (two devices) each answer one of two questions at the same time."""
    candidate = interview_candidate(live_server, [question("First?"), question("Second?")])
    context_a = chromium.new_context()
    context_b = chromium.new_context()
    try:
        a, b = context_a.new_page(), context_b.new_page()
        for p in (a, b):
            p.on("dialog", lambda d: d.accept())
            candidate.open(p)
        ids = question_ids(a)
        # A answers question 1; B, seeing question 1 too, records it as well and sends it.
        record_take(a, ms=1_500)
        record_take(b, ms=1_500)
        assert takes(candidate.invite) == [2, 0]
        a.click("#submit")
        b.click("#submit")
        # Both move to question 2 (the last one); each answers it.
        on_question(a, 2, 2)
        on_question(b, 2, 2)
        record_take(a, ms=1_500)
        record_take(b, ms=1_500)
        a.click("#submit")
        b.click("#submit")
        expect_done(a, candidate.invite)
        expect_done(b, candidate.invite)
        assert all(answered_video(candidate.invite, i) for i in ids)
        assert Video.objects.filter(invite=candidate.invite).count() == 2
    finally:
        context_a.close()
        context_b.close()


# --- closing the tab after the last Submit -------------------------------------------------


def test_closing_the_tab_after_the_last_submit_and_reopening_finishes_every_answer(
    live_server: LiveServer, chromium: Browser
) -> None:
    candidate = interview_candidate(live_server, [question("First?"), question("Second?")])
    context = chromium.new_context()
    try:
        page = context.new_page()
        page.on("dialog", lambda d: d.accept())
        # Nothing reaches the server from this tab: every PATCH fails.
        page.route(
            "**/api/v1/tus/**",
            lambda route: route.abort() if route.request.method == "PATCH" else route.continue_(),
        )
        page.goto(candidate.url(chunk=SMALL_CHUNK))
        wait_for_camera(page)
        ids = question_ids(page)
        record_take(page, ms=2_000)
        first = kept_take_for(page, ids[0])
        page.click("#submit")
        on_question(page, 2, 2)
        record_take(page, ms=2_000)
        second = kept_take_for(page, ids[1])
        page.click("#submit")
        expect(page.locator("#upload")).to_be_visible()
        page.wait_for_timeout(1_000)
        page.close(run_before_unload=False)

        again = context.new_page()
        again.goto(candidate.url(chunk=SMALL_CHUNK))
        expect_done(again, candidate.invite)
        v1, v2 = answered_video(candidate.invite, ids[0]), answered_video(candidate.invite, ids[1])
        assert v1 and v2
        assert Upload.objects.get(pk=v1.pk).sha256 == first["sha256"]  # a tus upload's video has its id
        assert Upload.objects.get(pk=v2.pk).sha256 == second["sha256"]  # a tus upload's video has its id
    finally:
        context.close()


# --- an attacker's interview text -----------------------------------------------------------

XSS = '</script><script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">\u2028"\'&'


def test_interview_text_cannot_run_script_on_the_record_or_done_page(
    live_server: LiveServer, browser_page: Page
) -> None:
    candidate = interview_candidate(
        live_server,
        [question("Q1 " + XSS, thinking_seconds=3), question("Q2 " + XSS)],
        intro="Intro " + XSS,
        closing="Closing " + XSS,
    )
    Invite.objects.filter(pk=candidate.invite.pk).update(name="Name " + XSS)
    from interviews.models import Interview

    Interview.objects.filter(pk=candidate.invite.interview_id).update(title="Title " + XSS)
    page = browser_page
    dialogs: list[str] = []
    page.on("dialog", lambda d: dialogs.append(d.message))
    candidate.open(page)
    assert page.evaluate("() => window.__pwned") is None
    assert page.locator("img[src=x]").count() == 0
    expect(page.locator("#welcome")).to_contain_text("Title </script>")
    page.click("#start")
    expect(page.locator("#question-text")).to_contain_text("Q1 </script><script>")
    expect(page.locator("#stop")).to_be_visible(timeout=10_000)
    page.wait_for_timeout(1_500)
    page.click("#stop")
    page.click("#submit")
    record_take(page, ms=1_500)
    page.click("#submit")
    expect_done(page, candidate.invite)
    expect(page.locator("#done")).to_contain_text("Closing </script>")
    assert page.evaluate("() => window.__pwned") is None
    assert page.locator("img[src=x]").count() == 0


# --- thinking time --------------------------------------------------------------------------


def test_a_reload_during_thinking_time_does_not_grant_it_again(
    live_server: LiveServer, browser_page: Page
) -> None:
    """Show the question (60 s to think), wait, reload: the countdown carries on from the
    time left instead of granting a full 60 s again."""
    candidate = interview_candidate(live_server, [question("Think?", thinking_seconds=60), question("Two?")])
    page = browser_page
    candidate.open(page)
    page.click("#start")
    expect(page.locator("#thinking")).to_be_visible()
    page.wait_for_timeout(5_000)
    page.reload()
    wait_for_camera(page)
    if page.locator("#start").inner_text() == "Show the question":
        page.click("#start")
    expect(page.locator("#thinking")).to_be_visible()
    left = page.locator("#thinking-left").inner_text()
    minutes, seconds = left.split(":")
    assert int(minutes) * 60 + int(seconds) <= 56, f"thinking time started afresh after a reload: {left}"


def test_another_device_gets_only_the_thinking_time_left_and_the_text_is_not_in_the_page_before(
    live_server: LiveServer, chromium: Browser
) -> None:
    """The question's text is not in the page until "Show the question"; a second device (no
    storage of the first) then shows it at once, with the time the server says is left."""
    candidate = interview_candidate(
        live_server, [question("What would you never automate?", thinking_seconds=60)]
    )
    first = chromium.new_context()
    second = chromium.new_context()
    try:
        page = first.new_page()
        candidate.open(page)
        assert "never automate" not in page.content()
        page.click("#start")
        expect(page.locator("#question-text")).to_have_text("What would you never automate?")
        page.wait_for_timeout(5_000)

        other = second.new_page()
        other.goto(candidate.url())
        expect(other.locator("#question-text")).to_have_text("What would you never automate?")
        expect(other.locator("#thinking")).to_be_visible()
        minutes, seconds = other.locator("#thinking-left").inner_text().split(":")
        assert int(minutes) * 60 + int(seconds) <= 56
    finally:
        first.close()
        second.close()


# --- a bad connection ------------------------------------------------------------------------


def test_three_answers_with_the_connection_cut_while_the_first_is_on_its_way(
    live_server: LiveServer, browser_page: Page, proxy: Any
) -> None:
    interview = make_interview(
        title="Net", questions=[question("One?"), question("Two?"), question("Three?")]
    )
    invite = invite_create(email="net@example.com", name="Net", interview=interview)
    cand = Candidate(invite, live_server.url)
    page = browser_page
    proxy.throttle(60_000)  # a slow phone line
    page.goto(cand.url(proxy.url, chunk=SMALL_CHUNK))
    wait_for_camera(page)
    ids = question_ids(page)
    record_take(page, ms=3_000)
    first = kept_take_for(page, ids[0])
    page.click("#submit")
    on_question(page, 2, 3)
    page.wait_for_timeout(1_000)
    proxy.refuse_for(8)
    page.click("#start")
    # The take cannot be counted while offline: the page says so and lets the candidate retry.
    expect(page.locator("#error")).to_be_visible(timeout=15_000)
    page.wait_for_timeout(8_000)
    proxy.throttle(None)
    record_take(page, ms=2_000)
    second = kept_take_for(page, ids[1])
    page.click("#submit")
    on_question(page, 3, 3)
    record_take(page, ms=2_000)
    third = kept_take_for(page, ids[2])
    page.click("#submit")
    expect_done(page, invite)
    for qid, kept in zip(ids, (first, second, third), strict=True):
        video = answered_video(invite, qid)
        assert video is not None
        assert Upload.objects.get(pk=video.pk).sha256 == kept["sha256"]  # a tus upload's video has its id
    assert takes(invite) == [1, 1, 1]


def test_a_reload_right_after_next_question_keeps_that_answer(
    live_server: LiveServer, browser_page: Page
) -> None:
    candidate = interview_candidate(live_server, [question("One?"), question("Two?")])
    page = browser_page
    candidate.open(page, chunk=SMALL_CHUNK)
    ids = question_ids(page)
    record_take(page, ms=2_000)
    first = kept_take_for(page, ids[0])
    page.click("#submit")
    page.reload()
    on_question(page, 2, 2)
    assert wait_until(lambda: answered_video(candidate.invite, ids[0]) is not None, timeout=60)
    video = answered_video(candidate.invite, ids[0])
    assert video is not None
    assert Upload.objects.get(pk=video.pk).sha256 == first["sha256"]  # a tus upload's video has its id
