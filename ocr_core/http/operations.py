"""The operations routes, served by the upload function (it may write the results bucket
and publish tasks; the results function stays read-only):

* ``POST /operations`` with ``{"objects": [...]}`` or ``{"prefix": "..."}``: start a batch;
* ``GET /operations?page_size=&page_token=``: list, oldest first;
* ``GET /operations/<id>``: one operation;
* ``POST /operations/<id>:cancel``: cancel it.
"""

from __future__ import annotations

import copy
import json
from typing import Any
from urllib.parse import quote

import flask

from ocr_core import errors
from ocr_core.http.context import HttpContext
from ocr_core.http.guard import json_response
from ocr_core.http.routes import MAX_JSON_BODY
from ocr_core.jobs import operations
from ocr_core.jobs.documents import start_batch, write_cancelled_results
from ocr_core.jobs.layout import check_not_reserved, reserved_reason
from ocr_core.names import is_valid_object_name, validate_object_name
from ocr_core.recognition.render import parse_formats
from ocr_core.schema import Operation

MAX_BODY = MAX_JSON_BODY
DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE = 50, 1000


def start(request: flask.Request, ctx: HttpContext) -> flask.Response:
    return _start(request, ctx)


def list_operations(request: flask.Request, ctx: HttpContext) -> flask.Response:
    return _list(request, ctx)


def get(request: flask.Request, ctx: HttpContext, id: str) -> flask.Response:
    op = operations.require(ctx.settings, id)
    return json_response(_render(request, ctx, op), headers=_no_store(op))


def cancel(request: flask.Request, ctx: HttpContext, id: str) -> flask.Response:
    op, stopped = operations.cancel(ctx.settings, operations.validate_id(id))
    write_cancelled_results(ctx.jobs, op, stopped)
    return json_response(_render(request, ctx, op))


def _no_store(op: Operation) -> dict[str, str]:
    return {} if op.done else {"Cache-Control": "no-store", "Retry-After": "2"}


def _render(request: flask.Request, ctx: HttpContext, op: Operation) -> dict[str, Any]:
    """The stored operation plus each document's ``results_url``, as the client's JSON."""
    base = ctx.settings.results_base_url or request.host_url.rstrip("/")
    view = copy.deepcopy(op)
    for doc in view.metadata.documents:
        doc.results_url = f"{base}/results/{quote(doc.object.name)}"
    return view.to_dict()


def _list(request: flask.Request, ctx: HttpContext) -> flask.Response:
    raw_size = request.args.get("page_size", str(DEFAULT_PAGE_SIZE))
    if not raw_size.isdigit() or not 1 <= int(raw_size) <= MAX_PAGE_SIZE:
        raise errors.InvalidRequest(
            f"page_size must be a number from 1 to {MAX_PAGE_SIZE}", parameter="page_size"
        )
    ops, token = operations.list_page(
        ctx.settings, int(raw_size), request.args.get("page_token") or None
    )
    body: dict[str, Any] = {"operations": [_render(request, ctx, op) for op in ops]}
    if token:
        body["next_page_token"] = token
    return json_response(body, headers={"Cache-Control": "no-store"})


def _start(request: flask.Request, ctx: HttpContext) -> flask.Response:
    spec = _json_body(request)
    objects, prefix = spec.get("objects"), spec.get("prefix")
    if (objects is None) == (prefix is None):
        raise errors.InvalidRequest(
            'Send either {"objects": ["name", ...]} or {"prefix": "folder/"}'
        )
    settings = ctx.settings
    source = ctx.jobs.input
    limit = settings.max_operation_objects
    if objects is not None:
        if (
            not isinstance(objects, list)
            or not objects
            or not all(isinstance(n, str) for n in objects)
        ):
            raise errors.InvalidRequest("objects must be a non-empty list of object names")
        names = list(
            dict.fromkeys(check_not_reserved(validate_object_name(n), settings) for n in objects)
        )
        if len(names) > limit:
            raise _too_many(len(names), limit)
        found, missing = [], []
        for name in names:
            info = source.stat(name)
            if info is None:
                missing.append(name)
            else:
                found.append((settings.input_bucket, name, info.generation))
        if missing:
            raise errors.NotFound(
                f"{len(missing)} object(s) not found in the input bucket", missing=missing[:20]
            )
        request_echo: dict[str, Any] = {"objects": names}
    else:
        if not isinstance(prefix, str) or len(prefix.encode()) > 1024:
            raise errors.InvalidRequest("prefix must be a string of at most 1024 bytes")
        if prefix:
            validate_object_name(prefix.rstrip("/") or "x")
        found = []
        for info in source.list(prefix):
            if (
                info.name.endswith("/")
                or not is_valid_object_name(info.name)
                or reserved_reason(info.name, settings)
            ):
                continue  # a folder placeholder, or an object no result can be stored for
            if len(found) == limit:
                raise _too_many(limit + 1, limit, prefix=prefix)
            found.append((settings.input_bucket, info.name, info.generation))
        if not found:
            raise errors.NotFound(f"No object under the prefix {prefix!r}", prefix=prefix)
        request_echo = {"prefix": prefix}
    if spec.get("output_formats") is not None:  # files beside each result: docs/formats.md
        request_echo["output_formats"] = list(parse_formats(spec["output_formats"]))
    op = start_batch(ctx.jobs, found, request_echo)
    body = _render(request, ctx, op)
    location = f"{request.host_url.rstrip('/')}/{op.name}"
    return json_response(body, 202, {"Location": location, "Cache-Control": "no-store"})


def _too_many(count: int, limit: int, **details: object) -> errors.OcrError:
    what = f"more than {limit}" if "prefix" in details else str(count)
    return errors.TooManyObjects(
        f"The batch has {what} objects; the limit is {limit} per operation (MAX_OPERATION_OBJECTS)",
        limit=limit,
        **details,
    )


def _json_body(request: flask.Request) -> dict[str, Any]:
    if request.mimetype != "application/json":
        raise errors.InvalidRequest(
            "Send a JSON body with Content-Type: application/json", parameter="body"
        )
    too_large = errors.FileTooLarge(
        f"The request body is over {MAX_BODY} bytes", limit_bytes=MAX_BODY
    )
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise too_large
    raw = request.stream.read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        raise too_large
    try:
        body = json.loads(raw or b"null")
    except RecursionError as exc:  # [[[[... nested past the parser's depth
        raise errors.InvalidRequest("The request body is nested too deeply") from exc
    except ValueError as exc:
        raise errors.InvalidRequest("The request body is not valid JSON") from exc
    if not isinstance(body, dict):
        raise errors.InvalidRequest("The request body must be a JSON object")
    return body
