"""S3 storage (AURIO_STORAGE=s3) whose failures look like a disk's.

A module of its own, named in STORAGES by its dotted path: Django imports a
storage backend only when that storage is first used, so processes on local
storage never load boto3 and django-storages (about 36 MB and 0.4 s).

Django's storage API reports failures as OSError, as FileSystemStorage does,
and aurio's services catch OSError to answer "try again" (503). boto3 raises
its own exceptions once its retries are spent (a dropped or refused connection
is a BotoCoreError, a 5xx a ClientError); here they become StorageUnavailable,
an OSError. Everything else (presigned URLs, the bucket's private ACL,
encryption) is django-storages' own, configured in settings' STORAGES; files
are verified after saving by aurio.storage.save_verified, as on a disk."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from boto3.exceptions import Boto3Error
from botocore.exceptions import BotoCoreError, ClientError
from s3transfer.exceptions import RetriesExceededError, S3DownloadFailedError
from storages.backends.s3 import S3File, S3Storage
from storages.utils import clean_name


class StorageUnavailable(OSError):
    """The object store could not be reached, or refused the request."""


@contextmanager
def as_os_error(action: str, name: str) -> Iterator[None]:
    """boto3's failures as StorageUnavailable (404s are handled before this).
    Downloads go through s3transfer, whose own errors (a GET cut mid-body too
    often: RetriesExceededError, S3DownloadFailedError) are none of boto3's."""
    try:
        yield
    except (BotoCoreError, ClientError, Boto3Error, RetriesExceededError, S3DownloadFailedError) as exc:
        raise StorageUnavailable(f"S3 {action} of {name!r} failed: {exc}") from exc


class PrivateS3File(S3File):  # type: ignore[misc]
    """S3File reads the object when first used and writes parts on close:
    those requests fail as OSError too."""

    def _get_file(self) -> Any:
        with as_os_error("read", self.name):
            return super()._get_file()

    file = property(_get_file, S3File._set_file)

    def close(self) -> None:
        with as_os_error("write", self.name):
            super().close()


def _translated(method: Callable[..., Any], action: str) -> Callable[..., Any]:
    @functools.wraps(method)
    def call(self: S3Storage, name: str, *args: Any, **kwargs: Any) -> Any:
        with as_os_error(action, name):
            return method(self, name, *args, **kwargs)

    return call


class PrivateS3Storage(S3Storage):  # type: ignore[misc]
    """django-storages' S3 backend, failing with OSError (StorageUnavailable)."""

    def _open(self, name: str, mode: str = "rb") -> S3File:
        key = self._normalize_name(clean_name(name))
        with as_os_error("open", name):
            try:
                return PrivateS3File(key, mode, self)
            except ClientError as err:
                if err.response["ResponseMetadata"]["HTTPStatusCode"] == 404:
                    raise FileNotFoundError(f"File does not exist: {key}") from err
                raise

    _save = _translated(S3Storage._save, "write")
    delete = _translated(S3Storage.delete, "delete")
    exists = _translated(S3Storage.exists, "lookup")
    listdir = _translated(S3Storage.listdir, "listing")
    size = _translated(S3Storage.size, "size lookup")
    get_modified_time = _translated(S3Storage.get_modified_time, "lookup")
