"""The accuracy/time trade-off per engine configuration, from cached raw readings.

    .venv/bin/python -m bench.engine_sweep --out /tmp/ocr-sweep   # the readings (slow)
    .venv/bin/python -m bench.combine --cache /tmp/ocr-sweep       # this table (fast)

Each configuration turns an image's cached readings into one text; cer.py scores it
(``--bow``), overall and per half (``bench/halves.py``: choices are made on half A), and
the time per image is the sum of the readings the configuration needs, each measured alone
on one thread. RapidOCR's words are put in order by the XY-cut alone here, on the page
turned by Tesseract's OSD: the same for every detector side, so the rows compare
recognisers and detector sides (``rule_rapid(..., layout=True)`` approximates the engine's
column order with the regions of Tesseract's full reading, which differ from those of its
layout analysis on a smaller page; bench/accuracy.py measures the engine itself).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.accuracy import DEFAULT_SAMPLES, cer_scores, load_samples, sums  # noqa: E402
from bench.engine_sweep import CONFIGS  # noqa: E402
from bench.halves import split  # noqa: E402
from ocr_core.engines.base import Box, Word  # noqa: E402
from ocr_core.engines.layout import build_blocks, build_blocks_in_regions  # noqa: E402

CER_TOOL = ROOT.parent / "shared" / "tools" / "cer.py"
Cached = dict[str, dict[str, Any]]


def rapid_words(reading: dict[str, Any]) -> list[Word]:
    return [Word(w["text"], w["confidence"], Box(*w["box"])) for w in reading["words"]]


def rapid_text(reading: dict[str, Any], layout: dict[str, Any] | None = None) -> str:
    words = rapid_words(reading)
    if layout is None:
        return "\n\n".join(b.text for b in build_blocks(words))
    return "\n\n".join(b.text for b in build_blocks_in_regions(words, tesseract_regions(layout)))


def tesseract_regions(reading: dict[str, Any]) -> list[Box]:
    """The blocks of a cached Tesseract reading, in its order, on the original's scale."""
    found: dict[int, list[float]] = {}
    scale = reading["scale"]
    for w in reading["words"]:
        x, y, width, height = w["box"]
        b = found.setdefault(w["block"], [1e9, 1e9, -1.0, -1.0])
        b[0], b[1] = min(b[0], x / scale), min(b[1], y / scale)
        b[2], b[3] = max(b[2], (x + width) / scale), max(b[3], (y + height) / scale)
    return [Box.from_corners(*found[k]) for k in sorted(found)]


def rapid_confidence(reading: dict[str, Any]) -> float:
    words = reading["words"]
    total = sum(len(w["text"]) for w in words)
    return sum(len(w["text"]) * w["confidence"] for w in words) / total if total else 0.0


def rule_text(config: str) -> Callable[[Cached], tuple[str, float]]:
    """A cached text as it is (plain Tesseract, Tesseract on the cleaned page)."""

    def rule(c: Cached) -> tuple[str, float]:
        extra = c["osd"]["seconds"] if config == "tesseract" else 0.0
        return c[config]["text"], c[config]["seconds"] + extra

    return rule


def rule_rapid(config: str, *, layout: bool) -> Callable[[Cached], tuple[str, float]]:
    """RapidOCR on the upright page; its column order from Tesseract's layout or not."""

    def rule(c: Cached) -> tuple[str, float]:
        text = rapid_text(c[config], c["tesseract"] if layout else None)
        return text, c["osd"]["seconds"] + c[config]["seconds"]

    return rule


def load(cache: Path, stem: str, configs: list[str]) -> Cached | None:
    out: Cached = {}
    for config in configs:
        path = cache / config / f"{stem}.json"
        if not path.is_file():
            return None
        out[config] = json.loads(path.read_text())
    return out


def evaluate(
    rule: Callable[[Cached], tuple[str, float]], cache: Path, samples_dir: Path
) -> dict[str, Any]:
    """cer.py's sums (overall, half A, half B) and the median and p90 time per image."""
    samples = load_samples(samples_dir)
    halves = split(samples_dir / "MANIFEST.tsv")
    seconds: list[float] = []
    with tempfile.TemporaryDirectory() as preds:
        for sample in samples:
            stem = sample.path.name.rsplit(".", 1)[0]
            cached = {
                config: json.loads(path.read_text())
                for config in CONFIGS
                if (path := cache / config / f"{stem}.json").is_file()
            }
            text, spent = rule(cached)
            Path(preds, f"{stem}.txt").write_text(text, encoding="utf-8")
            seconds.append(spent)
        scores = cer_scores(Path(preds), samples_dir)
    by_half = {h: sums([scores[s] for s in scores if halves[_file(samples, s)] == h]) for h in "AB"}
    seconds.sort()
    return {
        "all": sums(list(scores.values())),
        **by_half,
        "median": statistics.median(seconds),
        "p90": seconds[min(len(seconds) - 1, round(0.9 * len(seconds)))],
    }


def _file(samples: list[Any], stem: str) -> str:
    return next(s.file for s in samples if s.path.name.rsplit(".", 1)[0] == stem)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cache", type=Path, default=Path("/tmp/ocr-sweep"))
    parser.add_argument("--samples", type=Path, default=DEFAULT_SAMPLES)
    args = parser.parse_args(argv)
    rules: dict[str, Callable[[Cached], tuple[str, float]]] = {
        "plain Tesseract (baseline)": rule_text("baseline"),
        "Tesseract, cleaned and upright": rule_text("tesseract"),
        "RapidOCR, detector at 960 px": rule_rapid("rapid-960", layout=False),
        "RapidOCR, detector at 1280 px": rule_rapid("rapid-1280", layout=False),
        "RapidOCR, library default (shortest side up to 736 px)": rule_rapid(
            "rapid-min736", layout=False
        ),
    }
    base = evaluate(rules["plain Tesseract (baseline)"], args.cache, args.samples)["all"]
    print(
        "| configuration | CER | ratio to plain Tesseract | BoW WER | CER half A | CER half B "
        "| median s | p90 s |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, rule in rules.items():
        r = evaluate(rule, args.cache, args.samples)
        print(
            f"| {name} | {r['all'].cer:.3f} | {r['all'].cer / base.cer:.2f}x "
            f"| {r['all'].bow_wer:.3f} | {r['A'].cer:.3f} | {r['B'].cer:.3f} "
            f"| {r['median']:.2f} | {r['p90']:.2f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
