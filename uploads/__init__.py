"""Everything about a file arriving and becoming a video.

A candidate's answer comes one of two ways, and both end in `accept`:

- `POST /api/v1/upload/{token}` (api.upload_video): one multipart request;
- tus, resumable (views.uploads/views.upload: create, PATCH chunks, HEAD,
  DELETE; services), then `POST /api/v1/uploads/{token}/{id}/finish`
  (api.finish_upload), which joins the stored parts.

`accept.video_accept_upload` checks the file (size, what it really is, its
length), makes it seekable, stores and verifies it, claims the invite and
writes the video's row; processing then runs in the background (videos).
`reconcile` (a command) completes what a crash left half done.
"""
