"""Tests that need something from the machine (a browser, nginx, Redis, PostgreSQL)
skip without it on a developer's machine, and fail without it in CI, where
`make test` installs everything and a skip would hide a missing install step."""

from __future__ import annotations

import os

import pytest


def in_ci() -> bool:
    """CI=true (or 1, yes) is set, as CI services and `.ci/run` do; CI=false is not CI."""
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def require(missing: str | None) -> None:
    """Skip (or, in CI, fail) the test with the `missing` message, unless it is None."""
    if missing is None:
        return
    if in_ci():
        pytest.fail(missing)
    pytest.skip(missing)
