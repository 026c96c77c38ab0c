"""Score candidate rules for the default engine on cached raw readings (bench/engine_sweep.py).

    .venv/bin/python -m bench.combine [--cache /tmp/ocr-sweep] [--samples DIR]

Each rule turns an image's cached readings into one text; cer.py scores every rule per
category and per half (``bench/halves.py``: thresholds are chosen on half A only), and the
estimated time per image is the sum of the readings the rule needs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.accuracy import DEFAULT_SAMPLES, load_samples, score  # noqa: E402
from bench.halves import split  # noqa: E402
from ocr_core.engines.base import Box, Word  # noqa: E402
from ocr_core.engines.layout import build_blocks  # noqa: E402

CER_TOOL = ROOT.parent / "shared" / "tools" / "cer.py"
Cached = dict[str, dict[str, Any]]


def rapid_words(reading: dict[str, Any]) -> list[Word]:
    return [Word(w["text"], w["confidence"], Box(*w["box"])) for w in reading["words"]]


def rapid_text(reading: dict[str, Any]) -> str:
    return "\n\n".join(b.text for b in build_blocks(rapid_words(reading)))


def rapid_confidence(reading: dict[str, Any]) -> float:
    words = reading["words"]
    total = sum(len(w["text"]) for w in words)
    return sum(len(w["text"]) * w["confidence"] for w in words) / total if total else 0.0


def rule_tesseract(c: Cached) -> tuple[str, float]:
    return c["tesseract"]["text"], c["osd"]["seconds"] + c["tesseract"]["seconds"]


def rule_rapid(config: str) -> Callable[[Cached], tuple[str, float]]:
    def rule(c: Cached) -> tuple[str, float]:
        return rapid_text(c[config]), c["osd"]["seconds"] + c[config]["seconds"]

    return rule


def rule_pick(config: str, margin: float) -> Callable[[Cached], tuple[str, float]]:
    """Both read; Tesseract's text where its confidence beats RapidOCR's by ``margin``."""

    def rule(c: Cached) -> tuple[str, float]:
        seconds = c["osd"]["seconds"] + c["tesseract"]["seconds"] + c[config]["seconds"]
        rapid = c[config]
        if not rapid["words"] or c["tesseract"]["confidence"] > rapid_confidence(rapid) + margin:
            return c["tesseract"]["text"], seconds
        return rapid_text(rapid), seconds

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
    name: str, rule: Callable[[Cached], tuple[str, float]], cache: Path, samples_dir: Path
) -> dict[str, Any]:
    samples = load_samples(samples_dir)
    halves = split(samples_dir / "MANIFEST.tsv")
    configs = ["osd", "tesseract", "rapid-1280", "rapid-960", "rapid-min736"]
    rows = []
    with tempfile.TemporaryDirectory() as preds:
        for sample in samples:
            stem = sample.path.name.rsplit(".", 1)[0]
            cached = {k: v for k in configs if (v := _one(cache, k, stem)) is not None}
            try:
                text, seconds = rule(cached)
            except KeyError:
                continue
            Path(preds, f"{stem}.txt").write_text(text, encoding="utf-8")
            rows.append((sample, score(sample, text), seconds, halves[sample.file]))
        tsv = Path(preds, "scores.tsv")
        subprocess.run(
            [
                sys.executable,
                str(CER_TOOL),
                preds,
                str(samples_dir),
                "--bow",
                "--skip-missing",
                "--tsv",
                str(tsv),
            ],
            check=True,
            capture_output=True,
        )
        table = tsv.read_text(encoding="utf-8")
    return {"name": name, "rows": rows, "tsv": table}


def _one(cache: Path, config: str, stem: str) -> dict[str, Any] | None:
    path = cache / config / f"{stem}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def totals(rows: list[Any]) -> tuple[float, float]:
    edits = sum(r[1].char_edits for r in rows)
    chars = sum(r[1].chars for r in rows)
    seconds = [r[2] for r in rows]
    return edits / max(1, chars), statistics.median(seconds) if seconds else 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cache", type=Path, default=Path("/tmp/ocr-sweep"))
    parser.add_argument("--samples", type=Path, default=DEFAULT_SAMPLES)
    args = parser.parse_args(argv)
    rules: dict[str, Callable[[Cached], tuple[str, float]]] = {
        "tesseract": rule_tesseract,
        "rapid-1280": rule_rapid("rapid-1280"),
        "pick-1280-0.0": rule_pick("rapid-1280", 0.0),
    }
    for name, rule in rules.items():
        result = evaluate(name, rule, args.cache, args.samples)
        rows = result["rows"]
        cer_all, t = totals(rows)
        by_cat: dict[str, list[Any]] = {}
        for r in rows:
            by_cat.setdefault(r[0].category, []).append(r)
        cats = " ".join(f"{k}={totals(v)[0]:.3f}" for k, v in sorted(by_cat.items()))
        halves = " ".join(
            f"{h}={totals([r for r in rows if r[3] == h])[0]:.3f}" for h in ("A", "B")
        )
        print(f"{name}: n={len(rows)} CER={cer_all:.3f} median_s={t:.2f} {halves} | {cats}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
