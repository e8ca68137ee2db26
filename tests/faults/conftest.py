"""Fixtures of the fault tests: aurio under real gunicorn with its own
PostgreSQL database (tests/support/server.py), and a video big enough that an
upload takes several chunks and a stream can be cut in the middle.

A test that starts a server runs once per `make test`, in the SQLite run: the
server's database is its own PostgreSQL database whatever the suite's is, so a
second run would test the very same thing again.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from tests.support.ci import require
from tests.support.media import make_video
from tests.support.server import AurioServer, Template, postgres_answers, running_aurio


def _require_postgres() -> None:
    if postgres_answers():
        return
    require("PostgreSQL does not answer at AURIO_FAULTS_POSTGRES_URL (default 127.0.0.1:5432)")


@pytest.fixture(scope="session")
def aurio_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Template]:
    """The migrated database (with a recruiter and its API key) servers start from."""
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3":
        pytest.skip("runs in the SQLite run only: the server under test has its own PostgreSQL database")
    _require_postgres()
    template = Template.make(tmp_path_factory.mktemp("faults-template"))
    yield template
    template.database.drop()


@pytest.fixture
def start_aurio(aurio_template: Template, tmp_path: Path) -> Iterator[Callable[..., AurioServer]]:
    """Starts aurio servers for this test (options: `database_port`, `env`); all stopped after it."""
    started = itertools.count(1)
    with contextlib.ExitStack() as stack:

        def start(**options: Any) -> AurioServer:
            workdir = tmp_path / f"aurio-{next(started)}"
            return stack.enter_context(running_aurio(workdir, aurio_template, **options))

        yield start


@pytest.fixture(scope="module")
def aurio(aurio_template: Template, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AurioServer]:
    """One server shared by a module's tests (each makes its own invite)."""
    with running_aurio(tmp_path_factory.mktemp("aurio"), aurio_template) as server:
        yield server


@pytest.fixture(scope="session")
def large_video(media_dir: Path) -> bytes:
    """About 8 MB of real MP4 (3 s, noisy 640x480 frames): eight 1 MiB chunks."""
    path = make_video(
        media_dir / "faults.mp4", seconds=3, size=(640, 480), bitrate=20_000_000, picture="camera", fmt="mp4"
    )
    return path.read_bytes()
