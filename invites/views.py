from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_GET

from aurio.ratelimit import rate_limited
from invites.api import candidate_state
from invites.models import Invite, InviteStatus
from invites.repository import invite_for_token
from invites.services import invite_complete_if_answered, invite_mark_opened


def candidate_page(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """For pages whose URL is the candidate's secret: every answer (the page,
    an error, a 429) is kept out of caches and history stores, and no request
    from the page names it in a Referer, not even to aurio itself (whose access
    logs would then hold it). Nothing the page sends needs a Referer: its
    writes (tus, the API) are not CSRF-protected, being authorised by the token."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponseBase:
        response = view(request, *args, **kwargs)
        response["Referrer-Policy"] = "no-referrer"
        add_never_cache_headers(response)
        return response

    return wrapped


def _unavailable(request: HttpRequest, invite: Invite | None) -> HttpResponse:
    """The friendly page for a link that cannot be used (unknown, expired, revoked)."""
    reason = "unknown" if invite is None else invite.status
    status = 404 if invite is None else 410
    return render(request, "invites/unavailable.html", {"reason": reason, "invite": invite}, status=status)


# The page puts a question's id in place of this one (see _question_takes_url).
_SOME_QUESTION = "00000000-0000-0000-0000-000000000000"


def _interview_data(invite: Invite) -> dict[str, Any]:
    """What the page needs to walk the candidate through the interview: the same
    JSON as GET /api/v1/invites/{token}."""
    return dict(candidate_state(invite))


def _question_takes_url(token: str) -> str:
    """The takes endpoint of one question, with _SOME_QUESTION for the page to replace."""
    return reverse("api:start_question_take", args=[token, _SOME_QUESTION])


def _summary(data: dict[str, Any]) -> dict[str, Any]:
    """What the welcome says about the interview: how many questions, how long."""
    questions = [q for q in data.get("questions", []) if not q.get("practice")]
    seconds = sum(int(q.get("answerSeconds") or 0) + int(q.get("thinkingSeconds") or 0) for q in questions)
    first = questions[0] if questions else {}
    return {
        "question_count": len(questions),
        "total_minutes": max(1, round(seconds / 60)),
        "has_practice": any(q.get("practice") for q in data.get("questions", [])),
        "is_interview": len(questions) > 1
        or any(q.get("practice") or q.get("thinkingSeconds") for q in data.get("questions", [])),
        "first_question": first,
    }


@candidate_page
@rate_limited(html=True)
@require_GET
def record(request: HttpRequest, token: str) -> HttpResponse:
    invite = invite_for_token(token)
    if invite is None or invite.status in (InviteStatus.EXPIRED, InviteStatus.REVOKED):
        return _unavailable(request, invite)
    invite_complete_if_answered(invite=invite)  # finishes what a request that died left
    if invite.status == InviteStatus.SUBMITTED:
        return render(request, "invites/done.html", _done_context(invite))
    invite_mark_opened(invite=invite)
    interview_data = _interview_data(invite)
    first = _summary(interview_data)["first_question"]
    context = {
        "invite": invite,
        "tus_url": reverse("uploads:uploads", args=[token]),
        # The page adds the upload's id and "/finish" (the token may hold "ID" too).
        "finish_url_prefix": reverse("api:finish_upload", args=[token, "ID"]).removesuffix("ID/finish"),
        "takes_url": reverse("api:start_take", args=[token]),
        "done_url": reverse("invites:done", args=[token]),
        "question_takes_url": _question_takes_url(token),
        "some_question": _SOME_QUESTION,
        "max_seconds": first.get("answerSeconds") or settings.AURIO_MAX_DURATION_SECONDS,
        "max_bytes": settings.AURIO_MAX_UPLOAD_BYTES,
        "max_takes": interview_data["maxTakes"],
        "takes_used": interview_data["takesUsed"],
        "interview_data": interview_data,
        **_summary(interview_data),
    }
    return render(request, "invites/record.html", context)


@candidate_page
@rate_limited(html=True)
@require_GET
def done(request: HttpRequest, token: str) -> HttpResponse:
    invite = invite_for_token(token)
    if invite is None or invite.status != InviteStatus.SUBMITTED:
        return _unavailable(request, invite)
    return render(request, "invites/done.html", _done_context(invite))


def _done_context(invite: Invite) -> dict[str, Any]:
    data = _interview_data(invite)
    interview = data.get("interview") or {}
    return {
        "invite": invite,
        "closing": interview.get("closing", ""),
        "interview": interview,
        "answer_count": _summary(data)["question_count"] or 1,
    }
