"""Reading request bodies: multipart forms parsed strictly, with bounded waits and sizes.

A stalled body is a 408, one that ends before its Content-Length or a malformed form a
400, a file over its limit a 413 -- all raised as ``OcrError`` for ``guard`` to answer.
"""

from __future__ import annotations

import contextlib
from typing import Any

import flask
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.exceptions import ClientDisconnected
from werkzeug.formparser import FormDataParser

from ocr_core import errors
from ocr_core.config import Settings
from ocr_core.http import routes

MULTIPART_OVERHEAD = routes.MULTIPART_OVERHEAD
MAX_FORM_PARTS = 16


class StrictFormDataParser(FormDataParser):
    """Werkzeug's parser, but a malformed or truncated form raises instead of parsing as
    empty (which would surface as a misleading ``missing_file``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["silent"] = False
        super().__init__(*args, **kwargs)


def bound_body_reads(request: flask.Request, timeout_s: float) -> None:
    """Make a stalled body (a Content-Length larger than what is sent) time out.

    gunicorn's threads read sockets with no timeout at all, so a client that announces
    more bytes than it sends would hold a thread forever. The server's socket for this
    request is in the WSGI environ; a timeout on it makes the next read raise.
    """
    sock = request.environ.get("gunicorn.socket") or request.environ.get("werkzeug.socket")
    if sock is not None and timeout_s > 0:
        with contextlib.suppress(OSError):
            sock.settimeout(timeout_s)


def parse_form(request: flask.Request, settings: Settings) -> MultiDict[str, FileStorage]:
    """The request's files, parsed strictly and with a bounded wait for a stalled body.

    Set ``request.max_content_length`` first. A stalled body is a 408, one that ends
    before its Content-Length or a malformed form a 400; RequestEntityTooLarge passes
    through for the caller to word.
    """
    request.form_data_parser_class = StrictFormDataParser
    bound_body_reads(request, settings.body_read_timeout_s)
    try:
        return request.files  # parses the body; RequestEntityTooLarge past the limit
    except (TimeoutError, ClientDisconnected) as exc:
        # werkzeug turns our socket timeout into ClientDisconnected: look at its cause.
        if isinstance(exc, TimeoutError) or isinstance(exc.__context__, TimeoutError):
            raise errors.RequestTimeout(
                f"The body stalled for {settings.body_read_timeout_s:g} s before its "
                f"Content-Length ({request.content_length} bytes) was reached",
                content_length=request.content_length,
            ) from exc
        raise errors.InvalidRequest(
            f"The body ended before its Content-Length ({request.content_length} bytes)",
            content_length=request.content_length,
        ) from exc
    except UnicodeDecodeError as exc:
        raise errors.InvalidRequest(
            "The multipart part headers (such as the file name) are not valid UTF-8"
        ) from exc
    except ValueError as exc:
        # Also what a Content-Length smaller than the body gives: the form ends mid-way.
        raise errors.InvalidRequest(
            f"The multipart body is malformed or ends early: {exc}"[:300]
        ) from exc


def files_in(files: MultiDict[str, FileStorage], field: str) -> list[FileStorage]:
    """The files sent in ``field``; MissingFile, naming the fields that were sent, if none."""
    uploads = files.getlist(field)
    if not uploads:
        others = sorted(set(files.keys()))
        hint = f"; found file field(s) {', '.join(map(repr, others))}" if others else ""
        raise errors.MissingFile(f"No file in the multipart field {field!r}{hint}", field=field)
    return uploads


def read_upload(
    request: flask.Request, settings: Settings, field: str = "image"
) -> tuple[bytes, str | None]:
    """Bytes and client file name of the one file in ``field``, limits enforced while reading."""
    limit = settings.max_upload_bytes
    if request.content_length is not None and request.content_length > limit + MULTIPART_OVERHEAD:
        raise errors.FileTooLarge(
            f"The request body is {request.content_length} bytes; the limit is {limit} bytes",
            limit_bytes=limit,
        )
    if request.mimetype != "multipart/form-data":
        raise errors.InvalidRequest(
            f"Send the image as multipart/form-data in a field named {field!r} "
            f'(curl -F "{field}=@photo.jpg"); got Content-Type {request.mimetype or "none"!r}'
        )
    if request.content_length == 0:
        raise errors.MissingFile(
            f"The request body is empty; send the image in the multipart field {field!r}",
            field=field,
        )
    request.max_content_length = limit + MULTIPART_OVERHEAD
    request.max_form_parts = MAX_FORM_PARTS
    files = parse_form(request, settings)
    uploads = files_in(files, field)
    if len(uploads) > 1:
        raise errors.TooManyFiles(f"Send one file in {field!r}; got {len(uploads)}", field=field)
    upload = uploads[0]
    data = upload.stream.read(limit + 1)
    if len(data) > limit:
        raise errors.FileTooLarge(
            f"The file is larger than the {limit}-byte limit", limit_bytes=limit
        )
    if not data:
        raise errors.EmptyFile(f"The file in {field!r} is empty", field=field)
    return data, upload.filename
