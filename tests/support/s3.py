"""An S3-compatible server for the tests: moto's standalone server, over real
HTTP on loopback (no in-process patching of boto3)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3

from tests.support.processes import free_port

CREDENTIALS = {"aws_access_key_id": "aurio-test", "aws_secret_access_key": "aurio-test-secret"}
REGION = "us-east-1"
# The backend AURIO_STORAGE=s3 configures (aurio/settings.py's _S3_MEDIA).
BACKEND = "aurio.s3.PrivateS3Storage"


@contextmanager
def s3_server() -> Iterator[str]:
    port = free_port()
    moto = Path(sys.executable).with_name("moto_server")
    process = subprocess.Popen(
        [str(moto), "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise RuntimeError("moto_server did not start")
        yield endpoint
    finally:
        process.terminate()
        process.wait(timeout=10)


def client(endpoint: str) -> Any:
    return boto3.client("s3", endpoint_url=endpoint, region_name=REGION, **CREDENTIALS)


def new_bucket(endpoint: str) -> str:
    name = f"aurio-{uuid.uuid4().hex[:12]}"
    client(endpoint).create_bucket(Bucket=name)
    return name


def s3_storage_settings(endpoint: str, bucket: str, **options: Any) -> dict[str, Any]:
    return {
        "BACKEND": BACKEND,
        "OPTIONS": {
            "bucket_name": bucket,
            "endpoint_url": endpoint,
            "region_name": REGION,
            "access_key": CREDENTIALS["aws_access_key_id"],
            "secret_key": CREDENTIALS["aws_secret_access_key"],
            "default_acl": None,
            "querystring_auth": True,
            "querystring_expire": 300,
            "file_overwrite": False,
            "signature_version": "s3v4",
            "addressing_style": "path",
            **options,
        },
    }


def keys(endpoint: str, bucket: str, prefix: str = "") -> list[str]:
    """The bucket's object keys under `prefix`, sorted, read straight from the server."""
    pages = client(endpoint).get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


def read(endpoint: str, bucket: str, key: str) -> bytes:
    body: bytes = client(endpoint).get_object(Bucket=bucket, Key=key)["Body"].read()
    return body
