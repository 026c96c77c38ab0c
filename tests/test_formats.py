"""Searchable PDF, hOCR, ALTO and text: rendered from real OCR of real samples, through
the functions, and checked with tools others wrote (poppler, PDFium, hocr-tools, lxml).
"""

from __future__ import annotations

import io
import json
import re
import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from lxml import etree, html

from .conftest import SAMPLES, TEST_IMAGES, image_bytes
from .documents import image_pdf, multipage_tiff, page_image
from .formats_checks import (
    HOCR_CHECK,
    decoded,
    embedded_image,
    hocr_check,
    json_words,
    needs_pdftotext,
    pdftotext_letters,
    pdftotext_words,
    placed_fraction,
    poppler_pages,
    render_page,
    same_pixels,
)
from .test_documents import drop, results_path, run_queue

ALTO_NS = "{http://www.loc.gov/standards/alto/ns-v4#}"

#: Real images: EXIF rotation (6), PNG data kept as is, a palette GIF, a bilevel TIFF
#: scan, a dense multi-column page, a photographed receipt, a page turned 90 degrees.
OWN_SAMPLES = ["hello.jpg", "rotated_exif.jpg", "receipt.png", "invoice.gif"]
SHARED_SAMPLES = [
    "tess_phototest.tif",
    "scribe_multicol_01.png",
    "sroie_000.jpg",
    "tess_phototest-rotated-R.png",
]


def _sample(name: str) -> bytes:
    if name in OWN_SAMPLES:
        return image_bytes(name)
    path = SAMPLES / name
    if not path.is_file():
        pytest.skip(f"real corpus not found at {SAMPLES}")
    return path.read_bytes()


def _post(client: Any, data: bytes, name: str, fmt: str | None = None) -> Any:
    query = f"?format={fmt}" if fmt else ""
    return client.post(
        f"/extract-text{query}", data={"image": (io.BytesIO(data), name)}, buffered=True
    )


@needs_pdftotext
@pytest.mark.parametrize("name", OWN_SAMPLES + SHARED_SAMPLES)
def test_searchable_pdf_of_an_image_has_its_words_in_their_boxes_over_its_pixels(
    upload_client, name: str, tmp_path: Path
) -> None:
    data = _sample(name)
    answer = _post(upload_client, data, name, "pdf")
    assert answer.status_code == 200, answer.get_data(as_text=True)[:300]
    assert answer.headers["Content-Type"] == "application/pdf"
    assert answer.headers["Content-Disposition"] == (
        f"attachment; filename=\"{name}.pdf\"; filename*=UTF-8''{name}.pdf"
    )
    pdf = answer.get_data()
    result = _post(upload_client, data, name).json  # the same OCR, from the cache
    assert result["cached"] is True
    [page] = result["pages"]
    words = json_words(page)
    assert words, "the sample must have words for this test to mean anything"

    # poppler reads back exactly the words of the JSON (and copy and paste its letters)...
    assert pdftotext_words(pdf, tmp_path) == Counter(w["text"].strip() for w in words)
    letters = Counter(ch for w in words for ch in w["text"] if not ch.isspace() and ch != "-")
    assert pdftotext_letters(pdf, tmp_path) == letters
    # ...each where the JSON says it is.
    [found] = poppler_pages(pdf, tmp_path)
    bitmap, stream, (left, bottom, right, top), (width_pt, height_pt) = embedded_image(pdf)
    scale = (width_pt / page["width"], height_pt / page["height"])
    assert placed_fraction(words, found, scale) >= 0.95
    # The page is the image, covering it whole, at its own resolution and upright...
    image = decoded(data)
    assert (page["width"], page["height"]) == image.size
    assert (left, bottom) == pytest.approx((0, 0), abs=0.01)
    assert (right, top) == pytest.approx((width_pt, height_pt), abs=0.01)
    # ...pixel for pixel as PDFium decodes it; a JPEG is the very file, not re-encoded.
    if data[:3] == b"\xff\xd8\xff":
        assert stream == data
        assert same_pixels(bitmap, decoded(data, transpose=False))
    else:
        assert same_pixels(bitmap, image.convert("RGBA").convert("RGB"))
    if max(image.size) <= 1000:  # PDFium draws small pages 1:1 (large ones it resamples)
        assert same_pixels(render_page(pdf, 0, image.width), image.convert("RGB"))


@needs_pdftotext
def test_searchable_pdf_of_a_pdf_keeps_its_bytes_and_pages_and_adds_the_words(
    ocr_client, results_client, settings, tmp_path: Path
) -> None:
    source = _rotated_pages_pdf()
    drop(ocr_client, settings, "scans/turned.pdf", source)
    run_queue(ocr_client, settings)
    answer = results_client.get("/results/scans/turned.pdf?format=pdf")
    assert answer.status_code == 200, answer.get_data(as_text=True)[:300]
    assert answer.headers["Content-Type"] == "application/pdf"
    assert 'filename="turned.pdf.pdf"' in answer.headers["Content-Disposition"]
    pdf = answer.get_data()
    # An incremental update: the original file is the first bytes of the new one.
    assert pdf.startswith(source) and len(pdf) > len(source)

    pages = _shard_pages(settings, "scans/turned.pdf")
    assert [p["page_number"] for p in pages] == [1, 2, 3, 4]
    found = poppler_pages(pdf, tmp_path)
    import pypdfium2

    doc = pypdfium2.PdfDocument(pdf)
    sizes = [doc[i].get_size() for i in range(len(doc))]
    doc.close()
    all_words: Counter[str] = Counter()
    for page, words_found, (width_pt, height_pt) in zip(pages, found, sizes, strict=True):
        words = json_words(page)
        assert words and page["source"] == "ocr"
        all_words.update(w["text"].strip() for w in words)
        assert Counter(t for _, t in words_found) == Counter(w["text"].strip() for w in words)
        scale = (width_pt / page["width"], height_pt / page["height"])
        assert placed_fraction(words, words_found, scale) >= 0.95, page["page_number"]
        # The page itself is untouched: PDFium draws the same pixels as from the input.
        index = page["page_number"] - 1
        assert same_pixels(render_page(pdf, index, 400), render_page(source, index, 400))
    assert pdftotext_words(pdf, tmp_path) == all_words


def _rotated_pages_pdf() -> bytes:
    """Four scanned pages, three stored turned (90, 270, 180) with /Rotate set to show
    them upright, as scanners write sideways-fed pages."""
    import pikepdf

    turns = [0, 90, 270, 180]
    images = [page_image(n + 1).rotate(t, expand=True).convert("RGB") for n, t in enumerate(turns)]
    out = io.BytesIO()
    images[0].save(out, "PDF", save_all=True, append_images=images[1:], resolution=300.0)
    with pikepdf.open(io.BytesIO(out.getvalue())) as pdf:
        for page, turn in zip(pdf.pages, turns, strict=True):
            if turn:
                page.obj.Rotate = turn
        fixed = io.BytesIO()
        pdf.save(fixed)
    return fixed.getvalue()


def _shard_pages(settings: Any, name: str) -> list[dict[str, Any]]:
    result = json.loads(results_path(settings, f"{name}.json").read_text())
    pages = []
    for shard in result["shards"]:
        pages += json.loads(results_path(settings, shard).read_text())["responses"]
    return sorted(pages, key=lambda p: p["page_number"])


@needs_pdftotext
def test_searchable_pdf_of_a_multipage_tiff(ocr_client, results_client, settings, tmp_path) -> None:
    source = multipage_tiff(3)
    drop(ocr_client, settings, "fax.tif", source)
    run_queue(ocr_client, settings)
    pdf = results_client.get("/results/fax.tif?format=pdf").get_data()
    pages = _shard_pages(settings, "fax.tif")
    assert pdftotext_words(pdf, tmp_path) == Counter(
        w["text"].strip() for p in pages for w in json_words(p)
    )
    from PIL import Image

    with Image.open(io.BytesIO(source)) as tiff:
        for index in range(3):
            tiff.seek(index)
            frame = tiff.copy()
            assert same_pixels(render_page(pdf, index, frame.width), frame)


def test_hocr_passes_hocr_check_and_holds_the_words(upload_client, tmp_path: Path) -> None:
    assert HOCR_CHECK.exists(), "hocr-tools is in requirements-dev.txt"
    data = image_bytes("receipt.png")
    answer = _post(upload_client, data, "receipt.png", "hocr")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "text/vnd.hocr+html; charset=utf-8"
    assert 'filename="receipt.png.hocr"' in answer.headers["Content-Disposition"]
    hocr_check(answer.get_data(), tmp_path)
    result = _post(upload_client, data, "receipt.png").json
    tree = html.fromstring(answer.get_data())
    spans = tree.xpath("//*[@class='ocrx_word']")
    assert [s.text for s in spans] == [w["text"] for w in json_words(result["pages"][0])]
    first = json_words(result["pages"][0])[0]
    box = first["box"]
    assert spans[0].get("title") == (
        f"bbox {box['x']} {box['y']} {box['x'] + box['width']} {box['y'] + box['height']}; "
        f"x_wconf {round(first['confidence'] * 100)}"
    )
    assert (
        tree.xpath("//*[@class='ocr_page']")[0]
        .get("title")
        .startswith('image "receipt.png"; bbox 0 0 325 350')
    )


def _alto_schema() -> Any:
    """The ALTO v4 XSD from an installed package or ALTO_XSD; never fetched."""
    import os

    candidates = [Path(os.environ["ALTO_XSD"])] if os.environ.get("ALTO_XSD") else []
    candidates += sorted(Path(sys.prefix).rglob("alto-4-*.xsd"))
    for path in candidates:
        if path.is_file():
            return etree.XMLSchema(etree.parse(str(path)))
    pytest.skip("no ALTO v4 XSD in any installed package (set ALTO_XSD to validate)")


def _alto_document(upload_client: Any) -> tuple[bytes, dict[str, Any]]:
    data = image_bytes("hello.jpg")
    answer = _post(upload_client, data, "hello.jpg", "alto")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "application/alto+xml; charset=utf-8"
    assert 'filename="hello.jpg.alto.xml"' in answer.headers["Content-Disposition"]
    return answer.get_data(), _post(upload_client, data, "hello.jpg").json


def test_alto_holds_every_word_with_its_position_and_confidence(upload_client) -> None:
    alto, result = _alto_document(upload_client)
    root = etree.fromstring(alto)
    assert root.tag == f"{ALTO_NS}alto"
    page = root.find(f"{ALTO_NS}Layout/{ALTO_NS}Page")
    assert (page.get("WIDTH"), page.get("HEIGHT")) == ("657", "278")
    strings = root.iter(f"{ALTO_NS}String")
    expected = json_words(result["pages"][0])
    got = [
        (s.get("CONTENT"), int(s.get("HPOS")), int(s.get("VPOS")), int(s.get("WIDTH")))
        for s in strings
    ]
    assert got == [(w["text"], w["box"]["x"], w["box"]["y"], w["box"]["width"]) for w in expected]
    wcs = [float(s.get("WC")) for s in root.iter(f"{ALTO_NS}String")]
    assert all(0 <= wc <= 1 for wc in wcs) and max(wcs) > 0.5


def test_alto_validates_against_the_alto_v4_schema(upload_client) -> None:
    schema = _alto_schema()
    alto, _ = _alto_document(upload_client)
    schema.assertValid(etree.fromstring(alto))


def test_text_format_is_the_text_as_a_download(upload_client) -> None:
    answer = _post(upload_client, image_bytes("receipt.png"), "receipt.png", "txt")
    assert answer.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert 'filename="receipt.png.txt"' in answer.headers["Content-Disposition"]
    assert answer.get_data(as_text=True).startswith("CORNER CAFE\nEspresso 2.50")


def test_output_formats_are_written_beside_a_document_result_and_served_from_there(
    ocr_client, results_client, reconfigure, tmp_path: Path
) -> None:
    settings = reconfigure(OUTPUT_FORMATS="pdf,hocr,alto,txt", DOCUMENT_SHARD_PAGES="2")
    drop(ocr_client, settings, "scans/report.pdf", image_pdf(3))
    run_queue(ocr_client, settings)
    folder = results_path(settings, "scans")
    names = sorted(p.name for p in folder.iterdir() if p.is_file())
    assert names == [
        "report.pdf.alto.xml",
        "report.pdf.hocr",
        "report.pdf.json",
        "report.pdf.pdf",
        "report.pdf.txt",
    ]
    hocr = (folder / "report.pdf.hocr").read_bytes()
    hocr_check(hocr, tmp_path)
    assert len(html.fromstring(hocr).xpath("//*[@class='ocr_page']")) == 3
    assert (folder / "report.pdf.pdf").read_bytes().startswith(b"%PDF-")
    pages = etree.fromstring((folder / "report.pdf.alto.xml").read_bytes()).iter(f"{ALTO_NS}Page")
    assert [p.get("PHYSICAL_IMG_NR") for p in pages] == ["1", "2", "3"]
    # GET serves the stored file.
    served = results_client.get("/results/scans/report.pdf?format=hocr")
    assert served.status_code == 200 and served.get_data() == hocr


def test_output_formats_per_operation(ocr_client, upload_client, settings) -> None:
    from .test_documents import put

    put(settings, "in/a.pdf", image_pdf(1))
    put(settings, "in/b.png", image_bytes("receipt.png"))
    started = upload_client.post(
        "/operations", json={"objects": ["in/a.pdf", "in/b.png"], "output_formats": ["alto"]}
    )
    assert started.status_code == 202, started.json
    assert started.json["metadata"]["request"]["output_formats"] == ["alto"]
    run_queue(ocr_client, settings)
    folder = results_path(settings, "in")
    assert sorted(p.name for p in folder.iterdir() if p.is_file()) == [
        "a.pdf.alto.xml",
        "a.pdf.json",
        "b.png.alto.xml",
        "b.png.json",
    ]
    bad = upload_client.post(
        "/operations", json={"objects": ["in/a.pdf"], "output_formats": ["doc"]}
    )
    assert bad.status_code == 400 and bad.json["error"]["code"] == "invalid_request"


def test_output_formats_for_an_image_in_the_bucket(ocr_client, reconfigure) -> None:
    settings = reconfigure(OUTPUT_FORMATS="pdf")
    drop(ocr_client, settings, "photo.jpg", image_bytes("hello.jpg"))
    assert results_path(settings, "photo.jpg.pdf").read_bytes().startswith(b"%PDF-1.5")


def test_format_errors_are_clear(ocr_client, upload_client, results_client, settings) -> None:
    bad = results_client.get("/results/x.png?format=docx")
    assert bad.status_code == 400 and bad.json["error"]["code"] == "invalid_request"
    bad = _post(upload_client, image_bytes("hello.jpg"), "hello.jpg", "docx")
    assert bad.status_code == 400 and bad.json["error"]["code"] == "invalid_request"
    bad = upload_client.post(
        "/extract-text?format=pdf&mode=async",
        data={"image": (io.BytesIO(image_bytes("hello.jpg")), "hello.jpg")},
    )
    assert bad.status_code == 400 and bad.json["error"]["details"]["parameter"] == "format"
    # A failed result has nothing to render.
    drop(ocr_client, settings, "broken.jpg", image_bytes("not_an_image.jpg"))
    failed = results_client.get("/results/broken.jpg?format=pdf")
    assert failed.status_code == 422 and failed.json["error"]["code"] == "ocr_failed"
    # Without its source the PDF cannot be drawn; the other formats still can.
    drop(ocr_client, settings, "gone.jpg", image_bytes("hello.jpg"))
    (settings.data_dir / settings.input_bucket / "gone.jpg").unlink()
    gone = results_client.get("/results/gone.jpg?format=pdf")
    assert gone.status_code == 409 and gone.json["error"]["code"] == "source_unavailable"
    assert results_client.get("/results/gone.jpg?format=hocr").status_code == 200


@pytest.mark.e2e
@needs_pdftotext
@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_downloads_the_searchable_pdf_from_the_stack(tmp_path: Path) -> None:
    from .test_local_stack import LocalStack

    stack = LocalStack(tmp_path / "data", tmp_path / "stack.log")
    try:
        stack.start()
        pdf_path, headers = tmp_path / "hello.pdf", tmp_path / "headers.txt"
        subprocess.run(
            ["curl", "-sSf", "-D", str(headers), "-o", str(pdf_path), "-F",
             f"image=@{TEST_IMAGES / 'hello.jpg'}", f"{stack.url}/extract-text?format=pdf"],
            check=True, timeout=60,
        )  # fmt: skip
        assert re.search(r"(?im)^content-type: application/pdf", headers.read_text())
        assert pdftotext_words(pdf_path.read_bytes(), tmp_path)["Hello"] == 1
        target = stack.input_dir / "docs" / "contract.pdf"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes((TEST_IMAGES / "contract.pdf").read_bytes())
        stack.wait_result("docs/contract.pdf")
        out = tmp_path / "contract.searchable.pdf"
        subprocess.run(
            ["curl", "-sSf", "-o", str(out), f"{stack.url}/results/docs/contract.pdf?format=pdf"],
            check=True,
            timeout=60,
        )
        assert out.read_bytes().startswith(target.read_bytes())
        assert pdftotext_words(out.read_bytes(), tmp_path)
    finally:
        stack.stop(signal.SIGKILL)


def _damaged_xref_pdf() -> bytes:
    """A scan whose cross-reference offset is wrong (a file edited by hand or cut and
    mended): readers repair it, and so nothing can be appended to it as it is."""
    data = image_pdf(2)
    head, _, _ = data.rpartition(b"startxref")
    return head + b"startxref\n12\n%%EOF\n"


def _owner_locked_pdf() -> bytes:
    """Encrypted with an owner password only: anyone may open it, nobody may edit it."""
    import pikepdf

    with pikepdf.open(io.BytesIO(image_pdf(2))) as pdf:
        out = io.BytesIO()
        pdf.save(out, encryption=pikepdf.Encryption(owner="secret", user="", R=6))
    return out.getvalue()


@needs_pdftotext
@pytest.mark.parametrize("make", [_damaged_xref_pdf, _owner_locked_pdf])
def test_searchable_pdf_of_a_pdf_that_cannot_take_an_update_as_it_is(
    make: Any, ocr_client, results_client, settings, tmp_path: Path
) -> None:
    drop(ocr_client, settings, "odd.pdf", make())
    run_queue(ocr_client, settings)
    answer = results_client.get("/results/odd.pdf?format=pdf")
    assert answer.status_code == 200, answer.get_data(as_text=True)[:300]
    pdf = answer.get_data()
    pages = _shard_pages(settings, "odd.pdf")
    expected = Counter(w["text"].strip() for p in pages for w in json_words(p))
    assert expected and pdftotext_words(pdf, tmp_path) == expected
    import pikepdf

    with pikepdf.open(io.BytesIO(pdf)) as reread:  # a sound file: qpdf reads it unrepaired
        assert len(reread.pages) == 2 and not reread.get_warnings()


@needs_pdftotext
def test_any_unicode_survives_copy_and_paste(tmp_path: Path) -> None:
    """Accents, CJK, right-to-left letters and characters beyond the BMP (their codes come
    from the surrogate range, mapped one by one) all come back out of the PDF."""
    from ocr_core.recognition.render import FORMATS, render

    texts = ["Grüße", "naïve", "漢字かな", "שלום", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "🙂ok", "€1,50"]
    words = [
        {
            "text": t,
            "confidence": 0.9,
            "box": {"x": 20 + 130 * i, "y": 40, "width": 120, "height": 30},
        }
        for i, t in enumerate(texts)
    ]
    line = {"text": " ".join(texts), "confidence": 0.9, "box": words[0]["box"], "words": words}
    block = {"text": line["text"], "confidence": 0.9, "box": line["box"], "lines": [line]}
    result = {
        "status": "done",
        "pages": [{"width": 1000, "height": 120, "confidence": 0.9, "blocks": [block]}],
        "image": {"width": 1000, "height": 120, "orientation_applied": 1},
    }
    from PIL import Image

    image = io.BytesIO()
    Image.new("L", (1000, 120), 255).save(image, "PNG")
    pdf = b"".join(render(FORMATS["pdf"], result, name="u.png", source=image.getvalue()))
    assert pdftotext_words(pdf, tmp_path) == Counter(texts)


def test_a_stored_file_of_an_older_version_is_never_served(
    ocr_client, results_client, reconfigure
) -> None:
    settings = reconfigure(OUTPUT_FORMATS="hocr")
    drop(ocr_client, settings, "v.pdf", image_pdf(1))
    run_queue(ocr_client, settings)
    assert results_path(settings, "v.pdf.hocr").exists()
    settings = reconfigure(OUTPUT_FORMATS="")
    drop(ocr_client, settings, "v.pdf", image_pdf(2), event_id="e2")  # a new version
    run_queue(ocr_client, settings)
    served = results_client.get("/results/v.pdf?format=hocr")
    assert served.status_code == 200
    assert len(html.fromstring(served.get_data()).xpath("//*[@class='ocr_page']")) == 2
