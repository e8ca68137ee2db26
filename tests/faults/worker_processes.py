"""Real worker processes for the fault tests: started as an operator starts
them (`manage.py db_worker`, `python -m aurio.tasks_redis`), killed with SIGKILL.

A kill takes the worker and every process it started: RQ's work horse (the
child that runs the job, in a process group of its own) dies with its parent,
as when the machine or container goes away.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def database_url() -> str:
    """The test database, as other processes reach it."""
    db = connection.settings_dict
    host = f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{host}/{db['NAME']}"


def environment(data_dir: Path, **overrides: str) -> dict[str, str]:
    """The environment of a worker that shares this test's database and media
    folder (`data_dir`/media)."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "aurio.settings_test",
        "DATABASE_URL": database_url(),
        "AURIO_DATA_DIR": str(data_dir),
        **overrides,
    }


class Worker:
    """One worker process; its output goes to a file, read on failure. It has
    a scratch folder of its own (FILE_UPLOAD_TEMP_DIR), where processing works."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self._log = tempfile.TemporaryFile()
        self.scratch = Path(tempfile.mkdtemp(prefix="aurio-worker-"))
        self.process = subprocess.Popen(
            argv,
            cwd=ROOT,
            env={**env, "FILE_UPLOAD_TEMP_DIR": str(self.scratch)},
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @classmethod
    def database(cls, env: dict[str, str], *, batch: bool = False) -> Worker:
        argv = [sys.executable, "manage.py", "db_worker", "--no-startup-delay", "--no-reload"]
        return cls(argv + (["--batch"] if batch else []), env)

    @classmethod
    def redis(cls, env: dict[str, str], *, batch: bool = False) -> Worker:
        return cls([sys.executable, "-m", "aurio.tasks_redis"] + (["--burst"] if batch else []), env)

    def output(self) -> str:
        self._log.seek(0)
        return self._log.read().decode(errors="replace")

    def transcoding(self) -> bool:
        """Has a processing run in this worker begun writing its outputs?"""
        return any(path.stat().st_size for path in self.scratch.glob("aurio-process-*/*"))

    def kill(self) -> None:
        """SIGKILL to the worker and its descendants: no handler, no clean-up, no goodbye."""
        for pid in _family(self.process.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def finish(self, timeout: float = 180) -> str:
        """Wait for a batch worker to empty the queue and exit; its output."""
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"the worker did not finish in {timeout} s:\n{self.output()}") from None
        assert self.process.returncode == 0, self.output()
        return self.output()

    def stop(self) -> None:
        """Make sure the process is gone (a test that failed half-way)."""
        if self.process.poll() is None:
            self.kill()
        self._log.close()
        shutil.rmtree(self.scratch, ignore_errors=True)


def _family(pid: int) -> list[int]:
    """`pid` and its descendants, parents first (Linux's /proc)."""
    found = [pid]
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            for child in children.read_text().split():
                found += _family(int(child))
    return found


def wait_for(condition: Callable[[], bool], *, what: str, timeout: float = 120, worker: Worker) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if worker.process.poll() is not None:
            raise AssertionError(f"the worker exited while waiting for {what}:\n{worker.output()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}:\n{worker.output()}")
        time.sleep(0.05)
