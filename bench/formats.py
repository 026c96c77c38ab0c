"""What filing formats cost: rendering time per page against OCR time per page, and memory
while a long document streams out.

Part 1, on the real corpus (../shared/ocr-samples) and a scanned PDF: each image is OCRed
once (the engine's own time, from the result) and then rendered to searchable PDF, hOCR
and ALTO; the table gives each format's time per page and its share of the OCR time
(target: at most 5%).

Part 2, a long document: a real page is OCRed once and its result stands for every page
of an N-page PDF and N-page TIFF made here (shards of 20 pages in a local results folder,
as the pipeline stores them). Each format renders in a fresh process that writes to
/dev/null; the growth of its RSS (sampled every 5 ms) over what it had before rendering,
source read and everything imported, is printed for N = 200 and N = 2,000. Flat memory
means the two are about the same.

    .venv/bin/python -m bench.formats [--samples ../shared/ocr-samples] [--long 200,2000]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT.parent / "shared" / "ocr-samples"
FILE_FORMATS = ("pdf", "hocr", "alto")
SHARD_PAGES = 20


def _render_seconds(fmt: str, result: dict[str, Any], source: bytes, loader: Any = None) -> float:
    from ocr_core.recognition.render import FORMATS, render

    started = time.perf_counter()
    for _ in render(FORMATS[fmt], result, name="x", source=source, load_shard=loader):
        pass
    return time.perf_counter() - started


def corpus_table(samples: Path, limit: int) -> list[dict[str, Any]]:
    from ocr_core import runtime

    extract = runtime.current().recognizer.extract

    rows = []
    images = sorted(p for p in samples.iterdir() if p.suffix in (".png", ".jpg", ".tif"))
    for path in images[:limit]:
        data = path.read_bytes()
        try:
            result = extract(data)
        except Exception as exc:  # noqa: BLE001 - a sample the service refuses is skipped
            print(f"skip {path.name}: {exc}", file=sys.stderr)
            continue
        if result.get("cached"):
            continue
        row = {
            "image": path.name,
            "words": result["word_count"],
            "ocr_ms": result["processing_time_ms"],
        }
        for fmt in FILE_FORMATS:
            row[f"{fmt}_ms"] = round(_render_seconds(fmt, result, data) * 1000, 2)
        rows.append(row)
    return rows


def pdf_table(pages: int) -> dict[str, Any]:
    """A scanned PDF through the document path: OCR per page against rendering per page."""
    from ocr_core import runtime
    from ocr_core.recognition.documents import ocr_pages, open_document
    from tests.documents import image_pdf

    source = image_pdf(pages, filler=12)
    started = time.perf_counter()
    ctx = runtime.current()
    with open_document(source, "pdf", ctx.settings) as document:
        entries = ocr_pages(ctx.jobs.engines, document, 1, pages)
    ocr_s = time.perf_counter() - started
    result, loader = _document_result(entries, source, "pdf")
    row: dict[str, Any] = {
        "document": f"scanned PDF, {pages} pages",
        "ocr_ms_per_page": round(ocr_s * 1000 / pages, 1),
    }
    for fmt in FILE_FORMATS:
        row[f"{fmt}_ms_per_page"] = round(
            _render_seconds(fmt, result, source, loader) * 1000 / pages, 2
        )
    return row


def _document_result(
    entries: list[dict[str, Any]], source: bytes, kind: str
) -> tuple[dict[str, Any], Any]:
    import hashlib

    shards: dict[str, dict[str, Any]] = {}
    for first in range(0, len(entries), SHARD_PAGES):
        name = f"x.shards/output-{first + 1:04d}.json"
        shards[name] = {
            "object": {"generation": "1"},
            "responses": entries[first : first + SHARD_PAGES],
        }
    result = {
        "status": "done",
        "object": {"bucket": "in", "name": "x", "generation": "1"},
        "document": {
            "format": kind,
            "page_count": len(entries),
            "sha256": hashlib.sha256(source).hexdigest(),
        },
        "shards": list(shards),
        "engine": {"name": "bench", "version": "0"},
        "created_at": "2026-01-01T00:00:00Z",
    }
    return result, shards.get


# --- part 2: a long document in a child process per (format, pages) --------------------------


def build_long(folder: Path, pages: int, kind: str) -> None:
    """An N-page document made of the test pages, and its shards on disk, every page's
    blocks the real OCR of one page."""
    from PIL import Image

    from ocr_core import runtime
    from ocr_core.recognition.documents import ocr_pages, open_document
    from tests.documents import image_pdf, page_image

    one = image_pdf(1, filler=12)
    ctx = runtime.current()
    with open_document(one, "pdf", ctx.settings) as document:
        [entry] = ocr_pages(ctx.jobs.engines, document, 1, 1)
    if kind == "pdf":
        import pikepdf

        # One image page, repeated N times by reference: a real N-page PDF without
        # N images in memory here.
        with pikepdf.open(io.BytesIO(one)) as pdf:
            for _ in range(pages - 1):
                pdf.pages.append(pdf.pages[0])
            pdf.save(folder / "source")
    else:
        frame = page_image(1, filler=12)
        frames = (frame.copy() for _ in range(pages - 1))
        frame.save(
            folder / "source", "TIFF", save_all=True, append_images=frames, compression="tiff_lzw"
        )
        with Image.open(folder / "source") as tiff:
            entry = {**entry, "width": tiff.width, "height": tiff.height}
    names = []
    for first in range(1, pages + 1, SHARD_PAGES):
        last = min(first + SHARD_PAGES - 1, pages)
        name = f"shard-{first:05d}.json"
        body = {
            "object": {"generation": "1"},
            "responses": [{**entry, "page_number": n} for n in range(first, last + 1)],
        }
        (folder / name).write_text(json.dumps(body))
        names.append(name)
    result = {
        "status": "done",
        "object": {"bucket": "in", "name": "long", "generation": "1"},
        "document": {"format": kind, "page_count": pages},
        "shards": names,
        "engine": {"name": "bench", "version": "0"},
    }
    (folder / "result.json").write_text(json.dumps(result))


def child(fmt: str, folder: Path) -> None:
    """Render the document in ``folder`` to /dev/null; print seconds and peak RSS above
    the baseline of this process with everything imported and the source read."""
    import pikepdf  # noqa: F401

    from ocr_core.recognition.render import FORMATS, render

    source = (folder / "source").read_bytes()
    result = json.loads((folder / "result.json").read_text())

    def load(name: str) -> dict[str, Any]:
        return json.loads((folder / name).read_text())

    base = _rss_mib()
    peak = [base]
    done = threading.Event()

    def sample() -> None:  # the RSS now, every 5 ms: ru_maxrss keeps the import peak
        while not done.wait(0.005):
            peak[0] = max(peak[0], _rss_mib())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    size = 0
    with open(os.devnull, "wb") as sink:
        for chunk in render(FORMATS[fmt], result, name="long", source=source, load_shard=load):
            size += len(chunk)
            sink.write(chunk)
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    figures = {
        "seconds": round(seconds, 2),
        "ms_per_page": round(1000 * seconds / result["document"]["page_count"], 2),
        "rss_before_mib": round(base, 1),
        "rss_growth_mib": round(max(peak[0], _rss_mib()) - base, 1),
        "source_mib": round(len(source) / 2**20, 1),
        "output_mib": round(size / 2**20, 1),
    }
    print(json.dumps(figures))


def _rss_mib() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize() / 2**20


def long_table(counts: list[int]) -> list[dict[str, Any]]:
    rows = []
    for kind in ("pdf", "tiff"):
        for pages in counts:
            with tempfile.TemporaryDirectory() as tmp:
                folder = Path(tmp)
                build_long(folder, pages, kind)
                for fmt in FILE_FORMATS:
                    out = subprocess.run(
                        [sys.executable, "-m", "bench.formats", "--child", fmt, str(folder)],
                        cwd=ROOT,
                        capture_output=True,
                        text=True,
                        check=True,
                        timeout=3600,
                    )
                    figures = json.loads(out.stdout.strip().splitlines()[-1])
                    rows.append({"source": kind, "pages": pages, "format": fmt, **figures})
                    print(json.dumps(rows[-1]), flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=Path, default=SAMPLES)
    parser.add_argument("--limit", type=int, default=20, help="corpus images to time")
    parser.add_argument("--pdf-pages", type=int, default=10)
    parser.add_argument("--long", default="200,2000", help="page counts for the memory run")
    parser.add_argument("--child", nargs=2, metavar=("FORMAT", "FOLDER"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], Path(args.child[1]))
        return
    os.environ.setdefault("DATA_DIR", tempfile.mkdtemp(prefix="bench-formats-"))
    os.environ["CACHE_MAX_ENTRIES"] = "0"
    if args.samples.is_dir() and args.limit:
        rows = corpus_table(args.samples, args.limit)
        ocr = sum(r["ocr_ms"] for r in rows)
        print(
            f"\n{'image':32} {'words':>6} {'OCR ms':>9} "
            + " ".join(f"{f + ' ms':>9}" for f in FILE_FORMATS)
        )
        for r in rows:
            print(
                f"{r['image']:32} {r['words']:>6} {r['ocr_ms']:>9.1f} "
                + " ".join(f"{r[f + '_ms']:>9.2f}" for f in FILE_FORMATS)
            )
        for fmt in FILE_FORMATS:
            total = sum(r[f"{fmt}_ms"] for r in rows)
            worst = max(r[f"{fmt}_ms"] / r["ocr_ms"] for r in rows)
            print(
                f"{fmt}: {total / len(rows):.2f} ms/page on average, {100 * total / ocr:.2f}% "
                f"of the OCR time in all (worst image {100 * worst:.2f}%)"
            )
    if args.pdf_pages:
        print(json.dumps(pdf_table(args.pdf_pages)))
    if args.long:
        long_table([int(n) for n in args.long.split(",") if n])


if __name__ == "__main__":
    main()
