from __future__ import annotations

from django.core.files.storage import FileSystemStorage


class PrivateFileSystemStorage(FileSystemStorage):
    """Local files with no public URL: media are served only through the
    authorising stream view, never from MEDIA_URL."""

    def url(self, name: str | None) -> str:
        raise ValueError("Private storage has no public URL; serve files through videos' stream view.")
