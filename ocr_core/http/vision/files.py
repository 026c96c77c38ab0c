"""Files: ``POST /v1/files:annotate`` (now, up to 5 pages) and the two async batches,
``POST /v1/files:asyncBatchAnnotate`` and ``POST /v1/images:asyncBatchAnnotate``.

The sync route OCRs the pages in this request, as Vision does. The async ones start an
operation in the one operations store (``ocr_core.jobs.operations``) over objects of the input
bucket, processed by the OCR function exactly like ``POST /operations`` (plan and page
tasks, shards, the document result); the Vision request is kept in the operation's
``metadata.request.vision`` and its output files are written once the work is done
(``longrunning.complete``).
"""

from __future__ import annotations

import io
from typing import Any

from PIL import Image, ImageSequence

from ocr_core import errors
from ocr_core.config import Settings
from ocr_core.http.context import HttpContext
from ocr_core.http.vision import images, sources
from ocr_core.jobs.documents import start_batch
from ocr_core.names import safe_upload_name
from ocr_core.recognition import vision_wire
from ocr_core.recognition.documents import document_kind, ocr_pages, open_document
from ocr_core.recognition.intake import SUPPORTED, sniff_format
from ocr_core.recognition.vision_messages import (
    DEFAULT_BATCH_SIZE,
    FILE_MIME_TYPES,
    MAX_BATCH_SIZE,
    MAX_SYNC_FILES,
    MAX_SYNC_PAGES,
)
from ocr_core.schema import Operation

# --- files:annotate ---------------------------------------------------------------------


def annotate(ctx: HttpContext, body: dict[str, Any], ints: bool) -> dict[str, Any]:
    """A ``BatchAnnotateFilesResponse``; a bad file is that file's ``error``."""
    requests = images.request_list(body, MAX_SYNC_FILES, "files")
    return {
        "responses": [
            _one_file(ctx, item, f"requests[{i}]", ints) for i, item in enumerate(requests)
        ]
    }


def _input_config(item: Any, where: str) -> dict[str, Any]:
    config = sources.field(item, "inputConfig", dict, where, None)
    if config is None:
        raise errors.InvalidRequest(f"{where}.inputConfig is required")
    mime = sources.field(config, "mimeType", str, f"{where}.inputConfig", "")
    if mime and mime not in FILE_MIME_TYPES:
        raise errors.InvalidRequest(
            f"mimeType {mime!r} is not supported; use one of {', '.join(FILE_MIME_TYPES)}",
            parameter=f"{where}.inputConfig.mimeType",
        )
    return config


def _echo(config: dict[str, Any]) -> dict[str, Any]:
    """The inputConfig as the response repeats it: its valid fields, never the bytes."""
    echo: dict[str, Any] = {}
    uri = (
        (config.get("gcsSource") or {}).get("uri")
        if isinstance(config.get("gcsSource"), dict)
        else None
    )
    if isinstance(uri, str) and uri:
        echo["gcsSource"] = {"uri": uri}
    if isinstance(config.get("mimeType"), str) and config["mimeType"]:
        echo["mimeType"] = config["mimeType"]
    return echo


def _one_file(ctx: HttpContext, item: Any, where: str, ints: bool) -> dict[str, Any]:
    settings = ctx.settings
    limit = settings.max_object_bytes
    echo: dict[str, Any] = {}
    try:
        config = _input_config(item, where)
        echo = _echo(config)
        names = sources.features(item, where)
        refused = sources.unsupported(names)
        if refused is not None:
            raise refused
        lang = sources.lang(ctx.jobs.engines, item, where)
        uri: str | None = None
        if config.get("content"):
            data = sources.decode_content(config["content"], f"{where}.inputConfig.content")
            if len(data) > limit:
                raise errors.FileTooLarge(
                    f"The file is {len(data)} bytes; the limit is {limit}", limit_bytes=limit
                )
        else:
            gcs = sources.source_object(
                settings,
                sources.field(config, "gcsSource", dict, f"{where}.inputConfig", {}).get("uri"),
                f"{where}.inputConfig.gcsSource.uri",
            )
            data, _ = sources.read_object(settings, gcs, limit)
            uri = str(gcs)
        pages = sources.field(item, "pages", list, where, [])
        total, entries = _ocr_file(ctx, data, pages, lang)
        responses = []
        for page in entries:
            response = vision_wire.page_annotation(page, names, ints)
            context: dict[str, Any] = {"pageNumber": page["page_number"]}
            if uri:
                context = {"uri": uri, **context}
            responses.append({**response, "context": context})
        return {"inputConfig": echo, "responses": responses, "totalPages": total}
    except errors.OcrError as exc:
        return {"inputConfig": echo, "error": vision_wire.rpc_status(exc)}


def _page_numbers(requested: list[Any], total: int) -> list[int]:
    """Vision's ``pages``: 1-based, negative from the end, at most 5; the first 5 if none."""
    if len(requested) > MAX_SYNC_PAGES:
        raise errors.InvalidRequest(f"At most {MAX_SYNC_PAGES} pages per file are annotated")
    if not requested:
        return list(range(1, min(total, MAX_SYNC_PAGES) + 1))
    numbers = []
    for raw in requested:
        if not isinstance(raw, int) or isinstance(raw, bool) or raw == 0:
            raise errors.InvalidRequest("pages must be non-zero page numbers")
        number = raw if raw > 0 else total + 1 + raw
        if not 1 <= number <= total:
            raise errors.InvalidRequest(
                f"Page {raw} is out of range: the file has {total} pages", pages=total
            )
        if number not in numbers:
            numbers.append(number)
    return numbers


def _ocr_file(
    ctx: HttpContext, data: bytes, requested: list[Any], lang: str | None
) -> tuple[int, list[dict]]:
    """(total pages, one page entry per annotated page, in the order asked)."""
    extract = ctx.recognizer.extract
    kind = document_kind(data)
    if kind is not None:
        with open_document(data, kind, ctx.settings) as document:
            numbers = _page_numbers(requested, document.page_count)
            by_number: dict[int, dict[str, Any]] = {}
            for first, last in _runs(sorted(numbers)):
                for entry in ocr_pages(ctx.jobs.engines, document, first, last, lang):
                    by_number[entry["page_number"]] = entry
            return document.page_count, [by_number[n] for n in numbers]
    frames = _gif_frames(ctx.settings, data) if _is_gif(data) else None
    if frames is None:  # one image (a single-page TIFF, or any image format)
        numbers = _page_numbers(requested, 1)
        return 1, [_image_page(extract(data, lang=lang), 1)]
    numbers = _page_numbers(requested, len(frames))
    return len(frames), [_image_page(extract(frames[n - 1], lang=lang), n) for n in numbers]


def _runs(numbers: list[int]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for n in numbers:
        if runs and runs[-1][1] == n - 1:
            runs[-1] = (runs[-1][0], n)
        else:
            runs.append((n, n))
    return runs


def _is_gif(data: bytes) -> bool:
    return data[:6] in (b"GIF87a", b"GIF89a")


def _gif_frames(settings: Settings, data: bytes) -> list[bytes] | None:
    """Each frame of an animated GIF as a PNG for the image path (which checks its pixels);
    None for a GIF of one frame. Frames past the sync page limit are never decoded."""
    try:
        with Image.open(io.BytesIO(data), formats=["GIF"]) as im:
            count = int(getattr(im, "n_frames", 1))
            width, height = im.size
            if count <= 1:
                return None
            if width * height > settings.max_image_pixels:
                raise errors.ImageTooLarge(
                    f"The GIF is {width}x{height} pixels; the limit is {settings.max_image_pixels}"
                )
            frames = []
            for index, frame in enumerate(ImageSequence.Iterator(im)):
                if index >= count or index >= settings.max_document_pages:
                    break
                buf = io.BytesIO()
                frame.convert("RGB").save(buf, format="PNG", compress_level=1)
                frames.append(buf.getvalue())
            return frames
    except errors.OcrError:
        raise
    except Exception as exc:
        raise errors.CorruptImage("The GIF file is damaged and cannot be decoded") from exc


def _image_page(document: dict[str, Any], number: int) -> dict[str, Any]:
    page = dict((document.get("pages") or [{}])[0])
    page.update(page_number=number, language=document.get("language"))
    return page


# --- the async batches ------------------------------------------------------------------


def _output_config(settings: Settings, config: Any, where: str) -> dict[str, Any]:
    if not isinstance(config, dict):
        raise errors.InvalidRequest(f"{where} is required", parameter=where)
    dest = sources.field(config, "gcsDestination", dict, where, {})
    gcs = sources.destination(settings, dest.get("uri"), f"{where}.gcsDestination.uri")
    size = sources.field(config, "batchSize", int, where, 0) or DEFAULT_BATCH_SIZE
    if not 1 <= size <= MAX_BATCH_SIZE:
        raise errors.InvalidRequest(
            f"batchSize must be from 1 to {MAX_BATCH_SIZE}; got {size}",
            parameter=f"{where}.batchSize",
        )
    return {"gcsDestination": {"uri": str(gcs)}, "batchSize": size}


def _text_features(item: Any, where: str) -> list[str]:
    names = sources.features(item, where)
    refused = sources.unsupported(names)
    if refused is not None:
        raise refused
    return names


def _stat(ctx: HttpContext, gcs: vision_wire.GcsUri) -> tuple[str, str, int]:
    info = ctx.jobs.bucket(gcs.bucket).stat(gcs.name)
    if info is None:
        raise errors.NotFound(f"No object {str(gcs)!r}", object=gcs.name)
    return gcs.bucket, gcs.name, info.generation


def start_files(ctx: HttpContext, body: dict[str, Any], parent: str) -> Operation:
    """Validate every file, then start one operation over them."""
    settings = ctx.settings
    requests = images.request_list(body, settings.max_operation_objects, "files")
    objects, echo = [], []
    for i, item in enumerate(requests):
        where = f"requests[{i}]"
        config = _input_config(item, where)
        if config.get("content"):
            raise errors.InvalidRequest(
                "asyncBatchAnnotate reads files from gs:// sources, not inline content",
                parameter=f"{where}.inputConfig.content",
            )
        gcs = sources.source_object(
            settings,
            sources.field(config, "gcsSource", dict, f"{where}.inputConfig", {}).get("uri"),
            f"{where}.inputConfig.gcsSource.uri",
        )
        features = _text_features(item, where)
        output = _output_config(settings, item.get("outputConfig"), f"{where}.outputConfig")
        objects.append(_stat(ctx, gcs))
        echo.append({"inputConfig": _echo(config), "features": features, "outputConfig": output})
    return start_batch(
        ctx.jobs, objects, {"vision": {"kind": "files", "parent": parent, "files": echo}}
    )


def start_images(ctx: HttpContext, body: dict[str, Any], parent: str) -> Operation:
    """Inline images are stored in the input bucket first (as ``?mode=async`` does), so the
    OCR function finds every image of the batch where it finds objects."""
    settings = ctx.settings
    requests = images.request_list(body, settings.max_operation_objects, "images")
    output = _output_config(settings, body.get("outputConfig"), "outputConfig")
    checked = []
    for i, item in enumerate(requests):
        where = f"requests[{i}]"
        features = _text_features(item, where)
        data, gcs = sources.image_source(settings, item.get("image"), where)
        if data is not None and len(data) > settings.max_upload_bytes:
            raise errors.FileTooLarge(
                f"{where}.image is {len(data)} bytes; the limit is {settings.max_upload_bytes}",
                limit_bytes=settings.max_upload_bytes,
            )
        if data is not None:
            sniff_format(data)  # not an image: refused now, before anything is stored
        checked.append((data, gcs, features))
    objects, echo = [], []
    inputs = ctx.jobs.input
    for data, gcs, features in checked:
        if data is not None:
            extension, mime = SUPPORTED[sniff_format(data)]
            name = safe_upload_name(None, extension)
            info = inputs.write(name, data, mime, if_generation_match=0)
            objects.append((settings.input_bucket, name, info.generation))
            echo.append({"features": features})
        else:
            assert gcs is not None
            objects.append(_stat(ctx, gcs))
            echo.append({"features": features, "uri": str(gcs)})
    return start_batch(
        ctx.jobs,
        objects,
        {"vision": {"kind": "images", "parent": parent, "outputConfig": output, "images": echo}},
    )
