"""RapidOCR (PP-OCRv4 detection + recognition on onnxruntime), models bundled in its wheel.

It reads camera photos, scene text and faint receipts that Tesseract gives up on, but it
returns text boxes in detection order and cannot read pages turned by 90 degrees, so its
boxes are rebuilt into reading-order lines here (``layout.py``) and the default engine
(``auto.py``) only calls it where Tesseract is unsure. Its recogniser knows Latin letters
without accents and Chinese, so it stands in for English only.
"""

from __future__ import annotations

import threading
from importlib import metadata
from typing import Any

from PIL import Image

from .base import Box, OcrOutput, Page, Word, mean_confidence
from .layout import build_blocks

#: Languages whose text the bundled recogniser reads (Tesseract's codes).
LANGUAGES = ("eng",)
#: Longest side (px) of the image the text detector sees.
DETECTION_MAX_SIDE = 960
#: The detector runs on horizontal bands of this many rows (a multiple of 32, as the
#: network needs), each seeing this many more rows of context above and below.
DETECTION_BAND_ROWS = 320
DETECTION_BAND_CONTEXT = 96


class RapidOcrEngine:
    name = "rapidocr"

    def __init__(self) -> None:
        # Imported here: loading onnxruntime and OpenCV costs a second and ~150 MB, paid
        # only by processes that use this engine.
        import numpy

        self._np = numpy
        self.version = metadata.version("rapidocr-onnxruntime")
        # One RapidOCR for every thread: onnxruntime runs one session from many threads
        # at once, and the detector (the only part that keeps per-call state) takes
        # turns. Each call computes on the calling thread alone, so the engine threads,
        # one per core, are what use the cores: with onnxruntime's own threading one
        # image already spread over every core and a second request only took turns.
        self._ocr = _build_rapidocr()

    def supported_languages(self) -> list[str]:
        return list(LANGUAGES)

    def _bgr(self, image: Image.Image) -> object:
        rgb = image if image.mode == "RGB" else image.convert("RGB")
        return self._np.ascontiguousarray(self._np.asarray(rgb)[:, :, ::-1])

    def recognize(self, image: Image.Image, lang: str | None = None) -> OcrOutput:
        found, _ = self._ocr(self._bgr(image))
        words: list[Word] = []
        for points, text, score in found or []:
            xs = [float(p[0]) for p in points]
            ys = [float(p[1]) for p in points]
            words.extend(_split_words(str(text), float(score), min(xs), min(ys), max(xs), max(ys)))
        return self._output(image, words)

    def recognize_line(self, image: Image.Image) -> OcrOutput:
        """Read an image that is one cropped word or line, without text detection.

        The detector finds nothing on crops a few dozen pixels high (a logo, a stamp, a
        handwritten word); the recogniser reads them whole.
        """
        found, _ = self._ocr(self._bgr(image), use_det=False, use_cls=False)
        words: list[Word] = []
        for text, score in found or []:
            words.extend(_split_words(str(text), float(score), 0, 0, image.width, image.height))
        return self._output(image, words)

    def detect(self, image: Image.Image) -> list[Box]:
        """Boxes of the text lines the detector finds (on the image shrunk to 960 px)."""
        found, _ = self._ocr(self._bgr(image), use_rec=False, use_cls=False)
        boxes: list[Box] = []
        for points in found or []:
            xs = [float(p[0]) for p in points]
            ys = [float(p[1]) for p in points]
            boxes.append(Box.from_corners(min(xs), min(ys), max(xs), max(ys)))
        return boxes

    def _output(self, image: Image.Image, words: list[Word]) -> OcrOutput:
        blocks = build_blocks(words)
        pairs = [(w.text, w.confidence) for b in blocks for ln in b.lines for w in ln.words]
        confidence = mean_confidence(pairs)
        page = Page(width=image.width, height=image.height, confidence=confidence, blocks=blocks)
        return OcrOutput(
            text="\n\n".join(b.text for b in blocks),
            confidence=confidence,
            language="en",
            pages=[page],
        )


def _split_words(text: str, score: float, x0: float, y0: float, x1: float, y1: float) -> list[Word]:
    """RapidOCR boxes a run of text; give each word its share of the box by characters."""
    parts = text.split()
    if not parts:
        return []
    span = max(1, len(text))
    per_char = (x1 - x0) / span
    words: list[Word] = []
    cursor = 0
    for part in parts:
        start = text.index(part, cursor)
        cursor = start + len(part)
        box = Box.from_corners(x0 + start * per_char, y0, x0 + cursor * per_char, y1)
        words.append(Word(text=part, confidence=round(max(0.0, min(1.0, score)), 4), box=box))
    return words


def _build_rapidocr() -> Any:
    """RapidOCR computing on the calling thread, its detector taking turns.

    Lines are recognised one at a time: a batch is padded to its widest line, which cost
    time on pages whose lines differ in length (the slide on one thread: 2.7 s in batches
    of 6, 1.8 s one by one).
    """
    from rapidocr_onnxruntime import RapidOCR

    _use_memory_arenas()
    ocr = RapidOCR(
        det_limit_type="max",
        det_limit_side_len=DETECTION_MAX_SIDE,
        intra_op_num_threads=1,
        inter_op_num_threads=1,
    )
    ocr.text_rec.rec_batch_num = 1
    _cap_detection_side(ocr.text_det, DETECTION_MAX_SIDE)
    ocr.text_det.infer = _BandedInference(ocr.text_det.infer)
    ocr.text_det = _SerialDetector(ocr.text_det)
    return ocr


_patched = False


def _use_memory_arenas() -> None:
    """Build RapidOCR's onnxruntime sessions with onnxruntime's memory arena and without
    memory patterns (rapidocr-onnxruntime 1.4.4 turns the arena off and offers no
    setting: it builds its options in ``OrtInferSession._init_sess_opts``).

    Measured per session, on one thread: without the arena every tensor of every call is
    a malloc and a free, and glibc keeps what it freed scattered. On a 960x768 input the
    detector took +232 MiB and 0.35 s with the library's settings, +344 MiB without the
    arena and without patterns, and +105 MiB and 0.25 s with the arena alone. The
    recogniser ran twice as fast (200 lines: 16 s against 32 s). A memory pattern is a
    cached allocation plan for one input shape, and every image and every text line has
    its own shape: with patterns the detector held 121 MiB more after 200 sizes.
    """
    global _patched
    if _patched:
        return
    from rapidocr_onnxruntime.utils import infer_engine

    library_options = infer_engine.OrtInferSession._init_sess_opts

    def options(config: dict[str, Any]) -> Any:
        opts = library_options(config)
        opts.enable_cpu_mem_arena = True
        opts.enable_mem_pattern = False
        return opts

    infer_engine.OrtInferSession._init_sess_opts = staticmethod(options)
    _patched = True


class _SerialDetector:
    """The text detector, shared by every thread and running one image at a time.

    It keeps its preprocessing on itself between calls, and it is the part that costs
    memory (see ``_BandedInference``; the recogniser needs under 20 MiB for a line
    1280 px long). Detection is a tenth to a fifth of RapidOCR's time on a page, so
    recognition runs side by side and detections take turns.
    """

    def __init__(self, detector: Any) -> None:
        self._detector = detector
        self._lock = threading.Lock()

    def __call__(self, image: Any) -> Any:
        with self._lock:
            return self._detector(image)


class _BandedInference:
    """The detector network run band by band down the image, its text maps stitched.

    onnxruntime's working memory grows with the input's area: +105 MiB for 960x768 and
    +128 MiB for 960x960, +74 MiB for 960x512 (one thread, with the arena). Each band is
    ``DETECTION_BAND_ROWS`` rows plus ``DETECTION_BAND_CONTEXT`` rows of context on each
    side, so the network never sees more than 512 rows; only the band's own rows of its
    output are kept. The probability map then goes through the library's own box
    extraction whole, so a line across two bands is still one box. The network pools
    globally (squeeze-and-excitation), so maps differ a little at text edges: on the
    corpus CER went from 0.043 to 0.044 (one receipt 0.049 -> 0.055, the slide 0.017 ->
    0.019). With 64 rows of context the slide fell to 0.089, and shrinking the image to
    736 px instead cost 20% more errors.
    """

    def __init__(self, session: Any) -> None:
        self._session = session

    def __call__(self, batch: Any) -> list[Any]:
        import numpy

        rows = batch.shape[2]
        band, context = DETECTION_BAND_ROWS, DETECTION_BAND_CONTEXT
        if rows <= band + 2 * context:
            return list(self._session(batch))
        stitched = numpy.empty((batch.shape[0], 1, rows, batch.shape[3]), numpy.float32)
        for top in range(0, rows, band):
            bottom = min(rows, top + band)
            start, stop = max(0, top - context), min(rows, bottom + context)
            output = self._session(batch[:, :, start:stop, :])[0]
            stitched[:, :, top:bottom, :] = output[:, :, top - start : bottom - start, :]
        return [stitched]


def _cap_detection_side(detector: Any, side: int) -> None:
    """Make the detector really see at most ``side`` px on the longer side.

    rapidocr-onnxruntime 1.4.4 ignores ``det_limit_side_len`` with ``limit_type="max"``: it
    picks 960, 1500 or 2000 px by the image's own size, so a 2000 px page was detected at
    full size (about 0.6 GiB of activations and seconds of CPU). Recognition still reads
    the text crops from the full-resolution image. Detection at 960 px is as accurate on
    the corpus as the library's default (shorter side raised to 736 px) and two to three
    times faster on receipts and wide crops, which the default blows up.
    """
    from rapidocr_onnxruntime.ch_ppocr_det.utils import DetPreProcess

    mean, std = detector.mean, detector.std
    detector.get_preprocess = lambda _longest: DetPreProcess(side, "max", mean, std)
