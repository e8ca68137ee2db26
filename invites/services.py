"""Writes to invites: each multi-step change in one place."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.db import IntegrityError, transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from audit import services as audit
from audit.services import CANDIDATE, SYSTEM, Action, Actor
from interviews.models import Interview, Question
from invites.models import Answer, Invite, default_expiry, hash_token, new_nonce, token_for_nonce, usable_now

# What staff may change on an invite after creating it.
EDITABLE = ("email", "name", "expires_at", "extra_time_percent", "extra_takes")


def invite_create(
    *,
    email: str,
    name: str = "",
    expires_at: datetime | None = None,
    created_by: User | AnonymousUser | None = None,
    actor: Actor | None = None,
    interview: Interview | None = None,
) -> Invite:
    """`actor` is who the audit trail names; by default `created_by` (or "system").
    Without an interview the invite belongs to the default one; without a
    deadline it gets the interview's (or the deployment's) number of days."""
    actor = actor or Actor.of_user(created_by)
    user = created_by if created_by is not None and created_by.is_authenticated else actor.user
    interview = interview or Interview.objects.default()
    if expires_at is None:
        expires_at = (
            timezone.now() + timedelta(days=interview.deadline_days)
            if interview.deadline_days
            else default_expiry()
        )
    invite = Invite.objects.create(
        email=email.strip().lower(),
        name=name.strip(),
        expires_at=expires_at,
        created_by=user,
        interview=interview,
    )
    audit.record(
        actor=actor,
        action=Action.CREATED,
        target=invite,
        detail={"expires_at": invite.expires_at.isoformat(), "interview": str(interview.pk)},
    )
    return invite


def invite_update(*, invite: Invite, changes: dict[str, Any], actor: Actor = SYSTEM) -> None:
    """Change editable fields (see EDITABLE); the trail keeps each one's old and new value."""
    changes = dict(changes)
    if "email" in changes:
        changes["email"] = str(changes["email"]).strip().lower()
    before = {field: getattr(invite, field) for field in changes}
    for field, value in changes.items():
        setattr(invite, field, value)
    changed = [field for field in changes if before[field] != changes[field]]
    if not changed:
        return
    invite.save(update_fields=changed)
    audit.record(
        actor=actor,
        action=Action.EDITED,
        target=invite,
        detail={f: {"from": _plain(before[f]), "to": _plain(changes[f])} for f in changed},
    )


def invite_new_link(*, invite: Invite, actor: Actor = SYSTEM) -> None:
    """Replace the invite's link: the old one stops working at once."""
    invite.nonce = new_nonce()
    invite.token_hash = hash_token(token_for_nonce(invite.nonce))
    invite.save(update_fields=["nonce", "token_hash"])
    audit.record(actor=actor, action=Action.LINK_REISSUED, target=invite)


def invite_revoke(*, invite: Invite, actor: Actor = SYSTEM) -> None:
    if invite.revoked_at is None:
        invite.revoked_at = timezone.now()
        invite.save(update_fields=["revoked_at"])
        audit.record(actor=actor, action=Action.REVOKED, target=invite)


def invite_extend(*, invite: Invite, days: int, actor: Actor = SYSTEM) -> None:
    """Push the deadline to `days` from now (or from the current deadline, if later)."""
    before = invite.expires_at
    invite.expires_at = max(before, timezone.now()) + timedelta(days=days)
    invite.save(update_fields=["expires_at"])
    audit.record(
        actor=actor,
        action=Action.EXTENDED,
        target=invite,
        detail={"from": _plain(before), "to": _plain(invite.expires_at)},
    )


def invite_mark_opened(*, invite: Invite) -> None:
    """The candidate opened their link: recorded once, the first time."""
    if invite.opened_at is None:
        opened = Invite.objects.filter(pk=invite.pk, opened_at__isnull=True).update(opened_at=timezone.now())
        invite.refresh_from_db(fields=["opened_at"])
        if opened:
            audit.record(actor=CANDIDATE, action=Action.OPENED, target=invite)


def invite_questions(invite: Invite) -> list[Question]:
    """The invite's questions in order, practice ones included."""
    return list(invite.interview.questions.all())


def invite_answers(invite: Invite) -> dict[uuid.UUID, Answer]:
    """The invite's answers by question id (questions not started have none)."""
    return {answer.question_id: answer for answer in invite.answers.all()}  # type: ignore[attr-defined]


def invite_next_question(invite: Invite) -> Question | None:
    """The first question still to answer (practice ones are never sent), or None."""
    # Answered: submitted, by a video that is there (or that staff deleted since);
    # an unfinished claim (no row came) is still to answer, so a resend can complete it.
    given = Answer.objects.filter(invite=invite, submitted_at__isnull=False).filter(
        Q(submission_id__isnull=True) | Q(submission_id__in=invite.videos.values("pk"))  # type: ignore[attr-defined]
    )
    answered = set(given.values_list("question_id", flat=True))
    return next((q for q in invite.interview.answered_questions() if q.pk not in answered), None)


def answer_for(*, invite: Invite, question: Question) -> Answer:
    """The invite's answer to `question`, made on first use (two requests at once get the same)."""
    try:
        with transaction.atomic():
            answer, _ = Answer.objects.get_or_create(invite=invite, question=question)
    except IntegrityError:
        answer = Answer.objects.get(invite=invite, question=question)
    answer.invite = invite
    answer.question = question
    return answer


def answer_reveal(*, answer: Answer) -> None:
    """The candidate is shown the question: its thinking time runs from the first time."""
    if answer.revealed_at is None:
        Answer.objects.filter(pk=answer.pk, revealed_at__isnull=True).update(revealed_at=timezone.now())
        answer.refresh_from_db(fields=["revealed_at"])


def answer_start_take(*, answer: Answer) -> int | None:
    """Count a new recording of the answer; the take's number, or None when none are left.
    A take shows the question, if nothing had yet."""
    allowed = answer.invite.takes_allowed(answer.question)
    started = Answer.objects.filter(pk=answer.pk, takes__lt=allowed).update(takes=F("takes") + 1)
    if started:
        Answer.objects.filter(pk=answer.pk, revealed_at__isnull=True).update(revealed_at=timezone.now())
    answer.refresh_from_db(fields=["takes", "revealed_at"])
    if started and answer.invite.started_at is None:
        Invite.objects.filter(pk=answer.invite_id, started_at__isnull=True).update(started_at=timezone.now())
        answer.invite.refresh_from_db(fields=["started_at"])
    return answer.takes if started else None


def answer_reset_takes(*, answer: Answer, actor: Actor = SYSTEM) -> None:
    """Give the candidate all their takes on this question again (audited)."""
    before = answer.takes
    Answer.objects.filter(pk=answer.pk).update(takes=0)
    answer.takes = 0
    audit.record(
        actor=actor,
        action=Action.EDITED,
        target=answer.invite,
        detail={"takes_reset": {"question": str(answer.question_id), "from": before, "to": 0}},
    )


def answer_claim(*, answer: Answer, video_id: uuid.UUID, replacing: uuid.UUID | None = None) -> bool:
    """Mark the answer submitted by the video `video_id`, in one conditional
    UPDATE. False if another submission got there first, or the link can't
    take an answer any more.

    The claim names the video before its row exists, so a request that dies
    between the two can be completed: a retry carrying the same video id (a
    resumable upload's finish) claims it again and writes the row. `replacing`:
    take over the unfinished claim of that other video id (one whose row never
    came; the caller checks that). No transaction, so it holds on backends
    without real transactions too.
    """
    now = timezone.now()
    usable = Invite.objects.filter(usable_now()).values("pk")
    fresh = Q(submitted_at__isnull=True, invite__in=usable)
    again = Q(submission_id=video_id)
    taken_over = Q(submission_id=replacing, invite__in=usable) if replacing else Q(pk__in=[])
    claimed = Answer.objects.filter(Q(pk=answer.pk) & (fresh | again | taken_over)).update(
        submitted_at=Coalesce(F("submitted_at"), Value(now)) if not replacing else Value(now),
        submission_id=video_id,
    )
    if claimed:
        answer.refresh_from_db(fields=["submitted_at", "submission_id"])
    return bool(claimed)


def answer_release(*, answer: Answer, video_id: uuid.UUID) -> None:
    """Undo the claim of `video_id`, whose row could not be written, so the
    candidate can retry (another submission's claim is left alone)."""
    Answer.objects.filter(pk=answer.pk, submission_id=video_id).update(submitted_at=None, submission_id=None)
    answer.refresh_from_db(fields=["submitted_at", "submission_id"])


def invite_reopen_if_unanswered(*, invite: Invite) -> bool:
    """Undo the invite's submitted mark when a question it must answer has no
    answer (an answer reopened by `reconcile --fix`, or an invite migrated from
    before interviews whose claim never got its video); True if reopened."""
    if invite.submitted_at is None:
        return False
    required = {q.pk for q in invite.interview.answered_questions()}
    given = set(
        Answer.objects.filter(
            invite=invite, question_id__in=required, submitted_at__isnull=False
        ).values_list("question_id", flat=True)
    )
    if required <= given:
        return False
    reopened = Invite.objects.filter(pk=invite.pk, submitted_at=invite.submitted_at).update(submitted_at=None)
    invite.refresh_from_db(fields=["submitted_at"])
    return bool(reopened)


def invite_complete_if_answered(*, invite: Invite) -> bool:
    """Mark the invite submitted once every question it must answer has its
    video; True if this call did. Safe to repeat (a later call, the page's next
    load or `reconcile` finishes what a dying request left)."""
    if invite.submitted_at is not None:
        return False
    required = {q.pk for q in invite.interview.answered_questions()}
    claimed = list(Answer.objects.filter(invite=invite, question_id__in=required, submitted_at__isnull=False))
    ids = [a.submission_id for a in claimed if a.submission_id is not None]
    rows = set(invite.videos.filter(pk__in=ids).values_list("pk", flat=True))  # type: ignore[attr-defined]
    # An answer whose video staff deleted since (submission_id cleared) still counts as given.
    done = {a.question_id for a in claimed if a.submission_id is None or a.submission_id in rows}
    if not required or not required <= done:
        return False
    completed = Invite.objects.filter(pk=invite.pk, submitted_at__isnull=True).update(
        submitted_at=timezone.now()
    )
    invite.refresh_from_db(fields=["submitted_at"])
    return bool(completed)


def _plain(value: object) -> object:
    """A value as the trail's JSON keeps it (dates as ISO 8601)."""
    return value.isoformat() if isinstance(value, datetime) else value
