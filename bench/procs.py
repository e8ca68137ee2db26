"""Servers the benchmarks start and always stop again: gunicorn and nginx on 127.0.0.1
(each a tests.support.processes.Server: its own process group and log)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from tests.support.processes import HOST, REPO, Server, free_port, tail

__all__ = ["HOST", "REPO", "Server", "free_port", "tail"]


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
