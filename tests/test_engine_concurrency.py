"""How the local engines share the cores and the memory (issue 7), on real images.

Each engine call computes on its own thread, the engine threads are what use the cores,
at most one image per engine thread is decoded and worked on at once, RapidOCR's detector
sees the page shrunk to its side limit, and its sessions use onnxruntime's arena, all
through RapidOCR 3.10's own options. ``bench/speed.py`` measures what these buy
(throughput with one and two workers, peak memory); these tests hold the mechanisms.
"""

from __future__ import annotations

import contextlib
import resource
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy
import pytest
from PIL import Image, ImageDraw

from ocr_core import memory, runtime
from ocr_core.engines import Engines, rapid, slots
from ocr_core.engines.rapid import RapidOcrEngine

from .conftest import engine, extract, words


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@pytest.fixture(scope="module")
def rapid_engine() -> RapidOcrEngine:
    return RapidOcrEngine()


def test_rapidocr_sessions_run_on_one_thread_with_the_arena(rapid_engine) -> None:
    assert rapid_engine._ocr.text_rec.rec_batch_num == 1
    for session in rapid_engine.sessions():
        options = session.get_session_options()
        assert options.intra_op_num_threads == 1
        assert options.inter_op_num_threads == 1
        assert options.enable_cpu_mem_arena


def test_banded_detection_finds_the_lines_the_whole_page_shows(rapid_engine) -> None:
    # 960 rows: three bands (0-320, 320-640, 640-960). Lines sit inside bands and across
    # their borders; each must come out once, whole, where it is.
    tops = [40, 300, 440, 628, 800]
    page = Image.new("RGB", (960, 960), "white")
    draw = ImageDraw.Draw(page)
    for number, top in enumerate(tops):
        draw.text((40, top), f"Line {number} of the banded page", fill="black", font_size=28)
    banded = rapid_engine.read_words(page)
    detector = rapid_engine._ocr.text_det
    bands = detector.session
    detector.session = bands.session
    try:
        whole = rapid_engine.read_words(page)
    finally:
        detector.session = bands
    assert [w.text for w in banded] == [w.text for w in whole]
    assert [w.text for w in banded if w.text.isdigit()] == [str(i) for i in range(len(tops))]
    for got, want in zip(banded, whole, strict=True):
        assert abs(got.box.y - want.box.y) <= 3 and abs(got.box.height - want.box.height) <= 4


def test_band_output_is_stitched_in_place() -> None:
    # A stand-in network that writes each input row's own value: stitching must put
    # every output row back where its input row was, with no band's context leaking.
    calls: list[int] = []

    def network(batch: numpy.ndarray) -> numpy.ndarray:
        calls.append(batch.shape[2])
        return batch[:, :1, :, :].copy()

    banded = rapid._BandedInference(network)
    rows = numpy.arange(1100, dtype=numpy.float32)
    batch = numpy.broadcast_to(rows[None, None, :, None], (1, 3, 1100, 64)).copy()
    out = banded(batch)
    assert out.shape == (1, 1, 1100, 64)
    assert numpy.array_equal(out[0, 0, :, 0], rows)
    assert max(calls) <= rapid.DETECTION_BAND_ROWS + 2 * rapid.DETECTION_BAND_CONTEXT
    assert len(calls) == 4


def test_detector_sees_the_page_within_its_side_limit(rapid_engine) -> None:
    # A 2000 x 2590 page: the library's default (shortest side up to 736 px, no cap) gave
    # the detector the whole page; its "max" limit shrinks the longest side instead.
    page = numpy.zeros((2590, 2000, 3), dtype=numpy.uint8)
    seen = rapid_engine._ocr.text_det.get_preprocess()(page)
    assert max(seen.shape[2:]) <= rapid.DETECTION_MAX_SIDE


def test_one_rapidocr_call_keeps_one_core_busy(rapid_engine, samples: Path) -> None:
    # onnxruntime's default spreads one image over every core, which left nothing for a
    # second request; here the process's CPU time can only match the wall time.
    image = Image.open(samples / "sroie_013.jpg").convert("RGB")
    rapid_engine.recognize(image)  # warm
    cpu, started = cpu_seconds(), time.perf_counter()
    output = rapid_engine.recognize(image)
    busy = (cpu_seconds() - cpu) / (time.perf_counter() - started)
    assert busy < 1.3, f"one call kept {busy:.2f} cores busy"
    assert "RESTORAN HASSANBISTRO" in output.text


def test_shared_rapidocr_reads_alike_from_many_threads(rapid_engine, samples: Path) -> None:
    names = ["tess_HelloGoogle.tif", "pyt_test_la.png", "icdar15_img_1.jpg", "sroie_000.jpg"]
    images = [Image.open(samples / n).convert("RGB") for n in names]
    alone = [rapid_engine.recognize(im).text for im in images]
    with ThreadPoolExecutor(max_workers=4) as pool:
        together = list(pool.map(lambda im: rapid_engine.recognize(im).text, images * 2))
    assert together == alone * 2
    assert words(alone[0]) == ["hello", "google"]


@contextlib.contextmanager
def counting_slots(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, int]]:
    """The most images, and the most decoded pixels, the inline path held in work at once."""
    seen = {"now": 0, "most": 0, "pixels": 0, "most_pixels": 0}
    lock = threading.Lock()
    real = Engines.slot

    @contextlib.contextmanager
    def counted(self: Engines, engine: object = None, pixels: int = 0) -> Iterator[None]:
        with real(self, engine, pixels):
            with lock:
                seen["now"] += 1
                seen["pixels"] += pixels
                seen["most"] = max(seen["most"], seen["now"])
                seen["most_pixels"] = max(seen["most_pixels"], seen["pixels"])
            try:
                time.sleep(0.05)  # long enough for every waiting request to pile up
                yield
            finally:
                with lock:
                    seen["now"] -= 1
                    seen["pixels"] -= pixels

    monkeypatch.setattr(Engines, "slot", counted)
    yield seen


@pytest.mark.parametrize("threads", [1, 2])
def test_no_more_images_in_work_than_engine_threads(
    settings, samples: Path, monkeypatch: pytest.MonkeyPatch, threads: int
) -> None:
    monkeypatch.setenv("ENGINE_THREADS", str(threads))
    monkeypatch.setenv("CACHE_MAX_ENTRIES", "0")
    runtime.reload()
    names = ["tess_HelloGoogle.tif", "pyt_test_la.png", "htr_word.png", "uw3_line_010002.png"]
    data = [(samples / n).read_bytes() for n in names] * 2
    with counting_slots(monkeypatch) as seen, ThreadPoolExecutor(max_workers=8) as pool:
        texts = [doc["text"] for doc in pool.map(extract, data)]
    assert seen["most"] == threads
    assert words(texts[0]) == ["hello", "google"] and texts[2] == "word"


def test_network_bound_engines_are_not_held_to_the_cores(settings) -> None:
    from ocr_core.engines.vision import VisionEngine

    vision = VisionEngine()  # its client is built on first use: no call is made here
    engines = runtime.reload().jobs.engines
    slots_now = engines.settings.engine_pool_size
    held = [engines.slot(vision) for _ in range(slots_now + 2)]
    with contextlib.ExitStack() as stack:
        for slot in held:
            stack.enter_context(slot)
        # Not one slot taken: a CPU-bound call still gets in at once.
        assert _admitted_within(lambda: engines.slot(), 2.0)


def _admitted_within(make_slot, seconds: float) -> bool:
    entered = threading.Event()

    def run() -> None:
        with make_slot():
            entered.set()

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    return entered.wait(seconds)


def test_gate_keeps_two_large_pages_apart_but_not_a_large_and_a_small() -> None:
    gate = slots.Gate(2)
    large, small = 8_400_000, 300_000
    gate.acquire(large)
    order: list[str] = []

    def take(name: str, pixels: int) -> None:
        gate.acquire(pixels)
        order.append(name)

    second_large = threading.Thread(target=take, args=("large", large), daemon=True)
    second_large.start()
    time.sleep(0.2)
    assert order == []  # two letter pages at 300 dpi would pass the 12 MP of two threads
    gate.release(large)
    second_large.join(2)
    assert order == ["large"]
    small_one = threading.Thread(target=take, args=("small", small), daemon=True)
    small_one.start()
    small_one.join(2)
    assert order == ["large", "small"]  # beside a large page, a small one runs
    gate.release(large)
    gate.release(small)


def test_gate_serves_in_arrival_order_so_a_huge_image_is_not_starved() -> None:
    gate = slots.Gate(2)
    gate.acquire(100_000)
    order: list[str] = []

    def take(name: str, pixels: int) -> None:
        gate.acquire(pixels)
        order.append(name)
        gate.release(pixels)

    huge = threading.Thread(target=take, args=("huge", 40_000_000), daemon=True)
    huge.start()
    time.sleep(0.1)
    later = threading.Thread(target=take, args=("small", 100_000), daemon=True)
    later.start()
    time.sleep(0.2)
    assert order == []  # the small one waits its turn behind the huge one
    gate.release(100_000)  # now the huge image runs alone, then the small one
    huge.join(2)
    later.join(2)
    assert order == ["huge", "small"]


def test_large_scans_are_not_decoded_side_by_side(
    settings, samples: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ENGINE_THREADS", "2")
    monkeypatch.setenv("CACHE_MAX_ENTRIES", "0")
    monkeypatch.setattr(slots, "PIXELS_PER_THREAD", 3_000_000)  # 6 MP: one scan at a time
    runtime.reload()  # the gate built anew with that budget
    data = [(samples / n).read_bytes() for n in ("scribe_filing_01.png", "tess_eurotext.tif")]
    with counting_slots(monkeypatch) as seen, ThreadPoolExecutor(max_workers=4) as pool:
        texts = [doc["text"] for doc in pool.map(extract, data * 2)]
    assert seen["most_pixels"] <= 6_000_000
    assert seen["most_pixels"] > 5_500_000  # a large page did run beside a small one
    assert "NORTHERN DISTRICT OF GEORGIA" in texts[0]


def test_slot_is_released_when_the_image_is_refused(settings) -> None:
    from ocr_core import errors

    recognizer = runtime.reload().recognizer
    for _ in range(recognizer.settings.engine_pool_size + 1):
        with pytest.raises(errors.NotAnImage):
            recognizer.extract(b"definitely not an image")
    with recognizer.engines.slot():  # would block for ever had a refused image kept its slot
        pass


def test_default_engine_is_built_once_with_one_rapidocr(settings) -> None:
    auto = engine("auto")
    assert auto is engine("auto")
    rapid_part = auto._rapidocr()
    assert rapid_part is None or isinstance(rapid_part, RapidOcrEngine)


def test_malloc_tuning_is_harmless_to_call_again() -> None:
    memory.limit_arenas()
    memory.limit_arenas()
    memory.release_free_memory()
    assert memory._glibc() is not None or not Path("/lib").exists()


def test_pixel_count_reads_the_header_only(samples: Path) -> None:
    from ocr_core.recognition.intake import pixel_count

    assert pixel_count((samples / "scribe_filing_01.png").read_bytes()) == 2000 * 2590
    assert pixel_count(b"definitely not an image") == 0
    truncated = (samples / "scribe_filing_01.png").read_bytes()[:4096]
    assert pixel_count(truncated) == 2000 * 2590  # the pixels are never decoded


def test_one_orientation_model_serves_every_engine_thread(settings, samples: Path) -> None:
    tesseract = engine("auto")._tesseract
    data = [(samples / n).read_bytes() for n in ("tess_phototest.tif", "tess_eurotext.tif")]
    with ThreadPoolExecutor(max_workers=4) as pool:
        texts = [doc["text"] for doc in pool.map(extract, data * 2)]
    assert tesseract._created.get("osd") == 1
    assert texts[0] == texts[2] and "quick brown dog" in texts[0]


def test_an_image_intake_refuses_does_not_wait_for_an_empty_engine(settings) -> None:
    # A header claiming more pixels than MAX_IMAGE_PIXELS is refused at once by intake; it
    # must not queue for the whole budget behind the images in work.
    engines = runtime.current().jobs.engines
    gate = engines.gate
    gate.acquire(1_000_000)
    try:
        assert _admitted_within(lambda: engines.slot(pixels=10**10), 2.0)
    finally:
        gate.release(1_000_000)
