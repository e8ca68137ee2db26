"""A recruiter, in Chromium, builds a three-question interview in the admin,
invites two candidates to it from a pasted list and sends them the emails;
each email's link opens that interview's first question.

With AURIO_E2E_SCREENSHOTS naming a folder (scripts/screenshots does that for
docs/screenshots), the pages are kept as pictures for the README.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core import mail
from django.test import Client
from django.urls import reverse
from playwright.sync_api import Browser, Page, expect
from pytest_django.live_server_helper import LiveServer

from audit.models import AuditEvent
from interviews.models import Interview
from invites.models import Invite

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

QUESTIONS = [
    ("Tell us about a system you designed and what you would change today.", "90", "20", "1"),
    ("How do you review a teammate's code?", "60", "10", "0"),
    ("Why this role?", "45", "0", "2"),
]


@pytest.fixture
def staff_page(chromium: Browser, live_server: LiveServer) -> Iterator[Page]:
    """A desktop browser with a recruiter's session."""
    user = User.objects.create_superuser(
        "rec", "rec@example.com", "pw", first_name="Rita", last_name="Recruiter"
    )
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    context = chromium.new_context(viewport={"width": 1366, "height": 900})
    context.add_cookies(
        [{"name": cookie.key, "value": cookie.value, "url": live_server.url, "httpOnly": True}]
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    yield page
    context.close()
    assert errors == []


def build_interview(page: Page, base: str) -> Interview:
    page.goto(base + reverse("admin:interviews_interview_add"))
    page.fill("#id_title", "Platform engineer")
    page.fill(
        "#id_intro", "Three short questions about how you build and review software. About ten minutes."
    )
    page.fill("#id_closing", "Thank you! We reply within a week.")
    page.fill("#id_deadline_days", "10")
    for index, (text, answer, thinking, retakes) in enumerate(QUESTIONS):
        if index:
            page.click(".add-row a")
        page.fill(f"#id_questions-{index}-text", text)
        page.fill(f"#id_questions-{index}-answer_seconds", answer)
        page.fill(f"#id_questions-{index}-thinking_seconds", thinking)
        page.fill(f"#id_questions-{index}-retakes", retakes)
    page.click("input[name=_continue]")
    expect(page.locator(".messagelist")).to_contain_text("was added successfully")
    return Interview.objects.get(title="Platform engineer")


def test_a_recruiter_builds_an_interview_invites_two_and_sends_the_emails(
    staff_page: Page, live_server: LiveServer, screenshot: Callable[[Page, str], None]
) -> None:
    page, base = staff_page, live_server.url
    interview = build_interview(page, base)
    questions = list(interview.questions.all())
    assert [(q.text, q.answer_seconds, q.thinking_seconds, q.retakes) for q in questions] == [
        (text, int(answer), int(thinking), int(retakes)) for text, answer, thinking, retakes in QUESTIONS
    ]
    assert [q.position for q in questions] == [0, 1, 2]
    # The whole question table fits a 1366 px screen: no scrolling sideways to reach retakes.
    table = page.locator(".inline-group table").bounding_box()
    assert table is not None and table["x"] + table["width"] <= 1366
    screenshot(page, "recruiter-1-interview")

    page.goto(base + reverse("admin:invites_invite_changelist"))
    page.click(f"a[href='{reverse('admin:invites_invite_bulk')}']")
    page.select_option("#id_interview", label="Platform engineer")
    page.fill("#id_candidates", "Ada Lovelace <ada@example.com>\ngrace@example.com, Grace Hopper\n")
    page.check("#id_send_now")
    screenshot(page, "recruiter-2-invite-candidates")
    page.click("input[type=submit][value=Invite]")
    expect(page.locator(".messagelist")).to_contain_text("2")

    invites = {invite.email: invite for invite in Invite.objects.filter(interview=interview)}
    assert set(invites) == {"ada@example.com", "grace@example.com"}
    assert invites["ada@example.com"].name == "Ada Lovelace"
    assert all(invite.sent_at is not None for invite in invites.values())
    assert sorted(m.to[0] for m in mail.outbox) == ["ada@example.com", "grace@example.com"]
    for message in mail.outbox:
        invite = invites[message.to[0]]
        assert invite.link in message.body
        assert "Platform engineer" in message.subject + message.body
    assert AuditEvent.objects.filter(action="emailed").count() == 2
    expect(page.locator("#result_list")).to_contain_text("ada@example.com")
    # (The list's own width at 1366 px is issue 14's: its copy-link column still needs a scroll.)
    expect(page.locator(".field-progress").first).to_contain_text("sent")
    screenshot(page, "recruiter-3-invites")

    # Ada follows the link in her email: the welcome names the interview; question 1
    # shows with its thinking time, then records by itself; the answers go in the
    # background; the done page has the closing text.
    ada = invites["ada@example.com"]
    candidate = page.context.browser.new_context(viewport={"width": 1280, "height": 860})  # type: ignore[union-attr]
    candidate.on("dialog", lambda dialog: dialog.accept())
    try:
        walk_as_candidate(candidate.new_page(), ada.link.replace(settings.SITE_URL, base), screenshot)
    finally:
        candidate.close()
    ada.refresh_from_db()
    assert ada.status == "submitted"
    answers = list(ada.videos.order_by("question__position").values_list("question__text", flat=True))
    assert answers == [text for text, *_ in QUESTIONS]


def walk_as_candidate(cand: Page, link: str, screenshot: Callable[[Page, str], None]) -> None:
    cand.goto(link)
    expect(cand.locator("#welcome")).to_contain_text("Platform engineer")
    expect(cand.locator("#welcome")).to_contain_text("3 questions")
    expect(cand.locator("#start")).to_be_enabled()
    cand.wait_for_function("() => document.getElementById('preview').readyState >= 2")
    screenshot(cand, "candidate-1-welcome")
    cand.click("#start")
    expect(cand.locator("#question-heading")).to_have_text("Question 1 of 3")
    expect(cand.locator("#thinking")).to_be_visible()
    cand.wait_for_timeout(1_500)
    screenshot(cand, "candidate-2-thinking")
    expect(cand.locator("#stop")).to_be_visible(timeout=30_000)  # recording started by itself
    cand.wait_for_timeout(2_000)
    screenshot(cand, "candidate-3-recording")
    cand.click("#stop")
    expect(cand.locator("#submit")).to_have_text("Next question")
    screenshot(cand, "candidate-4-review")
    cand.click("#submit")
    for number in (2, 3):
        expect(cand.locator("#question-heading")).to_have_text(f"Question {number} of 3")
        if number == 2:  # its thinking time starts as soon as it is on screen ("Next question" was pressed)
            expect(cand.locator("#thinking")).to_be_visible()
        else:
            cand.click("#start")
        expect(cand.locator("#stop")).to_be_visible(timeout=30_000)
        cand.wait_for_timeout(1_500)
        cand.click("#stop")
        expect(cand.locator("#submit")).to_be_enabled()
        cand.click("#submit")
    expect(cand.locator("h1")).to_contain_text("Thank you", timeout=60_000)
    expect(cand.locator("#done")).to_contain_text("We reply within a week.")
    screenshot(cand, "candidate-5-done")


def test_moving_a_question_down_in_the_builder_saves_the_order_shown(
    staff_page: Page, live_server: LiveServer
) -> None:
    from tests.support.factories import make_interview

    interview = make_interview(questions=[{"text": "Asked first?"}, {"text": "Asked second?"}])
    staff_page.goto(live_server.url + reverse("admin:interviews_interview_change", args=[interview.pk]))
    staff_page.locator("tr.form-row.has_original").first.get_by_title("Move down").click()
    expect(staff_page.locator("#id_questions-0-position")).to_have_value("1")
    expect(staff_page.locator("#id_questions-2-position")).to_have_value("")  # the blank new row
    staff_page.click("input[name=_continue]")
    expect(staff_page.locator(".messagelist")).to_contain_text("was changed successfully")
    assert [q.text for q in interview.questions.all()] == ["Asked second?", "Asked first?"]
