"""The default engine: Tesseract on a cleaned-up page, RapidOCR where Tesseract is unsure.

Per image (each step measured on ../shared/ocr-samples by ``bench/accuracy.py``):

1. Clean: grey, light-on-dark pages inverted, contrast stretched (``preprocess.clean``).
2. Orientation: Tesseract's OSD proposes 90/180/270; applied only above a confidence gate,
   since OSD guesses on pages with little text (it calls a faint receipt upside down at
   confidence 5).
3. Tesseract reads the page. Where its words are small (median height under 20 px) the
   page is read again upscaled to ~32 px text, and the more confident reading is kept.
4. Where Tesseract's confidence is still low (photos, scene text, faint or crumpled
   receipts), or the page is light text on a dark background (slides: Tesseract's global
   threshold loses what stands in the light margins, RapidOCR's detector does not care
   about polarity), and the language is one RapidOCR reads, RapidOCR reads the upright
   original colour image and its result is kept when it is more confident. An image no higher than
   a line of text (a cropped word) goes to its recogniser alone, without detection.
5. Where Tesseract's reading stands, text its page layout threw away is recovered by
   RapidOCR: lines outside every layout region (outline lettering of a logo) and titles
   on hatched bands that the layout took for pictures (``_recover_dropped``).

Boxes always refer to the image the engine was given (after EXIF rotation).
"""

from __future__ import annotations

import threading
from dataclasses import replace

from PIL import Image, ImageFilter

from ..logs import get_logger
from . import preprocess
from .base import Block, Box, Line, OcrOutput, Word, mean_confidence
from .tesseract import Region, TesseractEngine

log = get_logger("engine.auto")

#: OSD confidence needed to turn a page (Tesseract's own default margin is 7).
ORIENTATION_MIN_CONFIDENCE = 7.0
#: Below this Tesseract confidence, RapidOCR gets a turn.
FALLBACK_BELOW = 0.60
#: Images at most this high are one cropped word or line for RapidOCR.
LINE_CROP_MAX_HEIGHT = 96
#: RapidOCR's confidence needed to add a line Tesseract's layout dropped.
RECOVER_MIN_CONFIDENCE = 0.85
#: At most this many dropped lines are read per page (bounds the time).
MAX_RECOVERED_LINES = 8
#: Dark 4 px cells outside Tesseract's regions needed to look for dropped text (a short
#: word of large print; scanner specks and stray rules stay below).
DROPPED_INK_CELLS = 32
#: Margin (px) around the dropped ink given to the detector, so edge letters stay whole.
DETECT_MARGIN_PX = 32
#: Heading images read per page, their greatest height (px) and the blur that melts a
#: hatched or halftone background into a flat tone.
MAX_HEADING_IMAGES = 4
HEADING_MAX_HEIGHT = 160
HEADING_BLUR = 2


class AutoEngine:
    name = "auto"

    def __init__(self, tesseract: TesseractEngine, *, use_rapidocr: bool = True) -> None:
        self._tesseract = tesseract
        self.version = f"tesseract {tesseract.version}"
        self._use_rapidocr = use_rapidocr
        self._rapid: object | None = None
        self._rapid_failed = False
        self._rapid_lock = threading.Lock()
        if use_rapidocr and self._rapidocr() is not None:
            rapid_version = getattr(self._rapid, "version", "?")
            self.version = f"tesseract {tesseract.version} + rapidocr {rapid_version}"

    def supported_languages(self) -> list[str]:
        return self._tesseract.supported_languages()

    def _rapidocr(self) -> object | None:
        """RapidOCR, built once per process; None where it cannot load (logged once)."""
        if self._rapid is None and not self._rapid_failed:
            with self._rapid_lock:
                if self._rapid is None and not self._rapid_failed:
                    try:
                        from .rapid import RapidOcrEngine

                        self._rapid = RapidOcrEngine()
                    except Exception:  # e.g. OpenCV without libGL: go on without RapidOCR
                        self._rapid_failed = True
                        log.exception("RapidOCR unavailable; Tesseract alone reads every image")
        return self._rapid

    def recognize(self, image: Image.Image, lang: str | None = None) -> OcrOutput:
        lang = self._tesseract.check_lang(lang)
        page, inverted = preprocess.clean(image)
        rotation = self._orientation(page)
        page = preprocess.rotate(page, rotation)
        geometry = preprocess.Geometry(image.width, image.height, rotation)
        best, regions = self._tesseract.read(page, lang)

        factor = preprocess.upscale_factor(
            preprocess.median_word_height(best), page.width, page.height
        )
        if factor > 1.0:
            larger, larger_regions = self._tesseract.read(preprocess.upscale(page, factor), lang)
            if larger.confidence > best.confidence:
                best, regions, geometry = (
                    larger,
                    larger_regions,
                    preprocess.Geometry(image.width, image.height, rotation, factor),
                )

        unsure = best.confidence < FALLBACK_BELOW or inverted
        if self._rapid_reads(lang) and (rapid := self._rapidocr()) is not None:
            upright = preprocess.rotate(image, rotation)
            if unsure:
                other = self._second_opinion(rapid, upright, lang)
                if other and other.text.strip() and other.confidence > best.confidence:
                    return preprocess.Geometry(image.width, image.height, rotation).map_output(
                        other
                    )
            elif upright.height > LINE_CROP_MAX_HEIGHT:
                best = self._recover_dropped(rapid, upright, page, best, regions, geometry.scale)
        return geometry.map_output(best)

    def _recover_dropped(
        self,
        rapid: object,
        upright: Image.Image,
        page: Image.Image,
        best: OcrOutput,
        regions: list[Region],
        scale: float,
    ) -> OcrOutput:
        """Add the text lines that Tesseract's layout analysis threw away as noise.

        Outline and decorative lettering (a logo, a masthead) can end up outside every
        region Tesseract's page layout finds, so it is never read. RapidOCR's detector
        finds the text lines on the page; one that lies outside every Tesseract region
        (text or picture: text inside a chart or a patterned banner is left alone) is read
        by RapidOCR's recogniser and, if it is confident, joins the page as its own block.
        The detector (as costly as Tesseract's own reading) only runs where enough ink lies
        outside Tesseract's regions to hold a word. Boxes here are in Tesseract's frame
        (the cleaned ``page`` upscaled by ``scale``).
        """
        recovered: list[Block] = []
        try:
            found: list[Box] = []
            dropped, around = preprocess.ink_outside(
                page, [_scale(r.box, 1 / scale) for r in regions]
            )
            if dropped >= DROPPED_INK_CELLS and around is not None:
                # Only the part of the page that holds the dropped ink: a smaller image
                # for the detector, so a faster one.
                margin = DETECT_MARGIN_PX
                x0, y0 = max(0, around.x - margin), max(0, around.y - margin)
                x1 = min(upright.width, around.x + around.width + margin)
                y1 = min(upright.height, around.y + around.height + margin)
                found = [
                    Box(b.x + x0, b.y + y0, b.width, b.height)
                    for b in rapid.detect(upright.crop((x0, y0, x1, y1)))  # type: ignore[attr-defined]
                ]
            outside = [
                box
                for box in found
                if not any(_overlap(_scale(box, scale), r.box) > 0 for r in regions)
            ]
            for box in outside[:MAX_RECOVERED_LINES]:
                scaled = _scale(box, scale)
                pad = max(2, box.height // 8)
                crop = upright.crop(
                    (
                        max(0, box.x - pad),
                        max(0, box.y - pad),
                        min(upright.width, box.x + box.width + pad),
                        min(upright.height, box.y + box.height + pad),
                    )
                )
                read = rapid.recognize_line(crop)  # type: ignore[attr-defined]
                text = read.text.strip()
                if read.confidence < RECOVER_MIN_CONFIDENCE or sum(c.isalpha() for c in text) < 2:
                    continue
                words = _spread(text, read.confidence, scaled)
                line = Line(
                    text=" ".join(w.text for w in words),
                    confidence=read.confidence,
                    box=scaled,
                    words=words,
                )
                recovered.append(Block(line.text, read.confidence, scaled, [line]))
        except Exception:  # recovery is a bonus: Tesseract's reading still stands
            log.exception("RapidOCR failed recovering dropped text; keeping Tesseract's reading")
            return best
        recovered.extend(self._heading_images(rapid, upright, regions, scale))
        if not recovered:
            return best
        tesseract_page = best.pages[0]
        blocks = list(tesseract_page.blocks)
        for new in recovered:
            blocks.insert(_position(blocks, new.box), new)
        pairs = [(w.text, w.confidence) for b in blocks for ln in b.lines for w in ln.words]
        confidence = mean_confidence(pairs)
        return replace(
            best,
            text="\n\n".join(b.text for b in blocks),
            confidence=confidence,
            pages=[replace(tesseract_page, blocks=blocks, confidence=confidence)],
        )

    def _second_opinion(self, rapid: object, upright: Image.Image, lang: str) -> OcrOutput | None:
        """RapidOCR's reading, or None if it fails: Tesseract's answer still stands."""
        try:
            if upright.height <= LINE_CROP_MAX_HEIGHT:
                return rapid.recognize_line(upright)  # type: ignore[attr-defined,no-any-return]
            return rapid.recognize(upright, lang)  # type: ignore[attr-defined,no-any-return]
        except Exception:  # a fault in the second opinion must not fail the request
            log.exception("RapidOCR failed on an image; keeping Tesseract's reading")
            return None

    def _orientation(self, page: Image.Image) -> int:
        found = self._tesseract.detect_orientation(page)
        if found is None:
            return 0
        degrees, confidence = found
        return degrees if confidence >= ORIENTATION_MIN_CONFIDENCE else 0

    def _rapid_reads(self, lang: str) -> bool:
        from .rapid import LANGUAGES

        return self._use_rapidocr and all(code in LANGUAGES for code in lang.split("+"))

    def _heading_images(
        self, rapid: object, upright: Image.Image, regions: list[Region], scale: float
    ) -> list[Block]:
        """Titles printed on a hatched or halftone band, which Tesseract takes for a picture.

        The band is blurred (the pattern melts into a flat tone, the letters stay) and read
        by RapidOCR; its lines are kept where RapidOCR is confident.
        """
        blocks: list[Block] = []
        for region in [r for r in regions if r.heading_image][:MAX_HEADING_IMAGES]:
            box = _scale(region.box, 1 / scale)
            if box.height > HEADING_MAX_HEIGHT or box.width < 2 * box.height:
                continue  # a picture, not a band
            try:
                crop = upright.crop((box.x, box.y, box.x + box.width, box.y + box.height))
                read = rapid.recognize(  # type: ignore[attr-defined]
                    crop.filter(ImageFilter.GaussianBlur(HEADING_BLUR))
                )
            except Exception:
                log.exception("RapidOCR failed on a heading image; leaving it out")
                continue
            for found in read.pages[0].blocks:
                if found.confidence < RECOVER_MIN_CONFIDENCE:
                    continue

                def place(b: Box, dx: int = box.x, dy: int = box.y) -> Box:
                    return _scale(Box(b.x + dx, b.y + dy, b.width, b.height), scale)

                lines = [
                    Line(
                        ln.text,
                        ln.confidence,
                        place(ln.box),
                        [Word(w.text, w.confidence, place(w.box)) for w in ln.words],
                    )
                    for ln in found.lines
                ]
                blocks.append(Block(found.text, found.confidence, place(found.box), lines))
        return blocks


def _scale(box: Box, factor: float) -> Box:
    if factor == 1.0:
        return box
    return Box.from_corners(
        box.x * factor, box.y * factor, (box.x + box.width) * factor, (box.y + box.height) * factor
    )


def _overlap(a: Box, b: Box) -> int:
    """Area shared by two boxes."""
    width = min(a.x + a.width, b.x + b.width) - max(a.x, b.x)
    height = min(a.y + a.height, b.y + b.height) - max(a.y, b.y)
    return max(0, width) * max(0, height)


def _spread(text: str, confidence: float, box: Box) -> list[Word]:
    """The words of a line read whole, each given its share of the box by characters."""
    parts = text.split()
    per_char = box.width / max(1, len(text))
    words, cursor = [], 0
    for part in parts:
        start = text.index(part, cursor)
        cursor = start + len(part)
        words.append(
            Word(
                part,
                round(confidence, 4),
                Box.from_corners(
                    box.x + start * per_char, box.y, box.x + cursor * per_char, box.y + box.height
                ),
            )
        )
    return words


def _position(blocks: list[Block], box: Box) -> int:
    """Where a recovered line goes in the reading order of ``blocks``.

    Before the first block that lies beside it to its right on the same band of the page,
    or below it within its width: a masthead left of a page header goes first, a title
    band above the columns goes before them; else at the end.
    """
    for index, block in enumerate(blocks):
        other = block.box
        same_band = min(box.y + box.height, other.y + other.height) > max(box.y, other.y)
        if same_band and other.x >= box.x + box.width / 2:
            return index
        spans = min(box.x + box.width, other.x + other.width) > max(box.x, other.x)
        if spans and other.y >= box.y + box.height / 2:
            return index
    return len(blocks)
