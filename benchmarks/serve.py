"""`moodscape serve` under load: N concurrent clients on 127.0.0.1 for a bounded time, against
`moodscape predict` on the same files in the same run.

Per concurrency level: files per second, p50 / p95 latency of a request (one file each), failed requests
(none expected below the queue limit), and the server's memory (resident size) at the start, the end and
its peak, sampled every 0.5 s. Absolute times depend on the machine; compare the rows of one run.

Usage: python benchmarks/serve.py [--clips DIR] [--files 8] [--seconds 30] [--clients 1 2 4]
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import httpx
import psutil

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CLIPS = REPO.parent / "shared" / "data" / "4q-dev"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def clips(folder: Path, count: int) -> list[Path]:
    found = sorted(folder.rglob("*.mp3"))
    if not found:
        sys.exit(f"no .mp3 clips under {folder}; give --clips DIR (e.g. demo/data after make demo)")
    step = max(1, len(found) // count)
    return found[::step][:count]


def baseline(files: list[Path]) -> dict[str, float]:
    """`moodscape predict` on the files, a fresh process as a user runs it."""
    with tempfile.TemporaryDirectory() as tmp:
        began = time.perf_counter()
        subprocess.run([sys.executable, "-m", "moodscape.cli", "-q", "predict", *map(str, files), "--out",
                        str(Path(tmp) / "out.json")], check=True, capture_output=True)  # fmt: skip
        seconds = time.perf_counter() - began
    return {"seconds": seconds, "files_per_s": len(files) / seconds}


def warm_predictor(files: list[Path]) -> dict[str, float]:
    """The same model in this process, loaded and warmed up: what serving costs beyond prediction itself."""
    from moodscape import Predictor

    predictor = Predictor.default()
    predictor.predict(files[0])
    began = time.perf_counter()
    for path in files:
        predictor.predict(path)
    seconds = time.perf_counter() - began
    return {"seconds": seconds, "files_per_s": len(files) / seconds}


def start_server(port: int, workers: int, queue: int) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "moodscape.cli", "-q", "serve", "--port", str(port), "--workers",
                             str(workers), "--queue", str(queue)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    for _ in range(600):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=1) as answer:
                if json.load(answer)["status"] == "ok":
                    return proc
        except OSError:
            if proc.poll() is not None:
                sys.exit(f"moodscape serve ended: {proc.stderr.read().decode()[-2000:]}")
            time.sleep(0.1)
    sys.exit("moodscape serve did not start within 60 s")


def load(url: str, files: list[Path], clients: int, seconds: float, server: psutil.Process) -> dict[str, float]:
    """``clients`` threads post one file per request, round robin, until ``seconds`` have passed."""
    latencies: list[float] = []
    failures: list[int] = []
    memory: list[int] = []
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.5):
            memory.append(server.memory_info().rss)

    def client(index: int) -> None:
        with httpx.Client(timeout=600) as http:
            turn = index
            while time.perf_counter() < deadline:
                path = files[turn % len(files)]
                turn += clients
                began = time.perf_counter()
                with path.open("rb") as handle:
                    answer = http.post(f"{url}/api/predict", files={"files": (path.name, handle)})
                with lock:
                    (latencies if answer.status_code == 200 else failures).append(
                        time.perf_counter() - began if answer.status_code == 200 else answer.status_code)

    memory.append(server.memory_info().rss)
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    began = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    stop.set()
    sampler.join()
    memory.append(server.memory_info().rss)
    ordered = sorted(latencies)
    return {
        "clients": clients, "requests": len(latencies), "failed": len(failures), "files_per_s": len(latencies) / elapsed,
        "p50": statistics.median(ordered), "p95": ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))],
        "mb_start": memory[0] / 2**20, "mb_end": memory[-1] / 2**20, "mb_peak": max(memory) / 2**20,
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", type=Path, default=DEFAULT_CLIPS, help="folder of .mp3 clips (default: 4q-dev)")
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30.0, help="load per concurrency level")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--workers", type=int, default=1, help="the server's --workers")
    parser.add_argument("--queue", type=int, default=8, help="the server's --queue")
    args = parser.parse_args()
    if max(args.clients) > args.workers + args.queue:
        sys.exit("keep --clients at or below workers + queue: this benchmark measures the server below its limit")
    files = clips(args.clips, args.files)
    base = baseline(files)
    warm = warm_predictor(files)
    port = free_port()
    proc = start_server(port, args.workers, args.queue)
    try:
        server = psutil.Process(proc.pid)
        url = f"http://127.0.0.1:{port}"
        first = httpx.post(f"{url}/api/predict", files={"files": (files[0].name, files[0].read_bytes())}, timeout=600)
        first.raise_for_status()
        rows = [load(url, files, clients, args.seconds, server) for clients in args.clients]
    finally:
        proc.terminate()
        proc.wait(20)
    print(f"{len(files)} clips from {args.clips}; server --workers {args.workers} --queue {args.queue}; "
          f"{args.seconds:g} s per level\n")  # fmt: skip
    print("| path | clients | requests | failed | files/s | vs predict | p50 s | p95 s | server MB start / end / peak |")
    print("|---|---|---|---|---|---|---|---|---|")
    print(f"| `moodscape predict` (one process, model load included) | - | {len(files)} | 0 | {base['files_per_s']:.2f} "
          f"| 1.00x | - | - | - |")  # fmt: skip
    print(f"| `Predictor.default()` in one warm process, file after file | - | {len(files)} | 0 | "
          f"{warm['files_per_s']:.2f} | {warm['files_per_s'] / base['files_per_s']:.2f}x | "
          f"{warm['seconds'] / len(files):.2f} | - | - |")  # fmt: skip
    for r in rows:
        print(f"| `moodscape serve` | {r['clients']} | {r['requests']} | {r['failed']} | {r['files_per_s']:.2f} | "
              f"{r['files_per_s'] / base['files_per_s']:.2f}x | {r['p50']:.2f} | {r['p95']:.2f} | "
              f"{r['mb_start']:.0f} / {r['mb_end']:.0f} / {r['mb_peak']:.0f} |")  # fmt: skip


if __name__ == "__main__":
    main()
