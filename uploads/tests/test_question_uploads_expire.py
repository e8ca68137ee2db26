"""Uploads of an interview's questions expire one question at a time: once a
question is answered its other unfinished uploads go, while another question's
upload in flight (the page sends answers in the background) is kept."""

from __future__ import annotations

from pathlib import Path

from django.core.files.uploadedfile import SimpleUploadedFile

from invites.services import invite_create
from tests.support.factories import make_interview
from uploads.accept import video_accept_upload
from uploads.models import Upload
from uploads.services import upload_create, uploads_expire


def test_answering_a_question_expires_its_other_uploads_but_not_the_next_questions(
    db: None, recorder_webm: Path
) -> None:
    interview = make_interview()
    first, second, _ = interview.questions.all()
    invite = invite_create(email="cand@example.com", interview=interview)
    stale = upload_create(invite=invite, length=1000, metadata={"question": str(first.pk)})
    upload = SimpleUploadedFile("answer.webm", recorder_webm.read_bytes(), "video/webm")
    # The first question answered another way (the multipart upload), while an
    # upload of the second question is under way.
    in_flight = upload_create(invite=invite, length=1000, metadata={"question": str(second.pk)})
    video = video_accept_upload(invite=invite, upload=upload, question=first)
    assert video.question == first

    assert uploads_expire() == (1, 0)
    assert list(Upload.objects.values_list("pk", flat=True)) == [in_flight.pk]
    assert not Upload.objects.filter(pk=stale.pk).exists()
