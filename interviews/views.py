"""The interview's logo, for the candidate's page: public (a logo is no
secret, and the interview's id is unguessable), served with its type taken
from its bytes and cached for a day."""

from __future__ import annotations

import uuid

from django.http import FileResponse, Http404, HttpRequest
from django.views.decorators.http import require_GET

from interviews.models import Interview, logo_type


@require_GET
def logo(request: HttpRequest, interview_id: str) -> FileResponse:
    try:
        interview = Interview.objects.filter(pk=uuid.UUID(interview_id)).first()
    except ValueError:
        interview = None
    if interview is None or not interview.logo:
        raise Http404("No logo.")
    try:
        file = interview.logo.open("rb")
    except OSError:
        raise Http404("No logo.") from None
    head = file.read(16)
    file.seek(0)
    kind = logo_type(head)
    if kind is None:  # stored before the check, or changed behind aurio's back
        file.close()
        raise Http404("No logo.")
    response = FileResponse(file, content_type=kind[1])
    response["Cache-Control"] = "public, max-age=86400"
    response["X-Content-Type-Options"] = "nosniff"
    return response
