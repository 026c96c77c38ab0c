"""The default engine: RapidOCR reads, Tesseract turns the page and finds its columns.

Per image (each step chosen on half A of ../shared/ocr-samples and checked on half B,
``bench/halves.py``; figures in docs/engine-and-accuracy.md):

1. Orientation: the page is cleaned (grey, light-on-dark inverted, contrast stretched)
   and Tesseract's OSD proposes 90/180/270, applied above a confidence gate (OSD guesses
   on pages with little text: it calls a faint receipt upside down at confidence 5).
2. RapidOCR 3.10 (PP-OCRv6) reads the upright colour image: it finds text lines
   Tesseract's layout throws away (photos, faint receipts, tables, text on patterned or
   dark backgrounds) and reads them with fewer errors on every category of the corpus.
   An image that is one cropped word, where its detector finds nothing, goes to its
   recogniser alone.
3. Reading order: an XY-cut of RapidOCR's word boxes (``layout.build_blocks``); where
   Tesseract's page layout shows columns of running text side by side, its regions give
   the order of the columns (``layout.build_blocks_in_regions``).

Languages RapidOCR does not read (Cyrillic, say), or a process where it cannot load,
are read by Tesseract on the cleaned, upright page, upscaled where the text is small.
Boxes always refer to the image the engine was given (after EXIF rotation).
"""

from __future__ import annotations

import threading

from PIL import Image

from .. import errors
from ..logs import get_logger
from . import preprocess
from .base import OcrOutput
from .languages import RAPIDOCR_LANGUAGES
from .layout import build_blocks_in_regions
from .rapid import IMAGE_MAX_SIDE
from .tesseract import TesseractEngine

log = get_logger("engine.auto")

#: OSD confidence needed to turn a page (Tesseract's own default margin is 7).
ORIENTATION_MIN_CONFIDENCE = 7.0
#: Images at most this high may be one cropped word or line for RapidOCR's recogniser.
LINE_CROP_MAX_HEIGHT = 96
#: Orientation is found on the page shrunk to this longest side (on a 35 MP scan OSD took
#: seconds at full size). RapidOCR reads images shrunk to the same side.
ORIENTATION_MAX_SIDE = IMAGE_MAX_SIDE
#: Tesseract's layout is found on the page shrunk to this longest side: it needs only the
#: shape of the text and costs less the smaller the page. Chosen on half A's multi-column
#: pages (CER scribe_multicol_02 / _04: 0.319 / 0.054 at 1200 px, 0.141 / 0.085 at 1600,
#: 0.319 / 0.087 at 2000, where a table of half A was also cut into columns).
LAYOUT_MAX_SIDE = 1600
#: Tesseract's layout is asked only for pages with at least this many words, since only
#: those can hold two columns of running text (it costs a fifth of a page's time).
LAYOUT_MIN_WORDS = 150


def build_auto(default_lang: str, pool_size: int) -> AutoEngine:
    """The default engine for ``OCR_LANG``: a language only RapidOCR reads (``fra``, where
    PyPI has no traineddata) leaves Tesseract on English for orientation and layout."""
    from .tesseract import installed_languages

    tesseract_lang = default_lang
    if any(code not in installed_languages() for code in default_lang.split("+")):
        if not all(code in RAPIDOCR_LANGUAGES for code in default_lang.split("+")):
            raise ValueError(f"OCR_LANG {default_lang!r}: no engine here reads it")
        tesseract_lang = "eng"
    tesseract = TesseractEngine(default_lang=tesseract_lang, pool_size=pool_size)
    return AutoEngine(tesseract, default_lang=default_lang)


class AutoEngine:
    name = "auto"

    def __init__(
        self,
        tesseract: TesseractEngine,
        *,
        use_rapidocr: bool = True,
        default_lang: str | None = None,
    ) -> None:
        self._tesseract = tesseract
        self._default_lang = default_lang or tesseract.default_lang
        self.version = f"tesseract {tesseract.version}"
        self._use_rapidocr = use_rapidocr
        self._rapid: object | None = None
        self._rapid_failed = False
        self._rapid_lock = threading.Lock()
        if use_rapidocr and self._rapidocr() is not None:
            rapid_version = getattr(self._rapid, "version", "?")
            self.version = f"rapidocr {rapid_version} + tesseract {tesseract.version}"

    def supported_languages(self) -> list[str]:
        languages = set(self._tesseract.supported_languages())
        if self._use_rapidocr and self._rapidocr() is not None:
            languages.update(RAPIDOCR_LANGUAGES)
        return sorted(languages)

    def _rapidocr(self) -> object | None:
        """RapidOCR, built once per process; None where it cannot load (logged once)."""
        if self._rapid is None and not self._rapid_failed:
            with self._rapid_lock:
                if self._rapid is None and not self._rapid_failed:
                    try:
                        from .rapid import RapidOcrEngine

                        self._rapid = RapidOcrEngine()
                    except Exception:  # a broken install: go on with Tesseract alone
                        self._rapid_failed = True
                        log.exception("RapidOCR unavailable; Tesseract alone reads every image")
        return self._rapid

    def check_lang(self, lang: str | None) -> str:
        """The language string to use; InvalidRequest for one no engine here reads."""
        lang = lang or self._default_lang
        available = self.supported_languages()
        if any(code not in available for code in lang.split("+")):
            raise errors.InvalidRequest(
                f"Language {lang!r} is not installed; available: {', '.join(available)}",
                available=available,
            )
        return lang

    def recognize(self, image: Image.Image, lang: str | None = None) -> OcrOutput:
        lang = self.check_lang(lang)
        rapid = self._rapidocr() if self._rapid_reads(lang) else None
        if rapid is None:
            page, _ = preprocess.clean(image)
            rotation = self._orientation(preprocess.shrink(page, ORIENTATION_MAX_SIDE)[0])
            return self._tesseract_reading(image, page, rotation, lang)
        # RapidOCR reads at most IMAGE_MAX_SIDE: so do the analyses, on a copy that size.
        shrunk, factor = preprocess.shrink(image, IMAGE_MAX_SIDE)
        page, _ = preprocess.clean(shrunk)
        rotation = self._orientation(page)
        upright = preprocess.rotate(shrunk, rotation)
        words = rapid.read_words(upright)  # type: ignore[attr-defined]
        if not words and upright.height <= LINE_CROP_MAX_HEIGHT:
            output = rapid.recognize_line(upright, lang)  # type: ignore[attr-defined]
        else:
            regions = []
            if len(words) >= LAYOUT_MIN_WORDS:
                small, shrink = preprocess.shrink(
                    preprocess.rotate(page, rotation), LAYOUT_MAX_SIDE
                )
                regions = [
                    preprocess.scale_box(r.box, 1 / shrink) for r in self._tesseract.layout(small)
                ]
            output = rapid.output(  # type: ignore[attr-defined]
                upright, words, lang, blocks=build_blocks_in_regions(words, regions)
            )
        geometry = preprocess.Geometry(image.width, image.height, rotation, factor)
        return geometry.map_output(output)

    def _tesseract_reading(
        self, image: Image.Image, page: Image.Image, rotation: int, lang: str
    ) -> OcrOutput:
        """Tesseract on the cleaned, upright page; small text read again, enlarged, and
        the more confident reading kept."""
        page = preprocess.rotate(page, rotation)
        geometry = preprocess.Geometry(image.width, image.height, rotation)
        best, _ = self._tesseract.read(page, lang)
        factor = preprocess.upscale_factor(
            preprocess.median_word_height(best), page.width, page.height
        )
        if factor > 1.0:
            larger, _ = self._tesseract.read(preprocess.upscale(page, factor), lang)
            if larger.confidence > best.confidence:
                best = larger
                geometry = preprocess.Geometry(image.width, image.height, rotation, factor)
        return geometry.map_output(best)

    def _orientation(self, page: Image.Image) -> int:
        found = self._tesseract.detect_orientation(page)
        if found is None:
            return 0
        degrees, confidence = found
        return degrees if confidence >= ORIENTATION_MIN_CONFIDENCE else 0

    def _rapid_reads(self, lang: str) -> bool:
        return self._use_rapidocr and all(code in RAPIDOCR_LANGUAGES for code in lang.split("+"))
