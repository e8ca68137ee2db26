"""aurio benchmarks (not tests): `python bench/run.py [--quick]` from the repo root.

1. Range streaming: aurio's stream endpoint under gunicorn (gthread) against
   nginx serving the same stored file, both on 127.0.0.1, for whole-file GETs
   and 1 MiB Range GETs at random offsets: requests/s, MB/s, aurio/nginx.
2. Upload memory: peak RSS of the single gunicorn worker while it accepts a
   ~10 MB and a ~200 MB video through the API.
3. Upload throughput and memory, tus vs multipart: ~10, ~100 and ~480 MB
   videos sent both ways to one gunicorn worker (tus in 5 MiB PATCHes, as the
   record page sends them, then the finish call): wall time, MB/s for the
   transfer and end to end, and the worker's peak RSS growth.

Every server is started here, on loopback, in a temporary data folder, and
stopped again whatever happens. Results are printed and written as JSON to
bench/results/latest.json. See bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import json
import os
import platform
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.request
from collections.abc import Iterable
from contextlib import ExitStack
from pathlib import Path
from types import FrameType

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import clips, load, procs, upload  # noqa: E402

MB = 1_000_000
MIB = 1 << 20
# aurio's own defaults (aurio/settings.py), kept unless a clip needs more room.
DEFAULT_MAX_UPLOAD_BYTES = 500 * MIB
MAX_DURATION_SECONDS = 120
RESULTS = REPO / "bench" / "results"


# --- command line -------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="short runs, a 10/50 MB upload pair (about a minute)")
    p.add_argument("--only", choices=["stream", "upload", "tus"], help="run one benchmark only")
    p.add_argument("--duration", type=float, help="seconds per measured load run (default 5, quick 3)")
    p.add_argument("--repeat", type=int, help="rounds of runs; the median is reported (default 3, quick 1)")
    p.add_argument("--warmup", type=float, help="unrecorded load before each run, s (default 2, quick 1)")
    p.add_argument("--concurrency", type=int, default=8, help="open connections during load (default 8)")
    p.add_argument("--range-bytes", type=int, default=MIB, help="size of each Range request (default 1 MiB)")
    p.add_argument("--stream-mb", type=float, help="size of the streamed video in MB (default 30, quick 15)")
    p.add_argument("--upload-mb", help="comma-separated upload sizes in MB (default 10,200, quick 10,50)")
    p.add_argument(
        "--tus-mb", help="comma-separated sizes in MB for tus vs multipart (default 10,100,480, quick 10,100)"
    )
    p.add_argument(
        "--tus-repeat", type=int, help="rounds of tus vs multipart; medians reported (default 3, quick 1)"
    )
    p.add_argument(
        "--tus-chunk-mib", type=float, default=5.0, help="tus PATCH size in MiB (default 5, as the page)"
    )
    p.add_argument("--workers", type=int, default=2, help="gunicorn workers and nginx workers for streaming")
    p.add_argument("--threads", type=int, default=8, help="gunicorn threads per worker")
    p.add_argument("--client", choices=["auto", "wrk", "python"], default="auto", help="load generator")
    p.add_argument(
        "--gunicorn-config",
        default=str(REPO / "gunicorn.conf.py"),
        help="gunicorn config file (default the repo's; 'none' for command-line settings only)",
    )
    p.add_argument("--no-install", action="store_true", help="never apt-get install a missing nginx or wrk")
    p.add_argument("--no-cache", action="store_true", help="regenerate the test videos")
    p.add_argument("--keep", action="store_true", help="keep the temporary data folder and logs")
    p.add_argument("--output", type=Path, default=RESULTS / "latest.json", help="where to write the JSON")
    p.add_argument("--max-seconds", type=int, default=900, help="hard stop for the whole run (default 900)")
    args = p.parse_args(argv)
    args.duration = args.duration if args.duration is not None else (3.0 if args.quick else 5.0)
    args.repeat = args.repeat if args.repeat is not None else (1 if args.quick else 3)
    args.warmup = args.warmup if args.warmup is not None else (1.0 if args.quick else 2.0)
    args.stream_mb = args.stream_mb if args.stream_mb is not None else (15.0 if args.quick else 30.0)
    sizes = args.upload_mb or ("10,50" if args.quick else "10,200")
    args.upload_sizes = [round(float(s) * MB) for s in sizes.split(",") if s.strip()]
    sizes = args.tus_mb or ("10,100" if args.quick else "10,100,480")
    args.tus_sizes = [round(float(s) * MB) for s in sizes.split(",") if s.strip()]
    args.tus_repeat = args.tus_repeat if args.tus_repeat is not None else (1 if args.quick else 3)
    if not (1 <= args.tus_repeat <= 20 and 0 < args.tus_chunk_mib <= 1024):
        p.error("--tus-repeat must be in [1, 20] and --tus-chunk-mib in (0, 1024]")
    if not (0 < args.duration <= 300 and 1 <= args.repeat <= 20 and 1 <= args.concurrency <= 256):
        p.error("--duration must be in (0, 300], --repeat in [1, 20] and --concurrency in [1, 256]")
    return args


# --- helpers ------------------------------------------------------------------


def median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


def say(message: str = "") -> None:
    print(message, flush=True)


def run_checked(argv: list[str], env: dict[str, str], timeout: float) -> str:
    result = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({result.returncode}):\n{result.stdout}{result.stderr}")
    return result.stdout


def version(argv: list[str]) -> str:
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    text = (result.stdout + result.stderr).strip().splitlines()
    return text[0] if text else "unknown"


def machine() -> dict[str, object]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = 0
    with contextlib.suppress(OSError, ValueError, IndexError):
        mem = int(Path("/proc/meminfo").read_text().split()[1]) // 1024
    commit = version(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"])
    return {
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "memory_mb": mem,
        "kernel": platform.release(),
        "git": commit,
        "load_at_start": load_average(),
    }


def load_average() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def warn_if_busy() -> None:
    """Everything here is timed on a shared machine: say so when others are using it."""
    load = load_average()
    cpus = os.cpu_count() or 1
    if load and load[0] > 0.5 * cpus:
        say(
            f"WARNING: load average {load[0]:.1f} on {cpus} CPUs before the bench starts: other work "
            "is running, and times will be slower and noisier than on an idle machine."
        )


def media_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(MIB):
            digest.update(block)
    return digest.hexdigest()


def get_json(url: str, headers: dict[str, str]) -> dict[str, object]:
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=30) as response:
        data: dict[str, object] = json.loads(response.read())
        return data


def fetch(url: str, headers: dict[str, str]) -> tuple[int, bytes]:
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=60) as response:
        return response.status, response.read()


# --- the run ------------------------------------------------------------------


class Bench:
    def __init__(self, args: argparse.Namespace, tmp: Path, stack: ExitStack):
        self.args = args
        self.tmp = tmp
        self.stack = stack
        self.venv = REPO / ".venv"
        if not (self.venv / "bin" / "gunicorn").exists():
            self.venv = Path(sys.executable).parent.parent
        self.python = str(self.venv / "bin" / "python")
        self.data = tmp / "data"
        self.logs = tmp / "logs"
        for folder in (self.data, self.logs, tmp / "uploads"):
            folder.mkdir(parents=True)
        self.servers: list[procs.Server] = []
        # gunicorn reads ./gunicorn.conf.py unless told otherwise: always name one.
        config = Path(args.gunicorn_config) if args.gunicorn_config != "none" else None
        if config is None or not config.exists():
            config = tmp / "gunicorn-empty.conf.py"
            config.write_text("# command-line settings only\n")
            self.config_label = "none (command line only)"
        else:
            self.config_label = str(config.relative_to(REPO) if config.is_relative_to(REPO) else config)
        self.gunicorn_config = config
        largest = max([*args.upload_sizes, *args.tus_sizes], default=0)
        # The production limit (500 MiB) unless a requested size is past 500 MB.
        self.max_upload = DEFAULT_MAX_UPLOAD_BYTES if largest <= 500 * MB else 2 * largest
        self.env = {
            **{k: v for k, v in os.environ.items() if k not in ("SECRET_KEY_FILE", "DATABASE_URL")},
            "DJANGO_SETTINGS_MODULE": "aurio.settings",
            "SECRET_KEY": "bench-" + secrets.token_urlsafe(32),
            "AURIO_DATA_DIR": str(self.data),
            "DATABASE_URL": f"sqlite:///{self.data / 'aurio.sqlite3'}",
            "ALLOWED_HOSTS": "127.0.0.1",
            "DEBUG": "false",
            "SECURE_SSL_REDIRECT": "false",
            "LOG_LEVEL": "WARNING",
            "ACCESS_LOG": "false",
            "FILE_UPLOAD_TEMP_DIR": str(tmp / "uploads"),
            "AURIO_MAX_UPLOAD_BYTES": str(self.max_upload),
        }
        self.key = ""
        self.invites: list[str] = []
        self.sendfile = procs.gunicorn_sendfile(self.venv, self.gunicorn_config, self.env)
        say(f"gunicorn config: {self.config_label}; gunicorn will use sendfile(2): {self.sendfile}")
        if self.sendfile is False:
            say(
                "  WARNING: with this config gunicorn never calls sendfile(2): every response is read and\n"
                "  written in Python, and a 206 reads the file to its end. gunicorn treats any value of its\n"
                "  `sendfile` setting, even True, as 'disable'; leave it unset to keep sendfile on."
            )

    # set-up

    def prepare(self, invites: int) -> None:
        say("Set-up: migrate, a superuser with an API token, invites")
        run_checked([self.python, "manage.py", "migrate", "--noinput", "-v0"], self.env, timeout=120)
        script = str(REPO / "bench" / "appsetup.py")
        out = run_checked([self.python, script, str(invites)], self.env, timeout=60)
        info = json.loads(out.strip().splitlines()[-1])
        self.key = info["key"]
        self.invites = list(info["invites"])

    def invite(self) -> str:
        return self.invites.pop(0)

    def make_clip(self, target: int) -> tuple[Path, dict[str, object]]:
        recipe = clips.recipe_for(target, max_seconds=115)
        path, info = clips.clip(recipe, cache=not self.args.no_cache, workdir=self.tmp)
        how = f"made in {info['generate_seconds']}s" if info["generated"] else "cached"
        say(f"  video {path.name}: {int(str(info['bytes'])) / MB:.1f} MB ({how})")
        return path, info

    def gunicorn(self, name: str, workers: int) -> tuple[procs.Server, int]:
        port = procs.free_port()
        server = procs.start_gunicorn(
            name=name,
            venv=self.venv,
            env=self.env,
            port=port,
            workers=workers,
            threads=self.args.threads,
            log=self.logs / f"{name}.log",
            config=self.gunicorn_config,
        )
        self.servers.append(server)
        self.stack.callback(server.stop)
        server.wait_http(f"http://{procs.HOST}:{port}/healthz", timeout=60)
        return server, port

    def upload_or_fail(self, port: int, path: Path) -> tuple[str, float]:
        status, body, seconds = upload.upload(port, self.invite(), path)
        if status != 201:
            raise RuntimeError(f"upload of {path.name} answered {status}: {body}")
        return str(body["videoId"]), seconds

    # 1. streaming

    def streaming(self) -> dict[str, object]:
        args = self.args
        say("\n== Range streaming: aurio (gunicorn gthread) vs nginx ==")
        clip_path, clip_info = self.make_clip(round(args.stream_mb * MB))
        server, port = self.gunicorn("gunicorn-stream", args.workers)
        video_id, _ = self.upload_or_fail(port, clip_path)
        auth = f"Bearer {self.key}"
        video = get_json(f"http://{procs.HOST}:{port}/api/v1/videos/{video_id}", {"Authorization": auth})
        size = int(str(video["size"]))
        stored = list((self.data / "media" / "videos" / video_id).glob("original.*"))
        if len(stored) != 1 or stored[0].stat().st_size != size:
            raise RuntimeError(f"stored file for {video_id} not found where expected: {stored}")
        stored_path = stored[0]
        aurio_path = f"/api/v1/videos/{video_id}/stream"
        nginx_path = f"/media/videos/{video_id}/{stored_path.name}"
        if args.range_bytes >= size:
            raise RuntimeError(f"--range-bytes {args.range_bytes} is not smaller than the video ({size} B)")

        nginx_bin = procs.ensure_tool(
            "nginx", "nginx-light", install=not args.no_install, candidates=["/usr/sbin/nginx"]
        )
        targets: list[tuple[str, int, str, str]] = [("aurio", port, aurio_path, auth)]
        if nginx_bin is None:
            say("  nginx is not installed (apt-get install nginx-light): aurio alone, no ratio")
        else:
            nport = procs.free_port()
            nginx = procs.start_nginx(
                nginx=nginx_bin,
                prefix=self.tmp / "nginx",
                media=self.data / "media",
                port=nport,
                workers=args.workers,
                log=self.logs / "nginx.log",
            )
            self.servers.append(nginx)
            self.stack.callback(nginx.stop)
            nginx.wait_http(f"http://{procs.HOST}:{nport}{nginx_path}", timeout=30)
            targets.append(("nginx", nport, nginx_path, ""))

        # Both must serve exactly the stored bytes before we time them.
        expected = stored_path.read_bytes()
        first = size // 3
        for name, tport, tpath, tauth in targets:
            headers = {"Range": f"bytes={first}-{first + args.range_bytes - 1}"}
            if tauth:
                headers["Authorization"] = tauth
            status, body = fetch(f"http://{procs.HOST}:{tport}{tpath}", headers)
            if status != 206 or body != expected[first : first + args.range_bytes]:
                raise RuntimeError(f"{name}: Range GET gave {status} and {len(body)} bytes that do not match")
            headers = {"Authorization": tauth} if tauth else {}
            status, body = fetch(f"http://{procs.HOST}:{tport}{tpath}", headers)
            if status != 200 or body != expected:
                raise RuntimeError(f"{name}: whole GET gave {status} and {len(body)} bytes that do not match")
        del expected

        client = self.load_client()
        say(
            f"  file {size / MB:.1f} MB; {args.concurrency} connections; {args.repeat} round(s) of "
            f"{args.duration:g}s per server and request kind (+{args.warmup:g}s warm-up); client {client}"
        )
        modes = (("whole file", 0), (f"{args.range_bytes // 1024} KiB range", args.range_bytes))
        runs: dict[tuple[str, str], list[dict[str, float]]] = {}
        for round_no in range(args.repeat):
            for mode, chunk in modes:
                # Alternate who goes first, so drift on a shared machine hits both alike.
                for name, tport, tpath, tauth in targets if round_no % 2 == 0 else targets[::-1]:
                    spec = {
                        "port": tport,
                        "path": tpath,
                        "auth": tauth,
                        "size": size,
                        "chunk": chunk,
                        "concurrency": args.concurrency,
                    }
                    if round_no == 0 and args.warmup > 0:
                        self.load(client, duration=args.warmup, **spec)
                    for s in self.servers:
                        s.check_alive()
                    m = self.load(client, duration=args.duration, **spec)
                    seconds = float(m["seconds"]) or 1.0
                    run = {
                        "requests": m["requests"],
                        "errors": m["errors"],
                        "requests_per_s": m["requests"] / seconds,
                        "mb_per_s": m["bytes"] / seconds / MB,
                        "latency_p50_ms": m["latency_p50_ms"],
                        "latency_p99_ms": m["latency_p99_ms"],
                    }
                    runs.setdefault((name, mode), []).append(run)
                    say(
                        f"  round {round_no + 1}: {name:<6} {mode:<16} {run['requests_per_s']:>8.1f} req/s "
                        f"{run['mb_per_s']:>8.1f} MB/s  p50 {run['latency_p50_ms']:.1f} ms  "
                        f"p99 {run['latency_p99_ms']:.1f} ms  errors {int(run['errors'])}"
                    )
        rows: list[dict[str, object]] = []
        for (name, mode), measured in runs.items():
            rows.append(
                {
                    "server": name,
                    "mode": mode,
                    "requests": int(sum(r["requests"] for r in measured)),
                    "errors": int(sum(r["errors"] for r in measured)),
                    "requests_per_s": round(median(r["requests_per_s"] for r in measured), 1),
                    "mb_per_s": round(median(r["mb_per_s"] for r in measured), 1),
                    "latency_p50_ms": round(median(r["latency_p50_ms"] for r in measured), 2),
                    "latency_p99_ms": round(median(r["latency_p99_ms"] for r in measured), 2),
                    "requests_per_s_runs": [round(r["requests_per_s"], 1) for r in measured],
                }
            )
        rows.sort(key=lambda r: ([m for m, _ in modes].index(str(r["mode"])), str(r["server"])))
        ratios = {}
        for mode, _ in modes:
            by = {r["server"]: r for r in rows if r["mode"] == mode}
            if "aurio" in by and "nginx" in by and float(str(by["nginx"]["requests_per_s"])) > 0:
                ratios[mode] = round(
                    float(str(by["aurio"]["requests_per_s"])) / float(str(by["nginx"]["requests_per_s"])), 3
                )
        return {
            "video": {**clip_info, "stored_bytes": size, "content_type": video.get("contentType")},
            "client": client,
            "concurrency": args.concurrency,
            "duration_s": args.duration,
            "rounds": args.repeat,
            "warmup_s": args.warmup,
            "statistic": "median over rounds",
            "range_bytes": args.range_bytes,
            "gunicorn": {
                "workers": args.workers,
                "threads": args.threads,
                "config": self.config_label,
                "sendfile": self.sendfile,
            },
            "nginx": {"workers": args.workers, "sendfile": True, "access_log": False} if nginx_bin else None,
            "rows": rows,
            "aurio_over_nginx": ratios,
        }

    def load_client(self) -> str:
        if self.args.client == "python":
            return "python"
        self.wrk = procs.ensure_tool("wrk", "wrk", install=not self.args.no_install)
        if self.wrk is None:
            if self.args.client == "wrk":
                raise RuntimeError("wrk is not installed (apt-get install wrk)")
            say("  wrk is not installed (apt-get install wrk): using the slower Python client")
            return "python"
        return "wrk"

    def load(self, client: str, **spec: object) -> dict[str, float]:
        if client == "wrk":
            return load.run_wrk(self.wrk, **spec)  # type: ignore[arg-type]
        return load.run_python(**spec)  # type: ignore[arg-type]

    # 2. upload memory

    def uploads(self) -> dict[str, object]:
        say("\n== Upload memory: peak RSS of the one gunicorn worker ==")
        sizes = self.args.upload_sizes
        made = [self.make_clip(size) for size in sizes]
        warm_path, _ = clips.clip(
            clips.Recipe(2, 640, 360, 30, 1_000_000), cache=not self.args.no_cache, workdir=self.tmp
        )
        server, port = self.gunicorn("gunicorn-upload", 1)
        worker = self.only_worker(server)
        # One small upload first, so every measured upload finds the worker
        # warm (Django, PyAV and the API loaded), as it is in production.
        self.upload_or_fail(port, warm_path)
        baseline = upload.rss_kb(worker)
        say(f"  worker pid {worker}: {baseline / 1024:.1f} MiB resident after a warm-up upload")
        rows: list[dict[str, object]] = []
        for path, info in made:
            size = path.stat().st_size
            before = upload.rss_kb(worker)
            hwm_ok = upload.reset_hwm(worker)
            with upload.RssSampler(worker) as sampler:
                video_id, seconds = self.upload_or_fail(port, path)
            peak = max(sampler.peak_kb, upload.hwm_kb(worker) if hwm_ok else 0)
            if self.only_worker(server) != worker:
                raise RuntimeError("the gunicorn worker was replaced during the upload")
            row = {
                "file_mb": round(size / MB, 1),
                "duration_s": info["seconds"],
                "video_id": video_id,
                "upload_s": round(seconds, 2),
                "mb_per_s": round(size / MB / seconds, 1),
                "rss_before_mib": round(before / 1024, 1),
                "peak_rss_mib": round(peak / 1024, 1),
                "growth_mib": round((peak - before) / 1024, 1),
                "samples": sampler.samples,
                "peak_from": "VmHWM + 20 ms VmRSS samples" if hwm_ok else "20 ms VmRSS samples",
            }
            rows.append(row)
            say(
                f"  {row['file_mb']:>6} MB upload: {row['upload_s']:>6}s, peak RSS {row['peak_rss_mib']} MiB "
                f"(+{row['growth_mib']} MiB over {row['rss_before_mib']} MiB before)"
            )
        difference = None
        if len(rows) >= 2:
            difference = round(float(str(rows[-1]["peak_rss_mib"])) - float(str(rows[0]["peak_rss_mib"])), 1)
            say(
                f"  peak RSS difference, {rows[-1]['file_mb']} MB vs {rows[0]['file_mb']} MB upload: "
                f"{difference:+} MiB"
            )
        return {
            "gunicorn": {"workers": 1, "threads": self.args.threads, "config": self.config_label},
            "baseline_rss_mib": round(baseline / 1024, 1),
            "rows": rows,
            "peak_difference_mib": difference,
        }

    # 3. tus vs multipart

    def tus(self) -> dict[str, object]:
        args = self.args
        chunk = round(args.tus_chunk_mib * MIB)
        say("\n== Upload throughput and memory: tus vs multipart, one gunicorn worker ==")
        made = [self.make_clip(size) for size in args.tus_sizes]
        for path, info in made:
            size = path.stat().st_size
            if size > self.max_upload or float(str(info["seconds"])) > MAX_DURATION_SECONDS:
                raise RuntimeError(
                    f"{path.name} ({size} B, {info['seconds']} s) is past the server's limits "
                    f"({self.max_upload} B, {MAX_DURATION_SECONDS} s)"
                )
        warm_path, _ = clips.clip(
            clips.Recipe(2, 640, 360, 30, 1_000_000), cache=not args.no_cache, workdir=self.tmp
        )
        server, port = self.gunicorn("gunicorn-tus", 1)
        worker = self.only_worker(server)
        # Warm the worker with both kinds of upload, and the clips into the page
        # cache, so no run pays for a first import or a cold disk.
        self.multipart_run(port, warm_path, worker)
        self.tus_run(port, warm_path, worker, chunk)
        for path, _ in made:
            with path.open("rb") as f:
                while f.read(16 * MIB):
                    pass
        baseline = upload.rss_kb(worker)
        say(
            f"  worker pid {worker}: {baseline / 1024:.1f} MiB resident after warm-up; "
            f"tus PATCHes of {chunk / MIB:g} MiB; {args.tus_repeat} round(s)"
        )
        runs: dict[tuple[int, str], list[dict[str, object]]] = {}
        identical: dict[int, bool] = {}
        for round_no in range(args.tus_repeat):
            for index, (path, _) in enumerate(made):
                methods = ("multipart", "tus") if (round_no + index) % 2 == 0 else ("tus", "multipart")
                stored: dict[str, Path] = {}
                for method in methods:
                    server.check_alive()
                    # Start each run with no dirty pages left by the one before.
                    os.sync()
                    if method == "tus":
                        run = self.tus_run(port, path, worker, chunk)
                    else:
                        run = self.multipart_run(port, path, worker)
                    if self.only_worker(server) != worker:
                        raise RuntimeError("the gunicorn worker was replaced during the upload")
                    runs.setdefault((index, method), []).append(run)
                    stored[method] = self.stored_file(str(run["video_id"]))
                    file_mb = path.stat().st_size / MB
                    say(
                        f"  round {round_no + 1}: {file_mb:>6.1f} MB {method:<9} "
                        f"{run['total_s']:>6.2f}s ({run['transfer_s']:.2f}s transfer + "
                        f"{run['finish_s']:.2f}s finish)  {file_mb / float(str(run['total_s'])):>6.1f} MB/s  "
                        f"peak RSS +{run['growth_mib']} MiB"
                    )
                if round_no == 0:
                    # Same input, same lossless remux: both ways must store the same bytes.
                    identical[index] = media_sha256(stored["tus"]) == media_sha256(stored["multipart"])
                    if not identical[index]:
                        say(f"  NOTE: tus and multipart stored different bytes for {path.name}")
                for video_file in stored.values():
                    # Keep the temporary data folder small; the rows stay.
                    shutil.rmtree(video_file.parent, ignore_errors=True)
        rows: list[dict[str, object]] = []
        for (index, method), measured in sorted(
            runs.items(), key=lambda kv: (kv[0][0], kv[0][1] != "multipart")
        ):
            path, info = made[index]
            size = path.stat().st_size
            total = median(float(str(r["total_s"])) for r in measured)
            transfer = median(float(str(r["transfer_s"])) for r in measured)
            finish = median(float(str(r["finish_s"])) for r in measured)
            rows.append(
                {
                    "file_mb": round(size / MB, 1),
                    "file_bytes": size,
                    "clip": path.name,
                    "duration_s": info["seconds"],
                    "method": method,
                    "total_s": round(total, 2),
                    "mb_per_s": round(size / MB / total, 1),
                    "transfer_s": round(transfer, 2),
                    "transfer_mb_per_s": round(size / MB / transfer, 1),
                    "finish_s": round(finish, 2),
                    "growth_mib": max(float(str(r["growth_mib"])) for r in measured),
                    "transfer_growth_mib": max(float(str(r["transfer_growth_mib"])) for r in measured),
                    "finish_growth_mib": max(float(str(r["finish_growth_mib"])) for r in measured),
                    "peak_rss_mib": max(float(str(r["peak_rss_mib"])) for r in measured),
                    "requests": measured[0]["requests"],
                    "connections": max(int(str(r["connections"])) for r in measured),
                    "resumes": sum(int(str(r["resumes"])) for r in measured),
                    "patch_ms_median": median(
                        float(str(r["patch_ms_median"])) for r in measured if r["patch_ms_median"] is not None
                    )
                    if method == "tus"
                    else None,
                    "same_bytes_as_other_method": identical.get(index),
                    "total_s_runs": [r["total_s"] for r in measured],
                    "runs": measured,
                    "peak_from": measured[0]["peak_from"],
                }
            )
        growth = {
            method: round(float(str(rows_for[-1]["growth_mib"])) - float(str(rows_for[0]["growth_mib"])), 1)
            for method in ("multipart", "tus")
            if len(rows_for := [r for r in rows if r["method"] == method]) >= 2
        }
        for method, difference in growth.items():
            say(f"  {method}: peak RSS growth, largest vs smallest file: {difference:+} MiB")
        return {
            "gunicorn": {"workers": 1, "threads": args.threads, "config": self.config_label},
            "max_upload_bytes": self.max_upload,
            "tus_chunk_bytes": chunk,
            "rounds": args.tus_repeat,
            "statistic": "median time over rounds; largest peak RSS growth over rounds",
            "baseline_rss_mib": round(baseline / 1024, 1),
            "rows": rows,
            "growth_difference_mib": growth,
        }

    def multipart_run(self, port: int, path: Path, worker: int) -> dict[str, object]:
        with upload.PhasePeaks(worker, "transfer") as peaks:
            status, body, seconds, sent = upload.upload_timed(
                port, self.invite(), path, on_sent=lambda: peaks.mark("finish")
            )
        if status != 201:
            raise RuntimeError(f"multipart upload of {path.name} answered {status}: {body}")
        return self.run_row(
            peaks,
            video_id=str(body["videoId"]),
            total=seconds,
            transfer=sent,
            requests=1,
            connections=1,
            resumes=0,
        )

    def tus_run(self, port: int, path: Path, worker: int, chunk: int) -> dict[str, object]:
        client = upload.TimedTusUpload(port, self.invite(), path, chunk=chunk)
        try:
            with upload.PhasePeaks(worker, "transfer") as peaks:
                started = time.monotonic()
                client.create()
                client.send()
                sent = time.monotonic()
                peaks.mark("finish")
                finished = client.finish()
                done = time.monotonic()
        finally:
            client.close()
        if finished.status != 201:
            raise RuntimeError(
                f"tus finish of {path.name} answered {finished.status}: {finished.body[:300]!r}"
            )
        return self.run_row(
            peaks,
            video_id=str(finished.json()["videoId"]),
            total=done - started,
            transfer=sent - started,
            requests=2 + client.patches,
            connections=client.connections,
            resumes=client.resumes,
            patch_ms=client.patch_seconds,
        )

    @staticmethod
    def run_row(
        peaks: upload.PhasePeaks,
        *,
        video_id: str,
        total: float,
        transfer: float,
        requests: int,
        connections: int,
        resumes: int,
        patch_ms: list[float] | None = None,
    ) -> dict[str, object]:
        before = peaks.before_kb
        per_patch = sorted(patch_ms or [])

        def growth(phase: str) -> float:
            return round(max(peaks.peaks_kb.get(phase, before) - before, 0) / 1024, 1)

        return {
            "video_id": video_id,
            "total_s": round(total, 3),
            "transfer_s": round(transfer, 3),
            "finish_s": round(total - transfer, 3),
            "rss_before_mib": round(before / 1024, 1),
            "peak_rss_mib": round(peaks.peak_kb / 1024, 1),
            "growth_mib": round(max(peaks.peak_kb - before, 0) / 1024, 1),
            "transfer_growth_mib": growth("transfer"),
            "finish_growth_mib": growth("finish"),
            "requests": requests,
            "connections": connections,
            "resumes": resumes,
            "patch_ms_median": round(per_patch[len(per_patch) // 2] * 1000, 1) if per_patch else None,
            "patch_ms_max": round(per_patch[-1] * 1000, 1) if per_patch else None,
            "peak_from": "VmHWM + 20 ms VmRSS samples" if peaks.hwm_ok else "20 ms VmRSS samples",
        }

    def stored_file(self, video_id: str) -> Path:
        found = list((self.data / "media" / "videos" / video_id).glob("original.*"))
        if len(found) != 1:
            raise RuntimeError(f"stored file for {video_id} not found where expected: {found}")
        return found[0]

    def only_worker(self, server: procs.Server) -> int:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            server.check_alive()
            children = server.children()
            if len(children) == 1:
                return children[0]
            time.sleep(0.1)
        raise RuntimeError(f"expected one gunicorn worker, found {server.children()}")

    def print_logs(self) -> None:
        for log in sorted(self.logs.glob("*.log")):
            text = procs.tail(log, 20)
            if text:
                print(f"--- {log.name} (last lines) ---\n{text}", file=sys.stderr)


def print_tables(results: dict[str, object]) -> None:
    stream = results.get("streaming")
    if isinstance(stream, dict):
        say("\nRange streaming (MB = 10^6 bytes)")
        say(f"  {'server':<7}{'request':<17}{'req/s':>10}{'MB/s':>10}{'p50 ms':>10}{'p99 ms':>10}")
        for r in stream["rows"]:
            say(
                f"  {r['server']:<7}{r['mode']:<17}{r['requests_per_s']:>10}{r['mb_per_s']:>10}"
                f"{r['latency_p50_ms']:>10}{r['latency_p99_ms']:>10}"
            )
        for mode, ratio in stream["aurio_over_nginx"].items():
            say(f"  aurio/nginx, {mode}: {ratio:.2f}")
    uploads = results.get("upload")
    if isinstance(uploads, dict):
        say("\nUpload memory (gunicorn gthread, 1 worker)")
        say(f"  {'file MB':>8}{'upload s':>10}{'RSS before MiB':>16}{'peak RSS MiB':>14}{'growth MiB':>12}")
        for r in uploads["rows"]:
            say(
                f"  {r['file_mb']:>8}{r['upload_s']:>10}{r['rss_before_mib']:>16}"
                f"{r['peak_rss_mib']:>14}{r['growth_mib']:>12}"
            )
        if uploads.get("peak_difference_mib") is not None:
            say(f"  peak RSS difference, largest vs smallest: {uploads['peak_difference_mib']:+} MiB")

    tus = results.get("tus")
    if isinstance(tus, dict):
        say(
            f"\nUpload throughput and memory: tus ({int(tus['tus_chunk_bytes']) / MIB:g} MiB PATCHes) vs "
            f"multipart (gunicorn gthread, 1 worker; median of {tus['rounds']} round(s); MB = 10^6 bytes)"
        )
        say(
            f"  {'file MB':>8} {'method':<10}{'total s':>8}{'MB/s':>8}{'transfer s':>11}{'MB/s':>8}"
            f"{'finish s':>9}{'peak RSS MiB':>13}{'growth MiB':>11}{'transfer/finish':>17}"
        )
        for r in tus["rows"]:
            phases = f"{r['transfer_growth_mib']} / {r['finish_growth_mib']}"
            say(
                f"  {r['file_mb']:>8} {r['method']:<10}{r['total_s']:>8}{r['mb_per_s']:>8}"
                f"{r['transfer_s']:>11}{r['transfer_mb_per_s']:>8}{r['finish_s']:>9}"
                f"{r['peak_rss_mib']:>13}{r['growth_mib']:>11}{phases:>17}"
            )


class Interrupted(Exception):
    pass


def _raise(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(f"stopped by signal {signal.Signals(signum).name}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGALRM):
        signal.signal(sig, _raise)
    signal.alarm(args.max_seconds)
    started = time.monotonic()
    results: dict[str, object] = {
        "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": " ".join(["python", "bench/run.py", *(argv if argv is not None else sys.argv[1:])]),
        "machine": machine(),
    }
    warn_if_busy()
    tmp = Path(tempfile.mkdtemp(prefix="aurio-bench-"))
    bench: Bench | None = None
    status = 0
    try:
        with ExitStack() as stack:
            bench = Bench(args, tmp, stack)
            results["versions"] = {
                "python": platform.python_version(),
                "gunicorn": version([str(bench.venv / "bin" / "gunicorn"), "--version"]),
                "nginx": version(["/usr/sbin/nginx", "-v"]) if Path("/usr/sbin/nginx").exists() else "absent",
                "wrk": version(["wrk", "-v"]) if shutil.which("wrk") else "absent",
            }
            parts = [args.only] if args.only else ["stream", "upload", "tus"]
            invites = 1 + (1 + len(args.upload_sizes) if "upload" in parts else 0)
            invites += 2 + 2 * len(args.tus_sizes) * args.tus_repeat if "tus" in parts else 0
            bench.prepare(invites)
            if "stream" in parts:
                results["streaming"] = bench.streaming()
            if "upload" in parts:
                results["upload"] = bench.uploads()
            if "tus" in parts:
                results["tus"] = bench.tus()
            say("\nStopping servers")
    except (Exception, KeyboardInterrupt) as exc:
        status = 130 if isinstance(exc, KeyboardInterrupt) else 1
        results["error"] = f"{type(exc).__name__}: {exc}"
        traceback.print_exc()
        if bench is not None:
            bench.print_logs()
    finally:
        signal.alarm(0)
        if args.keep:
            say(f"Kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    results["seconds"] = round(time.monotonic() - started, 1)
    results["load_at_end"] = load_average()
    print_tables(results)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    say(
        f"\nWrote {args.output.relative_to(REPO) if args.output.is_relative_to(REPO) else args.output}"
        f" in {results['seconds']}s{' (with an error)' if status else ''}"
    )
    return status


if __name__ == "__main__":
    sys.exit(main())
