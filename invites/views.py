from __future__ import annotations

from collections.abc import Callable
from functools import wraps

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


@candidate_page
@rate_limited(html=True)
@require_GET
def record(request: HttpRequest, token: str) -> HttpResponse:
    invite = invite_for_token(token)
    if invite is None or invite.status in (InviteStatus.EXPIRED, InviteStatus.REVOKED):
        return _unavailable(request, invite)
    invite_complete_if_answered(invite=invite)  # finishes what a request that died left
    if invite.status == InviteStatus.SUBMITTED:
        return render(request, "invites/done.html", {"invite": invite})
    invite_mark_opened(invite=invite)
    state = candidate_state(invite)
    context = {
        "invite": invite,
        "tus_url": reverse("uploads:uploads", args=[token]),
        # The page adds the upload's id and "/finish" (the token may hold "ID" too).
        "finish_url_prefix": reverse("api:finish_upload", args=[token, "ID"]).removesuffix("ID/finish"),
        "takes_url": reverse("api:start_take", args=[token]),
        "done_url": reverse("invites:done", args=[token]),
        "max_seconds": settings.AURIO_MAX_DURATION_SECONDS,
        "max_bytes": settings.AURIO_MAX_UPLOAD_BYTES,
        "max_takes": state["maxTakes"],
        "takes_used": state["takesUsed"],
        "interview_data": state,
    }
    return render(request, "invites/record.html", context)


@candidate_page
@rate_limited(html=True)
@require_GET
def done(request: HttpRequest, token: str) -> HttpResponse:
    invite = invite_for_token(token)
    if invite is None or invite.status != InviteStatus.SUBMITTED:
        return _unavailable(request, invite)
    return render(request, "invites/done.html", {"invite": invite})
