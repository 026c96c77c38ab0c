"""Where the time goes: the engine alone against the service around it, on the real corpus.

Starts the local stack itself (the ``make run`` layout: one functions-framework process per
function behind the gateway, on loopback), stops what it started, and prints, measured side
by side in one run:

- per image: the engine call alone (in this process, on the decoded image) and the
  ``POST /extract-text`` round trip, straight to the upload function's port (what the cloud
  path sees: no gateway there) and through the gateway; their ratio is the overhead;
- the same image through the peers' plain pytesseract-in-Flask handler
  (bench/peer_pytesseract.py), and how well each reads (character error rate);
- a repeated identical image (a cache hit) round trip;
- cold start of each function (process start to first successful response, then to the
  first OCR answer) and import time, without and with the engine model;
- throughput with one engine worker and one per core on the same workload, and the ratio;
- peak RSS of each function's processes after the corpus went through all three, one
  request at a time, and of the upload function under the throughput load.

The overhead, peer and throughput stacks run with the answer cache off (``CACHE_MAX_ENTRIES=0``,
the documented switch; an unknown variable where the cache has not landed), so that every
round trip runs the engine; the cache-hit figure comes from a stack with the defaults.

    .venv/bin/python bench/speed.py [--samples ../shared/ocr-samples] [--reps 3] [--no-peer]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.machine import describe  # noqa: E402
from bench.scoring import cer  # noqa: E402  (the accuracy benchmark's scoring)
from ocr_core.config import available_cores  # noqa: E402
from ocr_local.stack import free_port, functions_framework_command, stop_group  # noqa: E402

HTTP_TIMEOUT_S = 120
CACHE_OFF = {"CACHE_MAX_ENTRIES": "0"}


@dataclass
class Sample:
    name: str
    data: bytes
    truth: str
    pixels: str = ""


@dataclass
class Function:
    """One functions-framework process this bench started (its own process group)."""

    name: str
    target: str
    source: Path
    env: dict[str, str]
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    started: float = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Function:
        self.port = free_port()
        cmd = functions_framework_command(self.target, self.source, self.port)
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            cmd, env=self.env, cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL
        )
        return self

    def stop(self) -> None:
        stop_group(self.process)


def tree(pid: int) -> list[int]:
    """``pid`` and its descendants (gunicorn's master forks the workers)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo += children.get(current, [])
    return found


def peak_rss_mib(pid: int) -> float:
    """Largest peak RSS (VmHWM) among the process and its children, in MiB."""
    peaks = []
    for p in tree(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peaks.append(int(line.split()[1]) / 1024)
        except OSError:
            continue
    return max(peaks, default=0.0)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of the process and its children so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for p in tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, IndexError, ValueError):
            continue
    return total / ticks


def wait_for(check: Callable[[], bool], timeout_s: float, what: str) -> float:
    """Poll ``check`` every few ms; the time it first held (perf_counter), or raise."""
    deadline = time.perf_counter() + timeout_s
    while time.perf_counter() < deadline:
        try:
            if check():
                return time.perf_counter()
        except requests.RequestException:
            pass
        time.sleep(0.005)
    raise RuntimeError(f"{what} not ready within {timeout_s:.0f} s")


def post_image(session: requests.Session, url: str, sample: Sample) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    response = session.post(
        f"{url}/extract-text", files={"image": (sample.name, sample.data)}, timeout=HTTP_TIMEOUT_S
    )
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise RuntimeError(f"{url}: {sample.name}: HTTP {response.status_code} {response.text}")
    return elapsed, response.json()


def load_samples(folder: Path) -> list[Sample]:
    from ocr_core.recognition.intake import load_image

    samples = []
    for line in (folder / "MANIFEST.tsv").read_text().splitlines()[1:]:
        name = line.split("\t", 1)[0]
        path = folder / name
        gt = folder / (path.stem + ".gt.txt")
        if not path.is_file() or not gt.is_file():
            continue
        data = path.read_bytes()
        image = load_image(data, max_bytes=1 << 30, max_pixels=1 << 30)
        samples.append(Sample(name, data, gt.read_text(), f"{image.width}x{image.height}"))
    return samples


def base_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DATA_DIR": str(data_dir),
            "STORAGE_BACKEND": "local",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
            "LOG_LEVEL": "WARNING",  # the access log of every request is not what we measure
            # One client sends everything here: limits high enough never to answer 429,
            # while the limiter still runs on every request (its cost is overhead too).
            "RATE_LIMIT_RPS": "100000",
            "RATE_LIMIT_BURST": "100000",
        }
    )
    env.update(extra)
    return env


@contextmanager
def local_stack(env: dict[str, str]) -> Iterator[Any]:
    """The ``make run`` stack (ocr_local.stack), started here and stopped on the way out."""
    from ocr_core import runtime
    from ocr_local.stack import Stack

    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    runtime.reload()
    stack = Stack("127.0.0.1", free_port(), env)
    gateway = watcher = None
    try:
        gateway, watcher = stack.start()
        yield stack
    finally:
        if watcher is not None:
            watcher.stop()
        if gateway is not None:
            gateway.shutdown()
            gateway.server_close()
        stack.stop()
        os.environ.clear()
        os.environ.update(saved)
        runtime.reload()


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


@dataclass
class Report:
    rows: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)


ENGINE_LOOP = """
import json, sys, time
from ocr_core import runtime
from ocr_core.recognition.intake import load_image
engine = runtime.current().jobs.engines.get()
for line in sys.stdin:
    image = load_image(open(line.strip(), "rb").read(), max_bytes=1 << 30, max_pixels=1 << 30)
    started = time.perf_counter()
    engine.recognize(image.image)
    print(json.dumps((time.perf_counter() - started) * 1000), flush=True)
"""


class EngineProcess:
    """The engine alone, in a process of its own that does nothing else (as the function
    processes do nothing else): the image is decoded before the clock starts."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.folder = Path(tempfile.mkdtemp(prefix="bench-engine-"))
        self.process: subprocess.Popen[str] | None = None

    def __enter__(self) -> EngineProcess:
        self.process = subprocess.Popen(
            [sys.executable, "-c", ENGINE_LOOP],
            env=self.env,
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        return self

    def recognize(self, sample: Sample) -> float:
        """Milliseconds the engine took on ``sample``."""
        assert self.process is not None and self.process.stdin and self.process.stdout
        path = self.folder / sample.name
        if not path.exists():
            path.write_bytes(sample.data)
        self.process.stdin.write(f"{path}\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("the engine process died")
        return float(json.loads(line))

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            if self.process.stdin:
                self.process.stdin.close()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                stop_group(self.process)  # type: ignore[arg-type]
        shutil.rmtree(self.folder, ignore_errors=True)


def measure_overhead(
    samples: list[Sample], reps: int, env: dict[str, str], peer: Function | None, report: Report
) -> None:
    """Engine alone, round trip direct and through the gateway, and the peer: per image,
    interleaved (the order rotates each repetition so that load falls on all alike)."""
    from ocr_core import runtime

    with local_stack(env) as stack, EngineProcess(env) as engine:
        upload = stack.functions[0]
        gateway_url = f"http://127.0.0.1:{stack.port}"
        session = requests.Session()
        for sample in samples:  # warm every path once: pools, page cache, the peer's model
            post_image(session, upload.url, sample)
            if peer is not None:
                post_image(session, peer.url, sample)
        for sample in samples:
            engine.recognize(sample)  # warm, as the functions were
        for sample in samples:
            timings: dict[str, list[float]] = {"engine": [], "direct": [], "gateway": []}
            if peer is not None:
                timings["peer"] = []
            texts: dict[str, str] = {}

            def run_engine(
                sample: Sample = sample, timings: dict[str, list[float]] = timings
            ) -> None:
                timings["engine"].append(engine.recognize(sample))

            def run_http(
                kind: str,
                url: str,
                sample: Sample = sample,
                timings: dict[str, list[float]] = timings,
                texts: dict[str, str] = texts,
            ) -> Callable[[], None]:
                def go() -> None:
                    elapsed, body = post_image(session, url, sample)
                    timings[kind].append(elapsed)
                    texts[kind] = body.get("text", "")

                return go

            steps = [run_engine, run_http("direct", upload.url), run_http("gateway", gateway_url)]
            if peer is not None:
                steps.append(run_http("peer", peer.url))
            for rep in range(reps):
                for step in steps[rep % len(steps) :] + steps[: rep % len(steps)]:
                    step()
            row: dict[str, Any] = {"image": sample.name, "pixels": sample.pixels}
            for kind, values in timings.items():
                # Best of the repetitions: the figure least disturbed by other load on the
                # machine, taken alike for every path.
                row[f"{kind}_ms"] = min(values)
            row["overhead_direct"] = row["direct_ms"] / row["engine_ms"] - 1
            row["overhead_gateway"] = row["gateway_ms"] / row["engine_ms"] - 1
            row["cer"] = cer(texts["direct"], sample.truth)
            if peer is not None:
                row["peer_cer"] = cer(texts["peer"], sample.truth)
                row["peer_over_ours"] = row["peer_ms"] / row["direct_ms"]
            report.rows.append(row)
            print(_row_line(row), file=sys.stderr, flush=True)

        # The OCR and results functions on the same corpus: async uploads into the input
        # bucket, the OCR function's results, read back through the results function.
        for sample in samples:
            response = session.post(
                f"{gateway_url}/extract-text?mode=async",
                files={"image": (sample.name, sample.data)},
                timeout=HTTP_TIMEOUT_S,
            )
            response.raise_for_status()
            sample_object = response.json()["object"]
            wait_for(
                lambda o=sample_object: (
                    session.get(f"{gateway_url}/results/{o}", timeout=HTTP_TIMEOUT_S).status_code
                    == 200
                ),
                120,
                f"result of {sample_object}",
            )
        report.summary["peak_rss_mib"] = {
            spec.name: round(peak_rss_mib(spec.process.pid), 1)
            for spec in stack.functions
            if spec.process is not None
        }
        if peer is not None and peer.process is not None:
            report.summary["peak_rss_mib"]["peer"] = round(peak_rss_mib(peer.process.pid), 1)
    runtime.reload()


def measure_cache_hit(samples: list[Sample], env: dict[str, str], report: Report) -> None:
    """The same image again and again, with the default settings (cache on where it exists)."""
    sample = min(samples, key=lambda s: abs(len(s.data) - 100_000))  # a typical page photo
    with local_stack(env) as stack:
        upload = stack.functions[0]
        session = requests.Session()
        first, _ = post_image(session, upload.url, sample)
        direct, gateway, cached = [], [], []
        for _ in range(20):
            elapsed, body = post_image(session, upload.url, sample)
            direct.append(elapsed)
            cached.append(bool(body.get("cached")))
            elapsed, _ = post_image(session, f"http://127.0.0.1:{stack.port}", sample)
            gateway.append(elapsed)
    report.summary["cache_hit"] = {
        "image": sample.name,
        "first_ms": round(first, 1),
        "direct_ms": round(median(direct), 1),
        "gateway_ms": round(median(gateway), 1),
        "spread_direct_ms": [round(min(direct), 1), round(max(direct), 1)],
        "answered_from_cache": f"{sum(cached)}/{len(cached)}",
    }


def measure_cold_starts(samples: list[Sample], data_dir: Path, rounds: int, report: Report) -> None:
    """Process start to first answer, fresh processes, ``rounds`` times each: the first
    response that needs no engine (``/healthz``), then the first OCR answer, with the
    engine preloaded as the worker starts (the default) and built on first use."""
    from ocr_core import runtime
    from ocr_local.watcher import finalized_event

    small = min(samples, key=lambda s: len(s.data))
    os.environ.update(base_env(data_dir))
    bucket = runtime.reload().jobs.input
    out: dict[str, dict[str, list[float]]] = {}
    variants = [
        ("upload", "extract_text", "true"),
        ("upload", "extract_text", "false"),
        ("results", "get_result", "true"),
        ("ocr", "on_object_finalized", "true"),
        ("ocr", "on_object_finalized", "false"),
    ]
    for index in range(rounds):
        for name, target, preload in variants:
            env = base_env(data_dir, ENGINE_PRELOAD=preload, **CACHE_OFF)
            fn = Function(name, target, ROOT / "functions" / name / "main.py", env).start()
            times = out.setdefault(name, {})
            ocr_key = "first_ocr_preloaded" if preload == "true" else "first_ocr_on_demand"
            try:
                if name == "ocr":
                    info = bucket.write(
                        f"cold-{index}-{preload}-{small.name}", small.data, "image/png"
                    )
                    headers, body = finalized_event(info)
                    ready = wait_for(
                        lambda u=fn.url, h=headers, b=body: (
                            requests.post(u, headers=h, data=b, timeout=60).ok
                        ),
                        60,
                        name,
                    )
                    times.setdefault(ocr_key, []).append((ready - fn.started) * 1000)
                    continue
                ready = wait_for(
                    lambda u=fn.url: requests.get(f"{u}/healthz", timeout=60).ok, 60, name
                )
                times.setdefault("first_response", []).append((ready - fn.started) * 1000)
                if name == "upload":
                    post_image(requests.Session(), fn.url, small)
                    times.setdefault(ocr_key, []).append((time.perf_counter() - fn.started) * 1000)
            finally:
                fn.stop()
    # A request that comes a second after the instance is up (scale-out, min instances).
    for _ in range(rounds):
        for preload in ("true", "false"):
            env = base_env(data_dir, ENGINE_PRELOAD=preload, **CACHE_OFF)
            fn = Function("upload", "extract_text", ROOT / "functions/upload/main.py", env)
            fn.start()
            try:
                wait_for(lambda u=fn.url: requests.get(f"{u}/healthz", timeout=60).ok, 60, "upload")
                time.sleep(1)
                elapsed, _ = post_image(requests.Session(), fn.url, small)
                key = f"ocr_1s_after_start_{'preloaded' if preload == 'true' else 'on_demand'}"
                out["upload"].setdefault(key, []).append(elapsed)
            finally:
                fn.stop()
    report.summary["cold_start_ms"] = {
        name: {k: round(median(v), 0) for k, v in times.items() if v} for name, times in out.items()
    }
    report.summary["import_ms"] = import_times(rounds)


IMPORT_PROBE = """
import importlib.util, json, sys, time
started = time.perf_counter()
spec = importlib.util.spec_from_file_location("main", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
imported = time.perf_counter()
heavy = sorted({m.split(".")[0] + ("." + m.split(".")[1] if m.startswith("google.") and
         m.count(".") else "") for m in sys.modules
         if m.startswith(("google.cloud.storage", "google.cloud.vision", "google.cloud.pubsub",
                          "PIL", "tesserocr", "pypdfium2", "grpc", "onnxruntime", "rapidocr"))})
engine_ms = None
if sys.argv[2] == "1":
    from ocr_core import runtime
    runtime.current().jobs.engines.get()
    engine_ms = (time.perf_counter() - imported) * 1000
print(json.dumps({"import_ms": (imported - started) * 1000, "engine_ms": engine_ms,
                  "heavy": heavy}))
"""


def import_times(rounds: int) -> dict[str, Any]:
    """Import of each function's main.py (functions-framework included) in a fresh
    interpreter, and the engine model load on top of it for the functions that OCR."""
    result: dict[str, Any] = {}
    for name in ("upload", "ocr", "results"):
        load_engine = name != "results"
        probes = []
        for _ in range(rounds):
            out = subprocess.run(
                [
                    sys.executable,
                    "-c",
                    IMPORT_PROBE,
                    str(ROOT / "functions" / name / "main.py"),
                    "1" if load_engine else "0",
                ],
                cwd=ROOT,
                env=base_env(Path(tempfile.gettempdir())),
                capture_output=True,
                text=True,
                timeout=120,
                check=True,
            )
            probes.append(json.loads(out.stdout.strip().splitlines()[-1]))
        result[name] = {
            "import_ms": round(median([p["import_ms"] for p in probes]), 0),
            "engine_ms": round(median([p["engine_ms"] for p in probes]), 0)
            if load_engine
            else None,
            "heavy_modules_at_import": probes[0]["heavy"],
        }
    return result


def measure_throughput(samples: list[Sample], data_dir: Path, rounds: int, report: Report) -> None:
    """Images per second through the upload function on the same workload (the corpus,
    2 requests per core in flight): one engine worker, then one per core as engine threads
    in one process (the default) and as gunicorn worker processes. Runs alternate, so all
    see the same machine."""
    cores = available_cores()
    layouts = {
        "1 worker": {"WORKERS": "1", "ENGINE_THREADS": "1"},
        f"{cores} engine threads": {"WORKERS": "1", "ENGINE_THREADS": str(cores)},
        f"{cores} processes": {"WORKERS": str(cores), "ENGINE_THREADS": "1"},
    }
    fns = {
        label: Function(
            label,
            "extract_text",
            ROOT / "functions" / "upload" / "main.py",
            base_env(data_dir, **env, **CACHE_OFF),
        ).start()
        for label, env in layouts.items()
    }
    try:
        for fn in fns.values():
            wait_for(lambda f=fn: requests.get(f"{f.url}/healthz", timeout=5).ok, 60, fn.name)
        local = threading.local()

        def one(url: str, sample: Sample) -> None:
            if not hasattr(local, "session"):
                local.session = requests.Session()
            post_image(local.session, url, sample)

        # Largest first, twice over: no single big page left running alone at the end.
        workload = sorted(samples, key=lambda s: -len(s.data)) * 2
        rates: dict[str, list[float]] = {label: [] for label in fns}
        busy: dict[str, list[float]] = {label: [] for label in fns}
        with ThreadPoolExecutor(max_workers=2 * cores) as pool:
            for fn in fns.values():  # warm: every engine instance and worker created
                for _ in range(2):
                    list(pool.map(lambda s, u=fn.url: one(u, s), samples[: 2 * cores]))
            for _ in range(rounds):
                for label, fn in fns.items():
                    assert fn.process is not None
                    cpu = cpu_seconds(fn.process.pid)
                    started = time.perf_counter()
                    list(pool.map(lambda s, u=fn.url: one(u, s), workload))
                    wall = time.perf_counter() - started
                    rates[label].append(len(workload) / wall)
                    # Cores the function kept busy: shows parallelism even when other load
                    # on the machine leaves it fewer free cores than it could use.
                    busy[label].append((cpu_seconds(fn.process.pid) - cpu) / wall)
        # Under load: 2 requests per core in flight, the corpus's largest pages together.
        peak_mib = {
            label: round(peak_rss_mib(fn.process.pid), 1)
            for label, fn in fns.items()
            if fn.process is not None
        }
    finally:
        for fn in fns.values():
            fn.stop()
    base = median(rates["1 worker"])
    report.summary["throughput"] = {
        "cores": cores,
        "images_per_s": {label: round(median(r), 2) for label, r in rates.items()},
        "ratio": {label: round(median(r) / base, 2) for label, r in rates.items()},
        "cores_busy": {label: round(median(b), 2) for label, b in busy.items()},
        "peak_rss_mib": peak_mib,
        "ratios_per_round": {
            label: [round(x / b, 2) for x, b in zip(r, rates["1 worker"], strict=True)]
            for label, r in rates.items()
            if label != "1 worker"
        },
    }


def start_peer(data_dir: Path) -> Function | None:
    if shutil.which("tesseract") is None:
        print(
            "peer column skipped: the tesseract CLI is missing (apt-get install -y tesseract-ocr)",
            file=sys.stderr,
        )
        return None
    try:
        import pytesseract  # noqa: F401
    except ImportError:
        print("peer column skipped: pytesseract is not installed", file=sys.stderr)
        return None
    peer = Function(
        "peer", "extract_text", ROOT / "bench" / "peer_pytesseract.py", base_env(data_dir)
    ).start()
    wait_for(_listening(peer.port), 60, "peer")
    return peer


def _listening(port: int) -> Callable[[], bool]:
    def check() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            return False

    return check


def _row_line(row: dict[str, Any]) -> str:
    line = (
        f"| {row['image']} | {row['pixels']} | {row['engine_ms']:.0f} | {row['direct_ms']:.0f}"
        f" | {row['gateway_ms']:.0f} | {row['overhead_direct']:+.1%}"
        f" | {row['overhead_gateway']:+.1%} | {row['cer']:.3f} |"
    )
    if "peer_ms" in row:
        line += f" {row['peer_ms']:.0f} | {row['peer_cer']:.3f} | {row['peer_over_ours']:.2f}× |"
    return line


def render(report: Report, machine: str) -> str:
    rows, s = report.rows, report.summary
    peer = bool(rows) and "peer_ms" in rows[0]
    head = (
        "| image | pixels | engine ms | round trip ms | via gateway ms | overhead"
        " | via gateway | CER |"
    )
    rule = "|---|---|---:|---:|---:|---:|---:|---:|"
    if peer:
        head += " peer ms | peer CER | peer/ours |"
        rule += "---:|---:|---:|"
    lines = [f"bench/speed.py, {s['date']}, {machine}", ""]
    if rows:
        lines += [head, rule]
        lines += [_row_line(r) for r in rows]
        med = {k: median([r[k] for r in rows]) for k in rows[0] if k.endswith(("_ms", "cer"))}
        overhead = median([r["overhead_direct"] for r in rows])
        overhead_gw = median([r["overhead_gateway"] for r in rows])
        median_row = (
            f"| **median** | | {med['engine_ms']:.0f} | {med['direct_ms']:.0f}"
            f" | {med['gateway_ms']:.0f}"
            f" | {overhead:+.1%} | {overhead_gw:+.1%}"
            f" | {statistics.mean(r['cer'] for r in rows):.3f} (mean) |"
        )
        if peer:
            peer_ratio = median([r["peer_over_ours"] for r in rows])
            median_row += (
                f" {med['peer_ms']:.0f} | {statistics.mean(r['peer_cer'] for r in rows):.3f} (mean)"
                f" | {peer_ratio:.2f}× |"
            )
        lines.append(median_row)
    lines.append("")
    ch = s.get("cache_hit")
    if ch:
        lines.append(
            f"- repeated identical image ({ch['image']}): first {ch['first_ms']} ms, then median "
            f"{ch['direct_ms']} ms direct (range {ch['spread_direct_ms'][0]}–"
            f"{ch['spread_direct_ms'][1]}), {ch['gateway_ms']} ms via the gateway; "
            f"answered from the cache {ch['answered_from_cache']}"
        )
    cold = s.get("cold_start_ms", {})
    imports = s.get("import_ms", {})
    for name in ("upload", "results", "ocr"):
        if name not in cold:
            continue
        c, i = cold[name], imports.get(name, {})
        parts = []
        if "first_response" in c:
            parts.append(f"first response {c['first_response']:.0f} ms")
        if "first_ocr_preloaded" in c:
            parts.append(
                f"first OCR answer {c['first_ocr_preloaded']:.0f} ms with the engine preloaded,"
                f" {c['first_ocr_on_demand']:.0f} ms built on demand"
            )
        if "ocr_1s_after_start_preloaded" in c:
            parts.append(
                f"an OCR request 1 s after the start takes {c['ocr_1s_after_start_preloaded']:.0f}"
                f" ms preloaded, {c['ocr_1s_after_start_on_demand']:.0f} ms on demand"
            )
        parts.append(f"import of main.py {i.get('import_ms', 0):.0f} ms")
        if i.get("engine_ms") is not None:
            parts.append(f"engine model load {i['engine_ms']:.0f} ms")
        heavy = ", ".join(i.get("heavy_modules_at_import", [])) or "none"
        lines.append(f"- cold start, {name}: {'; '.join(parts)}; heavy modules at import: {heavy}")
    tp = s.get("throughput")
    if tp:
        per_s, ratio = tp["images_per_s"], tp["ratio"]
        lines.append(
            "- throughput on the corpus: "
            + ", ".join(f"{label} {rate} images/s" for label, rate in per_s.items())
            + "; against 1 worker: "
            + ", ".join(
                f"{label} {ratio[label]}× (rounds {tp['ratios_per_round'][label]})"
                for label in per_s
                if label != "1 worker"
            )
            + "; cores kept busy: "
            + ", ".join(f"{label} {n}" for label, n in tp["cores_busy"].items())
            + "; peak RSS under this load: "
            + ", ".join(f"{label} {mib:.0f} MiB" for label, mib in tp["peak_rss_mib"].items())
        )
    rss = s.get("peak_rss_mib")
    if rss:
        lines.append(
            "- peak RSS after the corpus, one request at a time: "
            + ", ".join(f"{name} {mib:.0f} MiB" for name, mib in rss.items())
        )
    return "\n".join(lines)


def machine_line() -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"{describe(available_cores())}, load average {load:.1f} at the start"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=Path, default=ROOT.parent / "shared" / "ocr-samples")
    parser.add_argument("--reps", type=int, default=3, help="repetitions per image and path")
    parser.add_argument("--rounds", type=int, default=3, help="cold starts and throughput runs")
    parser.add_argument("--no-peer", action="store_true", help="skip the pytesseract column")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument(
        "--parts",
        default="overhead,cache,cold,throughput",
        help="comma-separated subset of overhead,cache,cold,throughput",
    )
    args = parser.parse_args(argv)
    if not (args.samples / "MANIFEST.tsv").is_file():
        print(f"no corpus at {args.samples} (MANIFEST.tsv missing)", file=sys.stderr)
        return 2

    machine = machine_line()
    samples = load_samples(args.samples)
    report = Report(summary={"date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")})
    work = Path(tempfile.mkdtemp(prefix="bench-speed-"))
    peer = None
    try:
        parts = set(args.parts.split(","))
        if "overhead" in parts:
            peer = None if args.no_peer else start_peer(work / "peer")
            env = base_env(work / "stack", **CACHE_OFF)
            measure_overhead(samples, args.reps, env, peer, report)
        if "cache" in parts:
            measure_cache_hit(samples, base_env(work / "cached"), report)
        if "cold" in parts:
            measure_cold_starts(samples, work / "cold", args.rounds, report)
        if "throughput" in parts:
            measure_throughput(samples, work / "throughput", args.rounds, report)
    finally:
        if peer is not None:
            peer.stop()
        shutil.rmtree(work, ignore_errors=True)
    print(render(report, machine))
    if args.json:
        args.json.write_text(json.dumps({"machine": machine, **report.__dict__}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
