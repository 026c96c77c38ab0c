"""Load test of the local stack, on loopback only, bounded in time and count.

    .venv/bin/python bench/load.py                    # starts `make run` itself, 60 s, 16 clients
    .venv/bin/python bench/load.py --url http://127.0.0.1:8080 --duration 30

N clients, each on its own loopback address (127.0.0.10, .11, ...) so that the per-client
rate limit sees N clients, loop over real images (test_images/ and ../shared/ocr-samples)
for the duration, mixing inline OCR (``POST /extract-text``) and background uploads
(``?mode=async``). Every image is made unique per request (bytes appended after its end,
which decoders ignore) so the answer cache does not flatter the figures. One extra
"abuser" client (8 connections from 127.0.0.2) sends as fast as it is answered to show
deliberate 429s; its answers are counted apart. Afterwards the script waits for the
result of every async upload and counts them.

Reports throughput, p50/p99 latency, every non-2xx by status and code, and whether the
target holds: no errors but deliberate 429s, no 5xx, every async result present.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import platform
import random
import secrets
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import requests
from requests.adapters import HTTPAdapter

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT.parent / "shared" / "ocr-samples"
MAX_IMAGE_BYTES = 1_500_000
ABUSER_THREADS = 8
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".bmp", ".tif", ".tiff", ".webp")
sys.path.insert(0, str(ROOT))


def load_images(max_bytes: int = MAX_IMAGE_BYTES) -> list[tuple[str, bytes]]:
    paths = sorted((ROOT / "test_images").glob("*.*"))
    if SAMPLES.is_dir():
        paths += sorted(SAMPLES.glob("*.*"))
    images = []
    for path in paths:
        if path.suffix.lower() not in IMAGE_SUFFIXES or path.name == "not_an_image.jpg":
            continue  # ground truth, manifests, PDFs (those go through /operations)
        data = path.read_bytes()
        if len(data) <= max_bytes:
            images.append((path.name, data))
    return images


class SourceAddressAdapter(HTTPAdapter):
    """Connections from a chosen loopback address: one client identity per simulated user."""

    def __init__(self, source: str) -> None:
        self.source = source
        super().__init__(pool_connections=1, pool_maxsize=2)

    def init_poolmanager(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        kwargs["source_address"] = (self.source, 0)
        return super().init_poolmanager(*args, **kwargs)


def session_from(source: str) -> requests.Session:
    session = requests.Session()
    session.mount("http://", SourceAddressAdapter(source))
    return session


@dataclass
class Sample:
    kind: str  # sync | async | abuse
    status: int
    code: str | None
    latency_s: float


@dataclass
class Run:
    samples: list[Sample] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)  # results_url of each accepted upload
    cached: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, sample: Sample, results_url: str | None = None, cached: bool = False) -> None:
        with self.lock:
            self.samples.append(sample)
            if results_url:
                self.pending.append(results_url)
            self.cached += cached


def _error_code(response: requests.Response) -> str | None:
    if response.status_code < 300:
        return None
    try:
        return str(response.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return "non-json"


def client_loop(
    url: str,
    source: str,
    images: list[tuple[str, bytes]],
    async_ratio: float,
    deadline: float,
    budget: threading.Semaphore,
    run: Run,
    seed: int,
) -> None:
    rng = random.Random(seed)
    session = session_from(source)
    while time.monotonic() < deadline and budget.acquire(blocking=False):
        name, data = rng.choice(images)
        unique = data + b"\0load" + secrets.token_bytes(12)  # after the image's end
        kind = "async" if rng.random() < async_ratio else "sync"
        query = "?mode=async" if kind == "async" else ""
        started = time.monotonic()
        try:
            response = session.post(
                f"{url}/extract-text{query}", files={"image": (name, unique)}, timeout=300
            )
        except requests.RequestException as exc:
            run.add(Sample(kind, 0, type(exc).__name__, time.monotonic() - started))
            print(f"{source} {kind} {name}: {exc!r}"[:400], file=sys.stderr)
            continue
        elapsed = time.monotonic() - started
        body_url = None
        cached = False
        if response.status_code == 202:
            body_url = response.json()["results_url"]
        elif response.status_code == 200:
            cached = bool(response.json().get("cached"))
        run.add(
            Sample(kind, response.status_code, _error_code(response), elapsed), body_url, cached
        )
        if response.status_code == 429:
            time.sleep(float(response.headers.get("Retry-After", "1")))


def abuser_loop(url: str, image: bytes, deadline: float, budget: threading.Semaphore, run: Run):
    """One of the abuser's connections. Together they send one image (a cache hit, so
    cheap to answer) from one address as fast as the server answers, ignoring
    Retry-After: past its burst and rate, every answer must be a 429."""
    session = session_from("127.0.0.2")
    while time.monotonic() < deadline and budget.acquire(blocking=False):
        started = time.monotonic()
        try:
            response = session.post(
                f"{url}/extract-text", files={"image": ("abuse.jpg", image)}, timeout=60
            )
        except requests.RequestException as exc:
            run.add(Sample("abuse", 0, type(exc).__name__, time.monotonic() - started))
            continue
        run.add(
            Sample("abuse", response.status_code, _error_code(response), time.monotonic() - started)
        )
        time.sleep(0.05)  # at most ~20 requests a second per connection


def wait_results(urls: list[str], timeout_s: float) -> tuple[int, int, list[str]]:
    """(done, failed, missing urls) after polling every results_url until the deadline."""
    deadline = time.monotonic() + timeout_s
    waiting = list(urls)
    done = failed = 0
    session = requests.Session()
    while waiting and time.monotonic() < deadline:
        still = []
        for url in waiting:
            try:
                response = session.get(url, timeout=30)
            except requests.RequestException:
                still.append(url)
                continue
            if response.status_code == 200:
                status = response.json().get("status")
                done += status == "done"
                failed += status == "failed"
                if status not in ("done", "failed"):
                    still.append(url)
            else:
                still.append(url)
        waiting = still
        if waiting:
            time.sleep(1)
    return done, failed, waiting


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def report(run: Run, duration_s: float, results: tuple[int, int, list[str]], args) -> dict:
    users = [s for s in run.samples if s.kind != "abuse"]
    abuse = [s for s in run.samples if s.kind == "abuse"]
    ok = [s for s in users if 200 <= s.status < 300]

    def by_code(samples: list[Sample]) -> dict[str, int]:
        counter = collections.Counter(
            f"{s.status} {s.code}" for s in samples if not 200 <= s.status < 300
        )
        return dict(sorted(counter.items()))

    def latency(kind: str | None) -> dict[str, float]:
        values = [s.latency_s for s in ok if kind is None or s.kind == kind]
        return {
            "count": len(values),
            "p50_s": round(percentile(values, 0.50), 3),
            "p99_s": round(percentile(values, 0.99), 3),
            "max_s": round(max(values, default=0.0), 3),
        }

    done, failed, missing = results
    accepted = sum(1 for s in users if s.kind == "async" and s.status == 202)
    user_errors = by_code(users)
    unexpected = {k: v for k, v in user_errors.items() if not k.startswith("429 ")}
    five_xx = sum(1 for s in run.samples if s.status >= 500 or s.status == 0)
    summary = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.node()} {platform.machine()}, {os.cpu_count()} cores",
        "clients": args.clients,
        "rate_limit": args.rate_limit if args.url is None else "as configured",
        "duration_s": round(duration_s, 1),
        "requests": len(users),
        "throughput_rps": round(len(ok) / duration_s, 2),
        "latency_all": latency(None),
        "latency_sync": latency("sync"),
        "latency_async_upload": latency("async"),
        "cached_answers": run.cached,
        "non_2xx_clients": user_errors,
        "abuser": {
            "requests": len(abuse),
            "answers": by_code(abuse),
            "2xx": len(abuse) - sum(by_code(abuse).values()),
        },
        "async_accepted": accepted,
        "async_results_done": done,
        "async_results_failed": failed,
        "async_results_missing": len(missing),
        "5xx_or_no_answer": five_xx,
    }
    summary["target_met"] = (
        not unexpected
        and five_xx == 0
        and not missing
        and done + failed == accepted
        and all(code.startswith("429") for code in by_code(abuse))
    )
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--url", help="a running stack (loopback only); default: start one")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load (max 600)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients (max 64)")
    parser.add_argument("--async-ratio", type=float, default=0.3)
    parser.add_argument("--max-requests", type=int, default=20_000, help="hard cap on requests")
    parser.add_argument("--result-timeout", type=float, default=180.0)
    parser.add_argument("--no-abuser", action="store_true", help="no deliberate 429s")
    parser.add_argument("--json", type=Path, help="also write the summary here")
    parser.add_argument("--keep", action="store_true", help="keep the started stack's folder")
    parser.add_argument(
        "--rate-limit",
        default="1/5",
        help="RATE_LIMIT_RPS/RATE_LIMIT_BURST of the stack this script starts (default 1/5: "
        "far above what one honest client sends here, below what the abuser sends)",
    )
    args = parser.parse_args(argv)
    args.duration = min(args.duration, 600.0)
    args.clients = max(1, min(args.clients, 64))

    stack = None
    url = args.url
    if url is None:
        from tests.servers import LocalStack

        workdir = Path(tempfile.mkdtemp(prefix="ocr-load-"))
        rps, burst = args.rate_limit.split("/")
        stack = LocalStack(
            workdir / "data",
            workdir / "stack.log",
            {"RATE_LIMIT_RPS": rps, "RATE_LIMIT_BURST": burst},
        )
        print(f"starting the local stack (log: {stack.log_path})", file=sys.stderr)
        stack.start()
        url = stack.url
    host = requests.utils.urlparse(url).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        parser.error("--url must be on loopback (127.0.0.1)")

    try:
        images = load_images()
        print(
            f"{len(images)} images, {args.clients} clients, {args.duration:.0f} s", file=sys.stderr
        )
        run = Run()
        budget = threading.Semaphore(args.max_requests)
        started = time.monotonic()
        deadline = started + args.duration
        threads = [
            threading.Thread(
                target=client_loop,
                args=(url, f"127.0.0.{10 + i}", images, args.async_ratio, deadline, budget, run, i),
                daemon=True,
            )
            for i in range(args.clients)
        ]
        if not args.no_abuser:
            hello = (ROOT / "test_images" / "hello.jpg").read_bytes()
            threads += [
                threading.Thread(
                    target=abuser_loop, args=(url, hello, deadline, budget, run), daemon=True
                )
                for _ in range(ABUSER_THREADS)
            ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=args.duration + 330)
        duration = time.monotonic() - started
        print(f"load done; waiting for {len(run.pending)} async results", file=sys.stderr)
        wait_started = time.monotonic()
        results = wait_results(run.pending, args.result_timeout)
        summary = report(run, duration, results, args)
        summary["async_results_wait_s"] = round(time.monotonic() - wait_started, 1)
    finally:
        if stack is not None:
            stack.stop()
            if not args.keep:
                shutil.rmtree(stack.data_dir.parent, ignore_errors=True)
    print(json.dumps(summary, indent=2))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))
    return 0 if summary["target_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
