"""Child processes the tests (and the benchmarks) start and always stop again,
and the free ports they listen on.

Each server runs in its own session (process group), so stopping it also
stops its workers, and nothing else is touched.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _stats() -> Iterator[tuple[int, list[str]]]:
    """Every process's pid and the fields of its /proc/<pid>/stat after the
    command name: state, parent, process group, …"""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            yield int(stat.parent.name), stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue


def alive(pid: int) -> bool:
    """The process exists and is not a zombie."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _in_group(pid: int, pgid: int) -> bool:
    try:
        return os.getpgid(pid) == pgid and alive(pid)
    except ProcessLookupError:
        return False


class Server:
    """A child process with its own process group and a log file."""

    def __init__(self, name: str, argv: Sequence[str], env: Mapping[str, str], log: Path, cwd: Path = REPO):
        self.name = name
        self.argv = list(argv)
        self.log = log
        self._logf = log.open("ab")
        self.proc = subprocess.Popen(
            self.argv,
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=self._logf,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def check_alive(self) -> None:
        if self.proc.poll() is not None:
            raise RuntimeError(
                f"{self.name} exited with code {self.proc.returncode}; its log ends:\n{tail(self.log)}"
            )

    def wait_http(self, url: str, timeout: float = 30.0, headers: Mapping[str, str] | None = None) -> None:
        """Poll `url` until it answers 2xx, the process dies, or `timeout` passes."""
        deadline = time.monotonic() + timeout
        last: object = None
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                request = urllib.request.Request(url, headers=dict(headers or {}))
                with urllib.request.urlopen(request, timeout=2) as response:
                    if 200 <= response.status < 300:
                        return
            except (urllib.error.URLError, OSError) as exc:
                last = exc
            time.sleep(0.1)
        raise RuntimeError(
            f"{self.name} did not answer {url} within {timeout:.0f}s ({last}); log:\n{tail(self.log)}"
        )

    def wait_listening(self, port: int, timeout: float = 30.0) -> None:
        """Wait until something accepts connections on `port`, the process dies, or `timeout` passes."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                socket.create_connection((HOST, port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(
            f"{self.name} did not listen on port {port} within {timeout:.0f}s; log:\n{tail(self.log)}"
        )

    def group(self) -> list[int]:
        """Pids in the server's process group (its id is the server's pid)."""
        return [pid for pid, fields in _stats() if int(fields[2]) == self.pid]

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the server; SIGKILL it and whatever is left of its group if it lingers."""
        try:
            members = self.group()
            if self.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.proc.pid, signal.SIGTERM)
                try:
                    self.proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    print(f"  {self.name} did not stop in {timeout:.0f}s; killing it", file=sys.stderr)
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(self.proc.pid, signal.SIGKILL)
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        self.proc.wait(timeout=5)
            deadline = time.monotonic() + 5
            for pid in members:
                if pid == self.proc.pid:
                    continue
                while time.monotonic() < deadline and _in_group(pid, self.pid):
                    time.sleep(0.05)
                if _in_group(pid, self.pid):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
        finally:
            self._logf.close()

    def children(self) -> list[int]:
        """Pids of the server's direct children (gunicorn's workers)."""
        path = Path(f"/proc/{self.pid}/task/{self.pid}/children")
        try:
            return [int(p) for p in path.read_text().split()]
        except OSError:
            pass
        return [pid for pid, fields in _stats() if int(fields[1]) == self.pid]
