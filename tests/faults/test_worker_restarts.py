"""The worker dies or is blocked, for real, and the site stays up.

- `scripts/serve` (what `make run` runs) with a real gunicorn, worker and
  sweep on a fresh SQLite data folder: the worker is killed with SIGKILL and
  started again, with a growing pause, while the web answers /healthz the whole
  time; gunicorn killed stops everything; SIGTERM and Ctrl-C stop everything.
- `manage.py run_worker` against SQLite while another connection holds the
  write lock for longer than the busy timeout: the worker waits it out and then
  runs the task queued meanwhile.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.tasks import task

from tests.support.processes import Server, alive, free_port, tail
from tests.support.server import HOST, REPO, WIRE_ERRORS, clean_env, fetch, wait_until

SECRET = "worker-restarts-secret-key-not-for-production-0123456789abcdefgh"


@task()
def leave_a_mark(path: str) -> None:
    """A task the worker under test runs: it writes a file the test can see."""
    Path(path).write_text("done")


def aurio_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """aurio's own settings (not the suite's) on a SQLite database in `data_dir`."""
    return clean_env(
        SECRET_KEY=SECRET, AURIO_DATA_DIR=str(data_dir), LOG_FORMAT="text", ACCESS_LOG="false", **extra
    )


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder with a migrated SQLite database, copied by each test."""
    data = tmp_path_factory.mktemp("serve-template")
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=REPO, env=aurio_env(data), check=True, timeout=300,
    )  # fmt: skip
    return data


@pytest.fixture
def data_dir(migrated: Path, tmp_path: Path) -> Path:
    data = tmp_path / "data"
    shutil.copytree(migrated, data)
    return data


def children(pid: int) -> dict[int, str]:
    """The direct children of `pid`, with their command lines."""
    found = {}
    for task_dir in Path(f"/proc/{pid}/task").glob("*"):
        try:
            pids = (task_dir / "children").read_text().split()
        except OSError:
            continue
        for child in map(int, pids):
            try:
                found[child] = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
    return found


@pytest.fixture
def serve(data_dir: Path, tmp_path: Path) -> Iterator[Callable[[], tuple[Server, int]]]:
    """Starts scripts/serve as `make run` does; stopped (and its group killed) afterwards."""
    started: list[Server] = []

    def start() -> tuple[Server, int]:
        port = free_port()
        env = aurio_env(
            data_dir,
            BIND=f"{HOST}:{port}",
            VENV=str(Path(sys.executable).parent.parent),
            WEB_CONCURRENCY="1",
            WEB_THREADS="4",
            AURIO_PROCESSING_SWEEP_SECONDS="3600",
            XDG_RUNTIME_DIR=str(tmp_path),  # gunicorn's control socket: its own, not ~/.gunicorn's
        )
        server = Server("serve", [str(REPO / "scripts" / "serve")], env, tmp_path / "serve.log")
        started.append(server)
        server.wait_http(f"http://{HOST}:{port}/healthz", timeout=60)
        return server, port

    yield start
    for server in started:
        server.stop(timeout=40)


def role(server: Server, name: str) -> int:
    """The pid of serve's child `name` (gunicorn, run_worker, process_videos), waiting for it."""
    found: list[int] = []

    def appeared() -> bool:
        found[:] = [pid for pid, cmd in children(server.pid).items() if name in cmd and alive(pid)]
        return bool(found)

    wait_until(appeared, timeout=30, what=f"serve's {name} process")
    return found[0]


def healthz(port: int) -> int:
    try:
        return fetch(port, "GET", "/healthz", timeout=10).status
    except WIRE_ERRORS:
        return 0


def test_a_killed_worker_is_started_again_while_the_web_keeps_serving(
    serve: Callable[[], tuple[Server, int]],
) -> None:
    server, port = serve()
    web = role(server, "gunicorn")
    for pause in (1, 2):  # it stopped again within a minute: a longer pause
        worker = role(server, "run_worker")
        os.kill(worker, signal.SIGKILL)
        statuses = []
        deadline = time.monotonic() + 30
        while True:
            statuses.append(healthz(port))
            restarted = [
                pid for pid, cmd in children(server.pid).items() if "run_worker" in cmd and pid != worker
            ]
            if restarted or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert restarted, f"the worker was not started again; serve's log:\n{tail(server.log)}"
        assert set(statuses) == {200}, statuses  # the web answered all along
        assert "the worker stopped (exit 137) after" in server.log.read_text()
        assert f"starting it again in {pause} s" in server.log.read_text()
    assert server.proc.poll() is None
    assert role(server, "gunicorn") == web  # the same web server throughout
    assert healthz(port) == 200


def test_a_killed_sweep_is_started_again(serve: Callable[[], tuple[Server, int]]) -> None:
    server, port = serve()
    sweep = role(server, "process_videos")
    os.kill(sweep, signal.SIGKILL)
    wait_until(lambda: role(server, "process_videos") != sweep, timeout=30, what="a new sweep")
    assert healthz(port) == 200


def test_when_gunicorn_dies_serve_stops_everything(serve: Callable[[], tuple[Server, int]]) -> None:
    server, _ = serve()
    family = [role(server, name) for name in ("gunicorn", "run_worker", "process_videos")]
    os.kill(family[0], signal.SIGKILL)
    assert server.proc.wait(timeout=60) == 137
    wait_until(lambda: not any(alive(pid) for pid in family), timeout=30, what="the worker and sweep to stop")
    assert "the web server stopped (exit 137)" in server.log.read_text()


@pytest.mark.parametrize("how", ["SIGTERM to serve", "Ctrl-C"])
def test_a_signal_stops_everything(serve: Callable[[], tuple[Server, int]], how: str) -> None:
    server, _ = serve()
    family = [role(server, name) for name in ("gunicorn", "run_worker", "process_videos")]
    if how == "Ctrl-C":
        os.killpg(server.pid, signal.SIGINT)  # a terminal signals the whole foreground group
    else:
        os.kill(server.pid, signal.SIGTERM)
    assert server.proc.wait(timeout=60) == (130 if how == "Ctrl-C" else 143)
    wait_until(lambda: not any(alive(pid) for pid in family), timeout=30, what="every process to stop")


# --- SQLite's lock -----------------------------------------------------------------------------


def test_the_worker_waits_out_a_locked_database(data_dir: Path, tmp_path: Path) -> None:
    env = aurio_env(data_dir, AURIO_SQLITE_TIMEOUT="1", AURIO_WORKER_HEARTBEAT_SECONDS="1")
    argv = [sys.executable, "manage.py", "run_worker", "--interval", "0.2", "--no-startup-delay"]
    worker = Server("worker", argv, env, tmp_path / "worker.log")
    try:
        wait_until(
            lambda: "Starting worker" in worker.log.read_text(), timeout=60, what="the worker to start"
        )
        lock = sqlite3.connect(data_dir / "aurio.sqlite3", isolation_level=None, timeout=10)
        lock.execute("BEGIN IMMEDIATE")  # the write lock, as a long write by the web or the sweep holds it
        try:
            wait_until(
                lambda: "database is locked" in worker.log.read_text(),
                timeout=30,
                what="the worker to meet it",
            )
            time.sleep(3)  # three times the busy timeout
            assert worker.proc.poll() is None, f"the worker died:\n{tail(worker.log)}"
        finally:
            lock.rollback()
            lock.close()
        mark = tmp_path / "mark"
        enqueue = f"from {__name__} import leave_a_mark; leave_a_mark.enqueue({str(mark)!r})"
        subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", enqueue], cwd=REPO, env=env, check=True, timeout=120
        )
        wait_until(mark.exists, timeout=90, what=f"the task to run; the worker's log:\n{tail(worker.log)}")
        assert worker.proc.poll() is None
    finally:
        worker.stop()
