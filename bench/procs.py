"""Servers the benchmarks start and always stop again: gunicorn and nginx on 127.0.0.1.

Each server runs in its own session (process group), so stopping it also
stops its workers, and nothing else is touched.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
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


def _in_group(pid: int, pgid: int) -> bool:
    try:
        return os.getpgid(pid) == pgid and not _is_zombie(pid)
    except ProcessLookupError:
        return False


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


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

    def group(self) -> list[int]:
        """Pids in the server's process group (its id is the server's pid)."""
        members = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[2]) == self.pid:
                members.append(int(stat.parent.name))
        return members

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
        found = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[1]) == self.pid:
                found.append(int(stat.parent.name))
        return found


# No control socket: gunicorn's default one is shared (~/.gunicorn/gunicorn.ctl) and
# would take over that of a gunicorn already running on this machine.
GUNICORN_FLAGS = ["aurio.wsgi", "-k", "gthread", "--no-control-socket"]


def gunicorn_sendfile(venv: Path, config: Path, env: Mapping[str, str]) -> bool | None:
    """Whether gunicorn itself, with this config, will use sendfile(2) (its own `cfg.sendfile`)."""
    code = (
        "import sys\n"
        "from gunicorn.app.wsgiapp import WSGIApplication\n"
        f"sys.argv = ['gunicorn', '-c', {str(config)!r}, 'aurio.wsgi']\n"
        "print(WSGIApplication('%(prog)s [OPTIONS] [APP_MODULE]').cfg.sendfile)\n"
    )
    try:
        result = subprocess.run(
            [str(venv / "bin" / "python"), "-c", code],
            cwd=REPO,
            env=dict(env),
            capture_output=True,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    last = result.stdout.strip().splitlines()[-1:] or [""]
    return {"True": True, "False": False}.get(last[0])


def start_gunicorn(
    *,
    name: str,
    venv: Path,
    env: Mapping[str, str],
    port: int,
    workers: int,
    threads: int,
    log: Path,
    config: Path,
) -> Server:
    argv = [str(venv / "bin" / "gunicorn"), "-c", str(config), *GUNICORN_FLAGS]
    argv += [
        "--threads",
        str(threads),
        "-w",
        str(workers),
        "-b",
        f"{HOST}:{port}",
        "--graceful-timeout",
        "5",
        "--timeout",
        "120",
        "--error-logfile",
        "-",
    ]
    return Server(name, argv, env, log)


NGINX_CONF = """\
{user}worker_processes {workers};
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    types {{ video/mp4 mp4; video/webm webm; video/x-matroska mkv; video/quicktime mov; }}
    default_type application/octet-stream;
    server {{
        listen {host}:{port};
        location /media/ {{ alias {media}/; }}
    }}
}}
"""


def start_nginx(*, nginx: str, prefix: Path, media: Path, port: int, workers: int, log: Path) -> Server:
    prefix.mkdir(parents=True, exist_ok=True)
    conf = prefix / "nginx.conf"
    # As root the workers would drop to `nobody`, who cannot read aurio's
    # private (0600) media: keep them as root, on loopback only.
    user = "user root;\n" if os.geteuid() == 0 else ""
    conf.write_text(
        NGINX_CONF.format(user=user, workers=workers, prefix=prefix, media=media, host=HOST, port=port)
    )
    argv = [nginx, "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log"), "-g", "daemon off;"]
    return Server("nginx", argv, os.environ, log, cwd=prefix)


def ensure_tool(name: str, package: str, *, install: bool, candidates: Sequence[str] = ()) -> str | None:
    """The tool's path; installs the Debian package first if allowed (root + apt-get)."""
    for path in [*candidates, shutil.which(name)]:
        if path and os.access(path, os.X_OK):
            return path
    if not install or os.geteuid() != 0 or not shutil.which("apt-get"):
        return None
    print(f"  {name} not found: apt-get install -y {package}", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    cmd = ["apt-get", "install", "-y", "--no-install-recommends", package]
    for attempt in range(2):
        try:
            result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
        except subprocess.TimeoutExpired:
            return None
        if result.returncode == 0:
            break
        if attempt == 0:
            subprocess.run(["apt-get", "update"], env=env, capture_output=True, timeout=300)
    for path in [*candidates, shutil.which(name)]:
        if path and os.access(path, os.X_OK):
            return path
    return None
