"""Image clean-up before recognition, and the geometry to map boxes back afterwards.

Grey + auto-contrast (faint receipts) and inversion of light-on-dark pages (slides) give
Tesseract's orientation detection and layout analysis a dark-on-light page; rotation by
90/180/270 degrees rights the page; upscaling brings small text to an x-height Tesseract's
LSTM model was trained on (the Tesseract reading); shrinking bounds the time of the
analyses on large scans.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from PIL import Image, ImageOps, ImageStat

from ocr_core.engines.base import Block, Box, Line, OcrOutput, Page, Word

#: A page whose median grey level is below this is light text on a dark background.
DARK_MEDIAN = 100
#: Text whose median word height (px) is below this is read again, upscaled.
SMALL_TEXT_PX = 20
#: Upscaled text aims at this word height (px): Tesseract reads 20-40 px text best.
TARGET_TEXT_PX = 32
MAX_UPSCALE = 4.0
#: Upscaling never makes an image larger than this many pixels (time and memory bound).
MAX_UPSCALED_PIXELS = 12_000_000


def to_grey(image: Image.Image) -> Image.Image:
    return image if image.mode == "L" else image.convert("L")


def is_dark(grey: Image.Image) -> bool:
    """Light text on a dark background: most pixels are dark."""
    return ImageStat.Stat(grey).median[0] < DARK_MEDIAN


def clean(image: Image.Image) -> tuple[Image.Image, bool]:
    """Grey, dark-on-light, contrast stretched. Returns (image, whether it was inverted)."""
    grey = to_grey(image)
    inverted = is_dark(grey)
    if inverted:
        grey = ImageOps.invert(grey)
    # Clip 1% at each end: faint thermal print and grey photo backgrounds gain contrast,
    # clean black-on-white pages are unchanged.
    return ImageOps.autocontrast(grey, cutoff=1), inverted


def rotate(image: Image.Image, degrees: int) -> Image.Image:
    """Turn the page clockwise by ``degrees`` (a multiple of 90) so that text is upright."""
    if degrees % 360 == 0:
        return image
    transpose = {
        90: Image.Transpose.ROTATE_270,  # PIL's ROTATE_n turns counter-clockwise
        180: Image.Transpose.ROTATE_180,
        270: Image.Transpose.ROTATE_90,
    }[degrees % 360]
    return image.transpose(transpose)


def upscale_factor(word_height: float, width: int, height: int) -> float:
    """How much to enlarge small text (1.0: leave it)."""
    if word_height <= 0 or word_height >= SMALL_TEXT_PX:
        return 1.0
    factor = min(MAX_UPSCALE, TARGET_TEXT_PX / word_height)
    factor = min(factor, (MAX_UPSCALED_PIXELS / max(1, width * height)) ** 0.5)
    return factor if factor >= 1.25 else 1.0


def shrink(image: Image.Image, max_side: int) -> tuple[Image.Image, float]:
    """The image with its longest side at most ``max_side``, and the factor applied."""
    longest = max(image.width, image.height)
    if longest <= max_side:
        return image, 1.0
    factor = max_side / longest
    size = (max(1, round(image.width * factor)), max(1, round(image.height * factor)))
    return image.resize(size, Image.Resampling.BOX), factor


def scale_box(box: Box, factor: float) -> Box:
    """``box`` with every coordinate multiplied by ``factor``."""
    if factor == 1.0:
        return box
    return Box.from_corners(
        box.x * factor, box.y * factor, (box.x + box.width) * factor, (box.y + box.height) * factor
    )


def upscale(image: Image.Image, factor: float) -> Image.Image:
    size = (round(image.width * factor), round(image.height * factor))
    return image.resize(size, Image.Resampling.LANCZOS)


def median_word_height(output: OcrOutput) -> float:
    heights = sorted(
        w.box.height for p in output.pages for b in p.blocks for ln in b.lines for w in ln.words
    )
    return float(heights[len(heights) // 2]) if heights else 0.0


@dataclass(frozen=True)
class Geometry:
    """How the engine's image relates to the original: turned clockwise, then scaled."""

    width: int  # the original image's size
    height: int
    rotation: int = 0
    scale: float = 1.0

    def to_original(self, box: Box) -> Box:
        """A box on the engine's image -> the same box on the original image."""
        x0, y0 = box.x / self.scale, box.y / self.scale
        x1, y1 = (box.x + box.width) / self.scale, (box.y + box.height) / self.scale
        # Undo the clockwise turn. (rw, rh) is the turned image's size before scaling.
        rw, rh = (
            (self.height, self.width) if self.rotation in (90, 270) else (self.width, self.height)
        )
        if self.rotation == 90:  # turned (x, y) came from original (y, rw - x)
            x0, y0, x1, y1 = y0, rw - x1, y1, rw - x0
        elif self.rotation == 180:
            x0, y0, x1, y1 = rw - x1, rh - y1, rw - x0, rh - y0
        elif self.rotation == 270:  # turned (x, y) came from original (rh - y, x)
            x0, y0, x1, y1 = rh - y1, x0, rh - y0, x1
        return Box.from_corners(max(0, x0), max(0, y0), min(self.width, x1), min(self.height, y1))

    def map_output(self, output: OcrOutput) -> OcrOutput:
        if self.rotation == 0 and self.scale == 1.0:
            return output
        pages = [
            Page(
                width=self.width,
                height=self.height,
                confidence=page.confidence,
                blocks=[self._block(b) for b in page.blocks],
            )
            for page in output.pages
        ]
        return replace(output, pages=pages)

    def _block(self, block: Block) -> Block:
        lines = [
            Line(
                text=ln.text,
                confidence=ln.confidence,
                box=self.to_original(ln.box),
                words=[Word(w.text, w.confidence, self.to_original(w.box)) for w in ln.words],
            )
            for ln in block.lines
        ]
        return Block(block.text, block.confidence, self.to_original(block.box), lines)
