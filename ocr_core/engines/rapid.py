"""RapidOCR 3.10: PP-OCRv6 small text detection and multilingual recognition on onnxruntime.

The models ship inside the ``rapidocr`` wheel (``rapidocr/models``); every model path is
given to the library explicitly, so it never looks for (or downloads) a model elsewhere
(``tests/test_rapid_engine.py`` builds and runs the engine with the network cut). One
recogniser reads Latin script with accents (English, French, German, Spanish, Italian,
Portuguese, Polish, Dutch, the Nordic and Baltic languages, ...), Chinese and Japanese.

It returns text lines in detection order, with a box per word: the words are put into
reading order (columns, then rows) by ``layout.build_blocks``. It cannot read a page turned
by 90 degrees; the default engine (``auto.py``) turns the page first.

Everything is set through the library's own options (``library_params``: one thread per
call, onnxruntime's arena, the detector's side limit, the bundled models) except memory,
which 3.10 offers no bound for: two small wrappers round its sessions (``_Shrinking``,
``_BandedInference``) keep one engine thread under 512 MiB.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from PIL import Image

from .base import Block, Box, OcrOutput, Page, Word, mean_confidence
from .languages import RAPIDOCR_LANGUAGES, bcp47
from .layout import build_blocks

#: Longest side (px) of the image the text detector sees. The library's default scales the
#: shortest side up to 736 px instead: on half A of ../shared/ocr-samples CER 0.123 against
#: 0.088 at 960 and 0.091 at 1280, and the slowest of the three; 960 also needs the least
#: memory (docs/engine-and-accuracy.md).
DETECTION_MAX_SIDE = 960
#: Longest side (px) of the image lines are cut from (the library's own bound). Larger
#: images are shrunk here, before they become arrays: a 35 MP scan is 105 MB as RGB, and
#: the library made two more copies of it before shrinking.
IMAGE_MAX_SIDE = 2000
#: Lines recognised per onnxruntime call. In batches of 6 (the library's default) a dense
#: page took 750 MiB more at its peak, since a batch is as wide as its widest line; one at
#: a time it is 340 MiB, for no measurable loss of speed on one thread.
REC_BATCH = 1
#: The detector runs on horizontal bands of this many rows (a multiple of 32, as the
#: network needs), each seeing this many more rows of context above and below.
DETECTION_BAND_ROWS = 320
DETECTION_BAND_CONTEXT = 96


@dataclass(frozen=True)
class RapidSettings:
    """The library options that matter for accuracy and speed (bench/engine_sweep.py)."""

    detection_max_side: int = DETECTION_MAX_SIDE
    image_max_side: int = IMAGE_MAX_SIDE
    rec_batch: int = REC_BATCH
    line_classifier: bool = False


def _model_dir() -> Path:
    import rapidocr

    return Path(rapidocr.__file__).resolve().parent / "models"


def library_params(settings: RapidSettings) -> dict[str, Any]:
    """RapidOCR's own options: one thread per call, onnxruntime's arena, bundled models.

    One RapidOCR serves every thread: onnxruntime runs a session from many threads at once
    and the library keeps no per-call state when called without per-call options. Each
    call computes on the calling thread alone, so the engine threads (one per core) are
    what use the cores; onnxruntime's default thread pool spread one image over every core
    and left a second request to take turns. The arena: without it every tensor of every
    call was a malloc and a free (the recogniser ran half as fast, 1.4.4 measurement).
    """
    models = _model_dir()
    return {
        # The library logs coloured text of its own; what matters reaches our JSON logs as
        # exceptions (or an empty page, which is an answer, not a warning).
        "Global.log_level": "critical",
        "Global.return_word_box": True,
        "Global.use_cls": settings.line_classifier,
        "Global.max_side_len": settings.image_max_side,
        "Global.model_root_dir": str(models),
        "EngineConfig.onnxruntime.intra_op_num_threads": 1,
        "EngineConfig.onnxruntime.inter_op_num_threads": 1,
        "EngineConfig.onnxruntime.enable_cpu_mem_arena": True,
        "Det.model_path": str(models / "PP-OCRv6_det_small.onnx"),
        "Det.limit_type": "max",
        "Det.limit_side_len": settings.detection_max_side,
        "Cls.model_path": str(models / "ch_ppocr_mobile_v2.0_cls_mobile.onnx"),
        "Rec.model_path": str(models / "PP-OCRv6_rec_small.onnx"),
        "Rec.rec_batch_num": settings.rec_batch,
    }


class RapidOcrEngine:
    name = "rapidocr"

    def __init__(self, settings: RapidSettings | None = None) -> None:
        # Imported here: onnxruntime and OpenCV cost a second and ~150 MB, paid only by
        # processes that use this engine.
        import numpy
        from rapidocr import RapidOCR

        self._np = numpy
        self.settings = settings or RapidSettings()
        self.version = metadata.version("rapidocr")
        self._ocr = RapidOCR(params=library_params(self.settings))
        # Load the models now, not on the first request (the library loads lazily).
        parts = [self._ocr._load_det_model(), self._ocr._load_rec_model()]
        if self.settings.line_classifier:
            parts.append(self._ocr._load_cls_model())
        del parts
        # Memory: the detector sees bands of the page, and both sessions hand back what a
        # call took beyond their arena's first chunk (one engine thread through a 35 MP scan
        # and two dense pages: 580 MiB peak with neither, 520 MiB with bands alone, 474-867
        # MiB with both over nine runs; the hand-back costs ~3% CPU time).
        self._ocr.text_det.session = _BandedInference(_Shrinking(self._ocr.text_det.session))
        self._ocr.text_rec.session = _Shrinking(self._ocr.text_rec.session)

    def supported_languages(self) -> list[str]:
        return list(RAPIDOCR_LANGUAGES)

    def sessions(self) -> list[Any]:
        """The onnxruntime sessions of the detector and the recogniser."""
        return [self._ocr.text_det.session.session.session, self._ocr.text_rec.session.session]

    def _bgr(self, image: Image.Image) -> Any:
        rgb = image if image.mode == "RGB" else image.convert("RGB")
        return self._np.ascontiguousarray(self._np.asarray(rgb)[:, :, ::-1])

    def read_words(self, image: Image.Image) -> list[Word]:
        """Every word the page holds, with its own box, in detection order."""
        longest = max(image.width, image.height)
        scale = 1.0
        if longest > self.settings.image_max_side:
            scale = longest / self.settings.image_max_side
            size = (max(1, round(image.width / scale)), max(1, round(image.height / scale)))
            image = image.resize(size, Image.Resampling.BOX)
        found = self._ocr(self._bgr(image))
        if not getattr(found, "txts", None):
            return []
        words: list[Word] = []
        for points, text, score, parts in zip(
            found.boxes, found.txts, found.scores, found.word_results, strict=False
        ):
            words.extend(_line_words(points, str(text), float(score), parts))
        if scale != 1.0:
            words = [Word(w.text, w.confidence, _scaled(w.box, scale)) for w in words]
        return words

    def recognize(self, image: Image.Image, lang: str | None = None) -> OcrOutput:
        return self.output(image, self.read_words(image), lang)

    def recognize_line(self, image: Image.Image, lang: str | None = None) -> OcrOutput:
        """Read an image that is one cropped word or line, without text detection."""
        from rapidocr.ch_ppocr_rec import TextRecInput

        found = self._ocr.text_rec(TextRecInput(img=[self._bgr(image)], return_word_box=False))
        words: list[Word] = []
        for text, score in zip(found.txts or (), found.scores or (), strict=False):
            corners = [(0, 0), (image.width, 0), (image.width, image.height), (0, image.height)]
            words.extend(_line_words(corners, str(text), float(score), None))
        return self.output(image, words, lang)

    def output(
        self,
        image: Image.Image,
        words: list[Word],
        lang: str | None = None,
        *,
        blocks: list[Block] | None = None,
    ) -> OcrOutput:
        """The page from its words; ``blocks``, where given, are those words in reading
        order already."""
        if blocks is None:
            blocks = build_blocks(words)
        pairs = [(w.text, w.confidence) for b in blocks for ln in b.lines for w in ln.words]
        confidence = mean_confidence(pairs)
        page = Page(width=image.width, height=image.height, confidence=confidence, blocks=blocks)
        primary = (lang or "eng").split("+")[0]
        return OcrOutput(
            text="\n\n".join(b.text for b in blocks),
            confidence=confidence,
            language=bcp47(primary),
            pages=[page],
        )


class _Shrinking:
    """One of the library's sessions, run with onnxruntime's arena handing back what a
    call took beyond the arena's first chunk once the call is over."""

    def __init__(self, session: Any) -> None:
        import onnxruntime

        self._library = session
        self.session = session.session
        self._inputs = [i.name for i in self.session.get_inputs()]
        self._outputs = [o.name for o in self.session.get_outputs()]
        self._options = onnxruntime.RunOptions()
        self._options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._library, name)

    def __call__(self, batch: Any) -> Any:
        return self.session.run(self._outputs, {self._inputs[0]: batch}, self._options)[0]


class _BandedInference:
    """The detector network run band by band down the image, its text maps stitched.

    onnxruntime's working memory grows with the input's area (1.4.4's detector: +105 MiB
    for 960x768, +74 MiB for 960x512, one thread, with the arena), and RapidOCR 3.10 has no
    option that bounds it. Each band is ``DETECTION_BAND_ROWS`` rows plus
    ``DETECTION_BAND_CONTEXT`` rows of context on each side, so the network never sees more
    than 512 rows; only the band's own rows of its output are kept. The probability map
    then goes through the library's own box extraction whole, so a line across two bands
    is still one box. Measured in tests/test_rapid_engine.py (peak of one engine thread).
    """

    def __init__(self, session: Any) -> None:
        self.session = session

    def __call__(self, batch: Any) -> Any:
        import numpy

        rows = batch.shape[2]
        band, context = DETECTION_BAND_ROWS, DETECTION_BAND_CONTEXT
        if rows <= band + 2 * context:
            return self.session(batch)
        stitched = numpy.empty((batch.shape[0], 1, rows, batch.shape[3]), numpy.float32)
        for top in range(0, rows, band):
            bottom = min(rows, top + band)
            start, stop = max(0, top - context), min(rows, bottom + context)
            output = self.session(batch[:, :, start:stop, :])
            stitched[:, :, top:bottom, :] = output[:, :, top - start : bottom - start, :]
        return stitched


def _scaled(box: Box, factor: float) -> Box:
    return Box.from_corners(
        box.x * factor, box.y * factor, (box.x + box.width) * factor, (box.y + box.height) * factor
    )


def _clamp(score: float) -> float:
    return round(max(0.0, min(1.0, score)), 4)


def _corners_box(points: Any) -> Box:
    xs = [float(p[0]) for p in points]
    ys = [float(p[1]) for p in points]
    return Box.from_corners(min(xs), min(ys), max(xs), max(ys))


def _line_words(points: Any, text: str, score: float, parts: Any) -> list[Word]:
    """The words of one detected line: the library's own word boxes where they spell the
    line word for word (Latin script), else the line's box shared out by characters
    (Chinese and Japanese come back a character at a time)."""
    line_box = _corners_box(points)
    if parts and " ".join(str(p[0]) for p in parts).split() == text.split():
        return [Word(str(t), _clamp(float(s)), _corners_box(b)) for t, s, b in parts]
    return _split_words(text, score, line_box)


def _split_words(text: str, score: float, box: Box) -> list[Word]:
    """Each word of ``text`` with its share of ``box`` by characters."""
    parts = text.split()
    if not parts:
        return []
    per_char = box.width / max(1, len(text))
    words: list[Word] = []
    cursor = 0
    for part in parts:
        start = text.index(part, cursor)
        cursor = start + len(part)
        word_box = Box.from_corners(
            box.x + start * per_char, box.y, box.x + cursor * per_char, box.y + box.height
        )
        words.append(Word(text=part, confidence=_clamp(score), box=word_box))
    return words
