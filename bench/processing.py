"""Processing benchmark (not a test): `python bench/processing.py [--quick]` from the repo root.

1. Realtime factor. A 720p30 and a 1080p30 take as a browser records them
   (VP8/Opus WebM without duration or cues, a moving picture with sensor-like
   noise and speech-like sound, 2.5 and 5 Mbit/s) go through the processing
   pass (decode once; H.264/AAC rendition, poster, speech/face/brightness
   analysis) in a fresh process each: wall time, CPU time, seconds of
   processing per minute of video, and the process's peak RSS.
2. Upload complete → playable. With `manage.py db_worker` running as `make
   run` starts it (1 s poll interval), each take is accepted by the upload
   service (sniff, probe, remux, store, queue) and the clock runs from the
   moment that returns until the video's status is "ready", i.e. until the
   MP4 rendition and poster are served. The worker's peak RSS is reported too.

Takes are 120 s (aurio's limit; --quick: 20 s), cached in bench/results/cache/.
Everything runs in a temporary data folder with its own SQLite database.
Results are printed and written to bench/results/processing.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

CACHE = REPO / "bench" / "results" / "cache"
RESULTS = REPO / "bench" / "results" / "processing.json"
PROFILES = [("720p", 1280, 720, 2_500_000), ("1080p", 1920, 1080, 5_000_000)]


def clip(name: str, width: int, height: int, bitrate: int, seconds: int) -> Path:
    from tests.support.media import make_video

    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"take-{name}-{bitrate // 1000}k-{seconds}s.webm"
    if not path.exists():
        started = time.monotonic()
        partial = path.with_suffix(".partial.webm")
        make_video(
            partial,
            seconds=seconds,
            size=(width, height),
            rate=30,
            bitrate=bitrate,
            picture="camera",
            sound="speech",
            live=True,
        )
        partial.replace(path)
        print(f"  made {path.name} in {time.monotonic() - started:.0f} s", flush=True)
    return path


def environment(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "TASKS_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="aurio.settings",
        AURIO_DATA_DIR=str(data_dir),
        SECRET_KEY="bench-secret-key-not-for-production-0123456789abcdef",
        LOG_LEVEL="WARNING",
        PYTHONPATH=str(REPO),
    )
    return env


# --- children (each in a fresh process, for a clean peak RSS) --------------------


def child_transcode(source: Path) -> None:
    from videos import media
    from videos.transcode import transcode

    seconds = media.probe(source).duration_seconds or 0.0
    with tempfile.TemporaryDirectory() as tmp:
        cpu0, wall0 = time.process_time(), time.monotonic()
        outputs = transcode(source, Path(tmp))
        wall, cpu = time.monotonic() - wall0, time.process_time() - cpu0
        size = outputs.playback.stat().st_size
    print(
        json.dumps(
            {
                "video_seconds": round(seconds, 2),
                "wall_seconds": round(wall, 2),
                "cpu_seconds": round(cpu, 2),
                "realtime_factor": round(wall / seconds, 3),
                "seconds_per_minute_of_video": round(wall / seconds * 60, 1),
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                "rendition_mb": round(size / 1e6, 1),
                "suggestion": outputs.findings.as_json(),
            }
        )
    )


def child_upload(source: Path) -> None:
    import django

    django.setup()
    from django.core.files.uploadedfile import TemporaryUploadedFile

    from invites.services import invite_create
    from uploads.accept import video_accept_upload
    from videos.models import Status, Video

    invite = invite_create(email=f"bench-{time.time_ns()}@example.invalid")
    upload = TemporaryUploadedFile(source.name, "video/webm", source.stat().st_size, None)
    with source.open("rb") as f:
        while chunk := f.read(1 << 20):
            upload.write(chunk)
    upload.seek(0)
    started = time.monotonic()
    video = video_accept_upload(invite=invite, upload=upload)
    accepted = time.monotonic()
    status = video.status
    while status not in (Status.READY, Status.FAILED) and time.monotonic() - accepted < 1800:
        time.sleep(0.05)
        status = Video.objects.filter(pk=video.pk).values_list("status", flat=True).get()
    done = time.monotonic()
    print(
        json.dumps(
            {
                "status": status,
                "accept_seconds": round(accepted - started, 2),
                "upload_to_playable_seconds": round(done - accepted, 2),
            }
        )
    )


# --- the bench --------------------------------------------------------------------


def run_child(args: list[str], env: dict[str, str]) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, __file__, *args], env=env, cwd=REPO, capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        raise RuntimeError(f"{args[0]} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def peak_rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="20 s takes instead of 120 s")
    parser.add_argument("--seconds", type=int, help="length of the takes (default 120, quick 20)")
    parser.add_argument("--child-transcode", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--child-upload", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_transcode:
        child_transcode(args.child_transcode)
        return 0
    if args.child_upload:
        child_upload(args.child_upload)
        return 0

    seconds = args.seconds or (20 if args.quick else 120)
    print(f"aurio processing bench: {seconds} s takes, {os.cpu_count()} CPUs, {platform.python_version()}")
    takes = {name: clip(name, w, h, rate, seconds) for name, w, h, rate in PROFILES}
    results: dict[str, object] = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "cpus": os.cpu_count(),
        "take_seconds": seconds,
        "realtime": {},
        "upload_to_playable": {},
    }

    print("\n1. Processing pass (fresh process per take)")
    with tempfile.TemporaryDirectory(prefix="aurio-bench-") as tmp:
        env = environment(Path(tmp))
        for name, path in takes.items():
            found = run_child(["--child-transcode", str(path)], env)
            results["realtime"][name] = found  # type: ignore[index]
            print(
                f"  {name:6s} {found['video_seconds']:6.1f} s of video: {found['wall_seconds']:6.1f} s wall "
                f"({found['cpu_seconds']:.1f} s CPU), realtime factor {found['realtime_factor']:.2f}, "
                f"{found['seconds_per_minute_of_video']:.1f} s per minute of video, "
                f"peak RSS {found['peak_rss_mb']:.0f} MB",
                flush=True,
            )

    print("\n2. Upload complete → playable (db_worker running, as with `make run`)")
    with tempfile.TemporaryDirectory(prefix="aurio-bench-") as tmp:
        env = environment(Path(tmp))
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v0"], env=env, cwd=REPO, check=True
        )
        worker = subprocess.Popen(
            [sys.executable, "manage.py", "db_worker", "--no-reload", "-v0"],
            env=env,
            cwd=REPO,
            stdout=subprocess.DEVNULL,
        )
        try:
            time.sleep(2)  # the worker's start-up and its random start delay
            for name, path in takes.items():
                found = run_child(["--child-upload", str(path)], env)
                results["upload_to_playable"][name] = found  # type: ignore[index]
                print(
                    f"  {name:6s} accepted in {found['accept_seconds']:.1f} s, then playable (status "
                    f"{found['status']}) after {found['upload_to_playable_seconds']:.1f} s",
                    flush=True,
                )
            results["worker_peak_rss_mb"] = peak_rss_mb(worker.pid)
            print(f"  worker peak RSS: {results['worker_peak_rss_mb']} MB")
        finally:
            worker.terminate()
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwritten to {RESULTS.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
