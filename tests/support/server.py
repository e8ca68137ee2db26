"""aurio as it runs in production, for the tests that need the real server:
gunicorn (gunicorn.conf.py, gthread workers) in its own process group, its own
data folder and, unless a test needs none, its own PostgreSQL database, on a
free port of 127.0.0.1. What a test may change: the database (a copy of a
template, or none), the threads, the settings module and the environment.

Migrating takes seconds, so one database per test session is migrated once,
given a recruiter with an API key, and used as the template every server's
database is copied from (``CREATE DATABASE … TEMPLATE``, a fraction of a
second). Every database is named ``aurio_faultsweb_<pid>_…`` and dropped again.

The process plumbing (a process group per server, its log, stopping it) is
tests/support/processes.py's ``Server``; this module adds what a test of the
real server needs on top: SIGKILL of master and workers at once, a restart on
the same port, the database beside it, and small HTTP helpers that never hide
a failure.
"""

from __future__ import annotations

import contextlib
import http.client
import itertools
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from typing import Any

import psycopg

from tests.support.processes import HOST, REPO, Server, alive, free_port, tail

# The PostgreSQL server the fault tests make their databases on (`make test` starts one).
POSTGRES_URL = os.environ.get("AURIO_FAULTS_POSTGRES_URL", "postgres://postgres:postgres@127.0.0.1:5432")
DATABASE_PREFIX = "aurio_faultsweb"
SETTINGS = "tests.support.settings"
START_TIMEOUT = 60.0
_names = itertools.count(1)

# Migrates, then makes the recruiter and prints its API key (the last line).
_SETUP = """
from django.contrib.auth import get_user_model
from django.core.management import call_command
from aurio.models import ApiToken
call_command("migrate", interactive=False, verbosity=0)
user = get_user_model().objects.create_superuser("recruiter", "recruiter@example.com", "recruiter-pw")
print(ApiToken.issue(user)[1])
"""


def postgres_answers() -> bool:
    try:
        with psycopg.connect(_url("postgres"), connect_timeout=3):
            return True
    except psycopg.Error:
        return False


def postgres_address() -> tuple[str, int]:
    parts = urllib.parse.urlsplit(POSTGRES_URL)
    return parts.hostname or HOST, parts.port or 5432


def _url(name: str, port: int | None = None) -> str:
    parts = urllib.parse.urlsplit(POSTGRES_URL)
    netloc = parts.netloc if port is None else f"{parts.netloc.rsplit(':', 1)[0]}:{port}"
    return urllib.parse.urlunsplit((parts.scheme, netloc, f"/{name}", "", ""))


@dataclass(frozen=True)
class Database:
    """One PostgreSQL database of the fault tests."""

    name: str

    @property
    def url(self) -> str:
        return _url(self.name)

    def url_through(self, port: int) -> str:
        """The URL to reach this database through something listening on `port` (a fault proxy)."""
        return _url(self.name, port)

    @classmethod
    def create(cls, template: Database | None = None) -> Database:
        kind = "template" if template is None else str(next(_names))
        database = cls(f"{DATABASE_PREFIX}_{os.getpid()}_{kind}")
        database.drop()
        copy = f" TEMPLATE {template.name}" if template else ""
        _admin(f"CREATE DATABASE {database.name}{copy}")
        return database

    def drop(self) -> None:
        _admin(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")

    def rows(self, query: str, *params: object) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.url, autocommit=True) as connection:
            return connection.execute(query, params).fetchall()  # type: ignore[arg-type]


def _admin(statement: str) -> None:
    with psycopg.connect(_url("postgres"), autocommit=True) as connection:
        connection.execute(statement)  # type: ignore[arg-type]


def clean_env(**values: str) -> dict[str, str]:
    """A clean environment for aurio's processes, with `values`: nothing of the
    suite's own settings (its database, cache or queue) leaks in."""
    env = {key: os.environ[key] for key in ("PATH", "HOME", "LANG", "TMPDIR") if key in os.environ}
    env.update(PYTHONDONTWRITEBYTECODE="1", **values)
    return env


def base_env(
    *, data_dir: Path, database_url: str, settings: str = SETTINGS, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """aurio's environment under test: its own data folder and database, JSON logs."""
    return clean_env(
        DJANGO_SETTINGS_MODULE=settings,
        SECRET_KEY="faults-secret-key-not-for-production-0123456789abcdefghijklmnop",
        AURIO_DATA_DIR=str(data_dir),
        DATABASE_URL=database_url,
        LOG_FORMAT="json",
        **(extra or {}),
    )


@dataclass(frozen=True)
class Template:
    """The migrated database every server's database is copied from, and the
    API key of its recruiter (copied with it)."""

    database: Database
    api_key: str

    @classmethod
    def make(cls, workdir: Path) -> Template:
        database = Database.create()
        env = base_env(data_dir=workdir, database_url=database.url)
        try:
            result = subprocess.run(
                [sys.executable, "manage.py", "shell", "-c", _SETUP],
                cwd=REPO,
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
            )
            if result.returncode != 0:
                raise RuntimeError(f"setting up {database.name} failed:\n{result.stdout}\n{result.stderr}")
        except BaseException:
            database.drop()
            raise
        return cls(database, result.stdout.strip().splitlines()[-1])


@dataclass
class Reply:
    status: int
    headers: Message
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


# What a client sees when the connection fails under it (not an HTTP error status).
WIRE_ERRORS = (OSError, http.client.HTTPException)


def fetch(
    port: int,
    method: str,
    path: str,
    *,
    body: bytes = b"",
    headers: Mapping[str, str] | None = None,
    timeout: float = 30.0,
) -> Reply:
    """One request on a new connection; the whole body read (a short one raises IncompleteRead)."""
    connection = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=dict(headers or {}))
        response = connection.getresponse()
        data = response.read()
        return Reply(response.status, response.headers, data)
    finally:
        connection.close()


def wait_until(condition: Callable[[], object], timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.05)


_ACCESS = re.compile(r'"(?P<method>[A-Z]+) (?P<path>\S+)" (?P<status>\d{3}) ')


class AurioServer:
    """aurio under gunicorn with its own data folder and database.

    `template`: the server's database is a copy of it (PostgreSQL); None for a
    server whose requests never reach the database: it gets a SQLite file that
    is never migrated (and no API key), and counts as up once it accepts
    connections (its /healthz would fail). `database_port`: reach the database
    through something listening there (a fault proxy). `threads`: gunicorn's
    threads (one worker). `settings`: the settings module. `env`: more of the
    environment, or other values.

    `start()` and `kill()` may alternate: the server comes back on the same
    port with the same data, as after a crash and a supervisor's restart.
    """

    def __init__(
        self,
        *,
        workdir: Path,
        template: Template | None,
        database_port: int | None = None,
        threads: int = 4,
        settings: str = SETTINGS,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.workdir = workdir
        self.data_dir = workdir / "data"
        # Where request bodies are spooled while they arrive (FILE_UPLOAD_TEMP_DIR).
        self.spool_dir = workdir / "spool"
        self.log_path = workdir / "gunicorn.log"
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.api_key = template.api_key if template else ""
        self.database = Database.create(template.database) if template else None
        if self.database is None:
            database_url = f"sqlite:///{workdir / 'db.sqlite3'}"
        elif database_port:
            database_url = self.database.url_through(database_port)
        else:
            database_url = self.database.url
        self.env = base_env(
            data_dir=self.data_dir,
            database_url=database_url,
            settings=settings,
            extra={
                "BIND": f"{HOST}:{self.port}",
                "WEB_CONCURRENCY": "1",
                "WEB_THREADS": str(threads),
                "FILE_UPLOAD_TEMP_DIR": str(self.spool_dir),
                **(env or {}),
            },
        )
        self.process: Server | None = None

    @property
    def media(self) -> Path:
        return self.data_dir / "media"

    # --- processes ------------------------------------------------------------

    def start(self) -> AurioServer:
        argv = [str(Path(sys.executable).with_name("gunicorn")), "-c", "gunicorn.conf.py", "aurio.wsgi"]
        # No control socket: gunicorn's default one (~/.gunicorn) is shared between servers.
        self.process = Server("gunicorn", [*argv, "--no-control-socket"], self.env, self.log_path)
        if self.database is None:
            self.process.wait_listening(self.port, timeout=START_TIMEOUT)
        else:
            self.process.wait_http(f"http://{HOST}:{self.port}/healthz", timeout=START_TIMEOUT)
        return self

    def pids(self) -> list[int]:
        """The gunicorn master and its workers (zombies left out)."""
        return [pid for pid in (self.process.group() if self.process else []) if alive(pid)]

    def kill(self) -> None:
        """SIGKILL master and workers at once: no graceful shutdown, no cleanup, as in a crash."""
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.proc.wait(timeout=10)
        wait_until(lambda: not self.pids(), timeout=10, what="gunicorn's workers to die")
        self.process.stop()
        self.process = None

    def stop(self) -> None:
        if self.process is None:
            return
        # SIGQUIT: gunicorn's quick shutdown (SIGTERM would let it linger over idle connections).
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.process.pid, signal.SIGQUIT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.proc.wait(timeout=10)
        self.process.stop()
        self.process = None

    def close(self) -> None:
        """Stop the server and drop its database."""
        try:
            self.stop()
        finally:
            if self.database is not None:
                self.database.drop()

    # --- looking at it ----------------------------------------------------------

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self) -> str:
        return tail(self.log_path, 60)

    def json_log(self) -> list[dict[str, Any]]:
        """aurio's own log lines (JSON, one object a line)."""
        found = []
        for line in self.log().splitlines():
            if line.startswith("{"):
                with contextlib.suppress(ValueError):
                    found.append(json.loads(line))
        return found

    def spooling(self) -> bool:
        """A web worker is inside a tus PATCH, reading its body (its spool file exists)."""
        return any(self.spool_dir.glob("*/chunk"))

    def answered(self, method: str, path_part: str = "") -> list[int]:
        """Statuses of the requests gunicorn has logged as answered, in order."""
        return [
            int(m["status"])
            for m in _ACCESS.finditer(self.log())
            if m["method"] == method and path_part in m["path"]
        ]

    # --- talking to it ----------------------------------------------------------

    def fetch(self, method: str, path: str, **options: Any) -> Reply:
        return fetch(self.port, method, path, **options)

    def api(self, method: str, path: str, payload: object = None, *, port: int | None = None) -> Reply:
        """A recruiter API call with the bearer key, directly or through `port`."""
        headers = {"Authorization": f"Bearer {self.api_key}"}
        body = b""
        if payload is not None:
            headers["Content-Type"] = "application/json"
            body = json.dumps(payload).encode()
        return fetch(port or self.port, method, f"/api/v1{path}", body=body, headers=headers)

    def new_invite(self, email: str = "candidate@example.com") -> dict[str, Any]:
        reply = self.api("POST", "/invites", {"email": email, "name": "Candidate"})
        assert reply.status == 201, reply
        invite: dict[str, Any] = reply.json()
        return invite

    def invite(self, invite_id: str) -> dict[str, Any]:
        reply = self.api("GET", "/invites")
        assert reply.status == 200, reply
        return next(i for i in reply.json() if i["id"] == invite_id)

    def videos_of(self, invite_id: str) -> list[dict[str, Any]]:
        reply = self.api("GET", f"/videos?inviteId={invite_id}")
        assert reply.status == 200, reply
        videos: list[dict[str, Any]] = reply.json()
        return videos


@contextlib.contextmanager
def running_aurio(workdir: Path, template: Template | None, **options: Any) -> Iterator[AurioServer]:
    """A started server, stopped and its database dropped afterwards, whatever happens."""
    server = AurioServer(workdir=workdir, template=template, **options)
    try:
        yield server.start()
    except BaseException:
        print(f"--- {workdir.name}: gunicorn's log ends:\n{server.log_tail()}", file=sys.stderr)
        raise
    finally:
        server.close()
