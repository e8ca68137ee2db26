"""A server started by hand, without `collectstatic`: pages (error pages
included) must still render, not fail with a 500 on the missing manifest
(found by an outside probe: 32 of 232 bad requests got 500 that way)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.test import Client


@pytest.fixture
def uncollected(settings: Any, tmp_path: Path) -> None:
    settings.DEBUG = False
    settings.STATIC_ROOT = tmp_path / "staticfiles"  # empty: collectstatic never ran
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {"BACKEND": "aurio.storage.StaticFilesStorage"}}


@pytest.mark.django_db
def test_an_error_page_renders_without_collected_static_files(uncollected: None) -> None:
    response = Client(raise_request_exception=False).get("/r/no-such-token")
    assert response.status_code == 404
    assert b"/static/css/aurio.css" in response.content


@pytest.mark.django_db
def test_the_login_page_renders_without_collected_static_files(uncollected: None) -> None:
    response = Client(raise_request_exception=False).get("/admin/login/")
    assert response.status_code == 200
