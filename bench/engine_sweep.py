"""Raw readings of each engine configuration on the corpus, cached, for choosing the default.

    .venv/bin/python -m bench.engine_sweep [--samples DIR] [--out /tmp/sweep] [--only a,b]

Per image it stores (one JSON file per image and configuration, so a run can be resumed):

- ``osd``: Tesseract's orientation guess on the cleaned page and its time;
- ``baseline``: plain Tesseract (``pytesseract.image_to_string``), as bench/accuracy.py;
- ``tesseract``: Tesseract on the cleaned, upright page, upscaled where the text is small
  (the recogniser path of the default engine before issue 13), words with boxes;
- ``rapid-<det>``: RapidOCR 3.10 on the upright colour image, detector side ``<det>``
  (``min736`` is the library's default: shortest side scaled up to 736 px), words with
  boxes and the seconds it took on one thread.

``bench/combine.py`` turns these into texts for each candidate rule and scores them; the
default engine (``ocr_core/engines/auto.py``) is the rule chosen there.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.accuracy import DEFAULT_SAMPLES, load_samples  # noqa: E402

CONFIGS = ("osd", "baseline", "tesseract", "rapid-960", "rapid-1280", "rapid-min736")


def _words(output: Any) -> list[dict[str, Any]]:
    return [
        {
            "text": w.text,
            "confidence": w.confidence,
            "box": [w.box.x, w.box.y, w.box.width, w.box.height],
            "block": bi,
            "line": li,
        }
        for bi, b in enumerate(output.pages[0].blocks)
        for li, ln in enumerate(b.lines)
        for w in ln.words
    ]


class Readers:
    def __init__(self) -> None:
        from ocr_core.engines.tesseract import TesseractEngine

        self.tesseract = TesseractEngine()
        self._rapid: dict[str, Any] = {}

    def rapid(self, config: str) -> Any:
        from ocr_core.engines.rapid import RapidOcrEngine, RapidSettings

        if config not in self._rapid:
            side = config.split("-", 1)[1]
            if side == "min736":
                engine = RapidOcrEngine(RapidSettings(detection_max_side=736))
                engine._ocr.text_det.limit_type = "min"
            else:
                engine = RapidOcrEngine(RapidSettings(detection_max_side=int(side)))
            self._rapid[config] = engine
        return self._rapid[config]


def read(
    readers: Readers, config: str, image: Image.Image, rotation: int, data: bytes
) -> dict[str, Any]:
    from ocr_core.engines import preprocess

    started = time.perf_counter()
    if config == "baseline":  # plain Tesseract, as bench/accuracy.py's baseline
        from bench.accuracy import Baseline

        reading = Baseline().read(data)
        return {"seconds": reading.seconds, "text": reading.text}
    if config == "osd":
        page, inverted = preprocess.clean(image)
        found = readers.tesseract.detect_orientation(page)
        seconds = time.perf_counter() - started
        return {"osd": found, "inverted": inverted, "seconds": seconds}
    upright = preprocess.rotate(image, rotation)
    if config == "tesseract":
        page, _ = preprocess.clean(upright)
        best, _ = readers.tesseract.read(page)
        factor = preprocess.upscale_factor(
            preprocess.median_word_height(best), page.width, page.height
        )
        scale = 1.0
        if factor > 1.0:
            larger, _ = readers.tesseract.read(preprocess.upscale(page, factor))
            if larger.confidence > best.confidence:
                best, scale = larger, factor
        return {
            "seconds": time.perf_counter() - started,
            "confidence": best.confidence,
            "text": best.text,
            "scale": scale,
            "words": _words(best),
        }
    engine = readers.rapid(config)
    words = engine.read_words(upright)
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "size": [upright.width, upright.height],
        "words": [
            {
                "text": w.text,
                "confidence": w.confidence,
                "box": [w.box.x, w.box.y, w.box.width, w.box.height],
            }
            for w in words
        ],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=Path, default=DEFAULT_SAMPLES)
    parser.add_argument("--out", type=Path, default=Path("/tmp/ocr-sweep"))
    parser.add_argument("--only", default=",".join(CONFIGS))
    args = parser.parse_args(argv)
    from ocr_core.recognition.intake import load_image

    readers = Readers()
    configs = args.only.split(",")
    for sample in load_samples(args.samples):
        stem = sample.path.name.rsplit(".", 1)[0]
        data = sample.path.read_bytes()
        image = load_image(data, max_bytes=1 << 30, max_pixels=10**9).image
        osd_file = args.out / "osd" / f"{stem}.json"
        rotation = 0
        if osd_file.is_file():
            found = json.loads(osd_file.read_text())["osd"]
            if found and found[1] >= 7.0:
                rotation = found[0]
        for config in configs:
            target = args.out / config / f"{stem}.json"
            if target.is_file():
                continue
            if config != "osd" and not osd_file.is_file():
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            result = read(readers, config, image, rotation, data)
            result["rotation"] = rotation
            target.write_text(json.dumps(result))
            if config == "osd" and result["osd"] and result["osd"][1] >= 7.0:
                rotation = result["osd"][0]
            print(f"{stem} {config} {result['seconds']:.2f}s", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
