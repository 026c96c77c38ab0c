"""How much a batch gains from running its items side by side.

POST /batch-extract through functions-framework's test client with the same images,
once with one engine instance (items one after another) and once with one per core,
alternating runs so both see the same machine load. Prints wall times and the ratio.

    .venv/bin/python bench/batch_parallel.py [--rounds 3] [--copies 4] [IMAGE ...]
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("images", nargs="*", type=Path)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--copies", type=int, default=2, help="each image this many times")
    args = parser.parse_args()
    images = args.images or sorted(
        p
        for p in (ROOT / "test_images").iterdir()
        if p.suffix in (".jpg", ".png", ".gif") and p.name != "not_an_image.jpg"
    )
    files = [(p.read_bytes(), p.name) for p in images] * args.copies

    os.environ["DATA_DIR"] = tempfile.mkdtemp(prefix="bench-batch-")
    os.environ["MAX_BATCH_ITEMS"] = str(len(files))
    import functions_framework

    from ocr_core import engines, runtime

    app = functions_framework.create_app(
        target="extract_text", source=str(ROOT / "functions" / "upload" / "main.py")
    )
    client = app.test_client()
    cores = os.cpu_count() or 1

    def run(threads: int) -> float:
        os.environ["ENGINE_THREADS"] = str(threads)
        runtime.reload()
        engines._built.clear()  # a fresh engine whose pool has this many instances
        data = {"images": [(io.BytesIO(b), n) for b, n in files]}
        client.post("/batch-extract", data=data, content_type="multipart/form-data")  # warm
        data = {"images": [(io.BytesIO(b), n) for b, n in files]}
        started, cpu_started = time.perf_counter(), time.process_time()
        body = client.post("/batch-extract", data=data, content_type="multipart/form-data")
        elapsed = time.perf_counter() - started
        # CPU seconds per wall second: above 1 only if the items really ran at once
        # (Tesseract releases the GIL while it recognises); a loaded machine lowers the
        # wall-clock gain but not this.
        busy[threads].append((time.process_time() - cpu_started) / elapsed)
        result = body.get_json()
        assert result["succeeded"] == len(files), result
        assert result["parallelism"] == min(threads, len(files))
        return elapsed

    busy: dict[int, list[float]] = {1: [], cores: []}
    serial, parallel = [], []
    for _ in range(args.rounds):
        serial.append(run(1))
        parallel.append(run(cores))
    s, p = statistics.median(serial), statistics.median(parallel)
    print(f"{len(files)} images per batch, {cores} cores, median of {args.rounds} rounds")
    print(f"  one engine instance (serial): {s:.2f} s")
    print(f"  {cores} engine instances:       {p:.2f} s")
    print(f"  speed-up: {s / p:.2f}x")
    for threads, values in busy.items():
        print(f"  CPU use with {threads} instance(s): {statistics.median(values):.2f} cores")
    print(f"  load average at the end: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
