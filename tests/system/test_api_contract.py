"""The API's published shape stays put when code moves between apps: each
operation keeps its path, method, operationId and tag (clients generated from
the schema name their methods after the operationId)."""

from __future__ import annotations

from aurio.api import api

# The seed's operations, with the names their first release published.
OPERATIONS = {
    ("POST", "/api/v1/invites", "invites_api_create_invite", "invites"),
    ("GET", "/api/v1/invites", "invites_api_list_invites", "invites"),
    ("GET", "/api/v1/invites/{token}", "invites_api_check_invite", "invites"),
    ("POST", "/api/v1/invites/{token}/takes", "invites_api_start_take", "invites"),
    ("POST", "/api/v1/upload/{token}", "videos_api_upload_video", "videos"),
    ("POST", "/api/v1/uploads/{token}/{upload_id}/finish", "uploads_api_finish_upload", "uploads"),
    ("GET", "/api/v1/videos", "videos_api_list_videos", "videos"),
    ("GET", "/api/v1/videos/{video_id}", "videos_api_get_video", "videos"),
    ("GET", "/api/v1/videos/{video_id}/stream", "videos_api_stream_video", "videos"),
    ("HEAD", "/api/v1/videos/{video_id}/stream", "videos_api_stream_video", "videos"),
    ("GET", "/api/v1/videos/{video_id}/playback", "videos_api_playback_video", "videos"),
    ("HEAD", "/api/v1/videos/{video_id}/playback", "videos_api_playback_video", "videos"),
    ("GET", "/api/v1/videos/{video_id}/poster", "videos_api_video_poster", "videos"),
    ("HEAD", "/api/v1/videos/{video_id}/poster", "videos_api_video_poster", "videos"),
    ("POST", "/api/v1/videos/{video_id}/tag", "videos_api_tag_video", "videos"),
}
# Interviews (multi-question invites), with the names their first release published.
INTERVIEW_OPERATIONS = {
    ("GET", "/api/v1/interviews", "interviews_api_list_interviews", "interviews"),
    ("POST", "/api/v1/interviews", "interviews_api_create_interview", "interviews"),
    ("GET", "/api/v1/interviews/{interview_id}", "interviews_api_get_interview", "interviews"),
    ("POST", "/api/v1/interviews/{interview_id}/questions", "interviews_api_add_question", "interviews"),
    (
        "POST",
        "/api/v1/invites/{token}/questions/{question_id}/takes",
        "invites_api_start_question_take",
        "invites",
    ),
    ("GET", "/api/v1/answers", "invites_api_list_answers", "invites"),
    (
        "POST",
        "/api/v1/invites/{token}/questions/{question_id}/reveal",
        "invites_api_reveal_question",
        "invites",
    ),
}


def test_every_operation_keeps_its_path_name_and_tag() -> None:
    schema = api.get_openapi_schema()
    published = {
        (method.upper(), path, operation["operationId"], *operation.get("tags", []))
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
    }
    assert published == OPERATIONS | INTERVIEW_OPERATIONS
