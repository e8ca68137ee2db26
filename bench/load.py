"""Load generators: wrk (preferred) or a threaded Python client, same numbers out.

Both keep `concurrency` keep-alive connections busy for `duration` seconds,
asking either for the whole file or for `chunk` bytes at a random offset.
"""

from __future__ import annotations

import http.client
import json
import random
import subprocess
import threading
import time
from pathlib import Path

from bench.procs import HOST

LUA = Path(__file__).resolve().parent / "range.lua"


def run_wrk(
    wrk: str, *, port: int, path: str, auth: str, size: int, chunk: int, concurrency: int, duration: float
) -> dict[str, float]:
    threads = max(1, min(2, concurrency))
    argv = [
        wrk,
        "-t",
        str(threads),
        "-c",
        str(concurrency),
        "-d",
        f"{max(1, round(duration))}s",
        "--timeout",
        "30s",
        "-s",
        str(LUA),
        f"http://{HOST}:{port}{path}",
        "--",
        path,
        auth,
        str(size),
        str(chunk),
    ]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 60)
    line = next((ln for ln in result.stdout.splitlines() if ln.startswith("WRK_JSON ")), None)
    if result.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    raw = json.loads(line.removeprefix("WRK_JSON "))
    seconds = raw["duration_us"] / 1e6
    errors = sum(v for k, v in raw.items() if k.startswith("errors_"))
    return {
        "requests": raw["requests"],
        "bytes": raw["bytes"],
        "seconds": seconds,
        "errors": errors,
        "latency_p50_ms": raw["latency_p50_us"] / 1000,
        "latency_p99_ms": raw["latency_p99_us"] / 1000,
    }


def run_python(
    *, port: int, path: str, auth: str, size: int, chunk: int, concurrency: int, duration: float
) -> dict[str, float]:
    lock = threading.Lock()
    totals = {"requests": 0, "bytes": 0, "errors": 0}
    latencies: list[float] = []
    started = time.monotonic()
    deadline = started + duration

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        conn = http.client.HTTPConnection(HOST, port, timeout=30)
        requests = nbytes = errors = 0
        mine: list[float] = []
        try:
            while time.monotonic() < deadline:
                headers = {"Authorization": auth} if auth else {}
                if chunk:
                    first = rng.randrange(0, size - chunk + 1)
                    headers["Range"] = f"bytes={first}-{first + chunk - 1}"
                t0 = time.monotonic()
                try:
                    conn.request("GET", path, headers=headers)
                    response = conn.getresponse()
                    while block := response.read(1 << 20):
                        nbytes += len(block)
                    if response.status not in (200, 206):
                        errors += 1
                except (OSError, http.client.HTTPException):
                    errors += 1
                    conn.close()
                    conn = http.client.HTTPConnection(HOST, port, timeout=30)
                    continue
                requests += 1
                mine.append(time.monotonic() - t0)
        finally:
            conn.close()
            with lock:
                totals["requests"] += requests
                totals["bytes"] += nbytes
                totals["errors"] += errors
                latencies.extend(mine)

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=duration + 60)
    seconds = time.monotonic() - started
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000 if latencies else 0.0

    return {**totals, "seconds": seconds, "latency_p50_ms": pct(0.50), "latency_p99_ms": pct(0.99)}
