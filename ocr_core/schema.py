"""The result document and every response body, as typed models: one schema, everywhere.

Each body is a dataclass; ``to_dict()`` gives the JSON a function answers or stores, and
``components()`` gives OpenAPI's ``components/schemas``: the document cannot describe a
field the model lacks. Mandatory fields fixed by the challenge: ``success``, ``text``,
``confidence`` (0..1), ``processing_time_ms``.

A field left ``UNSET`` is absent from the JSON (``None`` is written as ``null``): a done
image result has ``language: null`` but no ``error``; a failed one has ``error`` but no pages.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal, Self, Union

from ocr_core import __version__
from ocr_core.errors import OcrError

SCHEMA_VERSION = 1

Schema = dict[str, Any]


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False  # absent reads as empty: ``if entry.shards_total:``

    def __reduce__(self) -> str:
        return "UNSET"  # one of it: copies and pickles of a model keep ``is UNSET`` true


#: The default of a field that is left out of the JSON unless given.
UNSET: Any = _Unset()


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _metadata(description: str | None, key: str | None, schema: Schema) -> dict[str, Any]:
    if description:
        schema["description"] = description
    return {"schema": schema} if key is None else {"schema": schema, "key": key}


def spec(
    description: str | None = None, default: Any = UNSET, *, key: str | None = None, **schema: Any
) -> Any:
    """A model field with its JSON Schema keywords (``minimum``, ``examples``...); ``key``
    is its JSON name when that is no Python name (``@type``)."""
    return field(default=default, metadata=_metadata(description, key, schema))


def required(description: str | None = None, *, key: str | None = None, **schema: Any) -> Any:
    return field(metadata=_metadata(description, key, schema))


def json_key(f: dataclasses.Field[Any]) -> str:
    return f.metadata.get("key", f.name)


CONFIDENCE = {"minimum": 0, "maximum": 1}


def internal() -> Any:
    """A field that is stored and served but not part of the documented contract: left out
    of the OpenAPI document."""
    return field(default=UNSET, metadata={"internal": True})


#: Instance state a loaded model keeps beside its fields (see ``Model.from_dict``).
_ORDER, _UNKNOWN = "_json_order", "_json_unknown"


class Model:
    """A response body or a part of one.

    A model read with ``from_dict`` writes back the same JSON, byte for byte: its keys in
    the order they were read (a field set afterwards comes after them, as in the dict it
    replaces), and keys it does not know (written by another version) kept where they were.
    """

    __slots__ = ()  # subclasses may use slots (Vision's symbols are many)

    #: The component's description in the OpenAPI document.
    DESCRIPTION: ClassVar[str | None] = None
    #: Prefixed to the class name to make the component's name (``vision.``): other APIs'
    #: messages cannot collide with ours.
    NAMESPACE: ClassVar[str] = ""

    def to_dict(self) -> dict[str, Any]:
        known = {}
        for name, key in _keys(type(self)):
            value = getattr(self, name)
            if value is not UNSET:
                known[key] = value if type(value) in _SCALARS else _plain(value)
        state = getattr(self, "__dict__", None)  # slotted models are never loaded ones
        order: list[str] | None = state.get(_ORDER) if state else None
        if order is None:
            return known
        unknown: dict[str, Any] = state[_UNKNOWN]  # type: ignore[index]
        body = {
            k: known[k] if k in known else unknown[k] for k in order if k in known or k in unknown
        }
        return body | known

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """The model of stored JSON: nested models and lists of them typed, absent optional
        fields ``UNSET``, other values as stored. Raises ``ValueError`` when a required
        field is missing or a model's place holds something else."""
        if not isinstance(data, Mapping):
            raise ValueError(f"{cls.__name__} is not a JSON object")
        values: dict[str, Any] = {}
        fields = _fields(cls)
        for name, (key, tp, needed) in fields.items():
            if key in data:
                values[name] = _typed(tp, data[key], f"{cls.__name__}.{name}")
            elif needed:
                raise ValueError(f"{cls.__name__} without {key}")
        model = cls(**values)
        for name, (key, _, _) in fields.items():
            if key not in data:
                setattr(model, name, UNSET)  # a default (``created_at``...) the JSON lacked
        keys = {key for key, _, _ in fields.values()}
        model.__dict__[_UNKNOWN] = {k: v for k, v in data.items() if k not in keys}
        model.__dict__[_ORDER] = list(data)
        return model

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)
        state = getattr(self, "__dict__", None)
        order: list[str] | None = state.get(_ORDER) if state else None
        if order is not None:  # loaded: keep the order of keys as a dict would
            if value is UNSET:
                if name in order:
                    order.remove(name)
            elif name not in order:
                order.append(name)


@functools.cache
def _keys(model: type[Model]) -> tuple[tuple[str, str], ...]:
    """(attribute, JSON key) of each field, once per model: ``to_dict`` runs for every
    part of every response."""
    return tuple((f.name, json_key(f)) for f in dataclasses.fields(model))  # type: ignore[arg-type]


_SCALARS = frozenset({str, int, float, bool, type(None)})


@functools.cache
def _fields(model: type[Model]) -> dict[str, tuple[str, Any, bool]]:
    """Each field's JSON key, its type, and whether the JSON must have it."""
    hints = typing.get_type_hints(model)
    return {
        f.name: (
            json_key(f),
            hints[f.name],
            f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING,
        )
        for f in dataclasses.fields(model)  # type: ignore[arg-type]
    }


def _typed(tp: Any, value: Any, where: str) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        options = [a for a in typing.get_args(tp) if a is not type(None)]
        return _typed(options[0], value, where) if len(options) == 1 else value
    if isinstance(tp, type) and issubclass(tp, Model):
        if not isinstance(value, Mapping):
            raise ValueError(f"{where} is not a {tp.__name__}")
        return tp.from_dict(value)
    if origin is list:
        (item,) = typing.get_args(tp)
        if isinstance(item, type) and issubclass(item, Model):
            if not isinstance(value, list):
                raise ValueError(f"{where} is not a list")
            return [_typed(item, v, f"{where}[]") for v in value]
    return value


def _plain(value: Any) -> Any:
    if type(value) in _SCALARS:
        return value
    if isinstance(value, Model):
        return value.to_dict()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


# --- the parts of a result --------------------------------------------------------------


@dataclass
class Box(Model):
    DESCRIPTION = "Axis-aligned box in pixels of the upright image"
    x: int = required(minimum=0)
    y: int = required(minimum=0)
    width: int = required(minimum=0)
    height: int = required(minimum=0)


@dataclass
class Word(Model):
    text: str = required()
    confidence: float = required(**CONFIDENCE)
    box: Box = required()


@dataclass
class Line(Model):
    text: str = required()
    confidence: float = required(**CONFIDENCE)
    box: Box = required()
    words: list[Word] = required()


@dataclass
class Block(Model):
    text: str = required()
    confidence: float = required(**CONFIDENCE)
    box: Box = required()
    lines: list[Line] = required()


@dataclass
class Page(Model):
    DESCRIPTION = (
        "One page. In a document result (PDF, multi-page TIFF) pages carry `page_number`, "
        "`source`, their own text and the `shard` that holds their blocks, which are left "
        "out here."
    )
    width: int = required()
    height: int = required()
    confidence: float = spec(**CONFIDENCE)
    blocks: list[Block] = spec()
    page_number: int = spec(minimum=1)
    source: Literal["ocr", "text_layer"] = spec()
    text: str = spec()
    language: str | None = spec()
    word_count: int = spec(minimum=0)
    processing_time_ms: float = spec(minimum=0)
    shard: str = spec()


@dataclass
class DocumentMetadata(Model):
    format: str | None = spec(examples=["pdf", "tiff"])
    mime_type: str = spec()
    page_count: int | None = spec()
    size_bytes: int | None = spec()
    sha256: str | None = spec()


@dataclass
class ImageMetadata(Model):
    format: str = required(examples=["JPEG", "PNG"])
    mime_type: str = required()
    width: int = required("upright width in pixels")
    height: int = required("upright height in pixels")
    size_bytes: int = required()
    sha256: str = required(pattern="^[0-9a-f]{64}$")
    orientation_applied: int = spec(minimum=1, maximum=8)


@dataclass
class ObjectRef(Model):
    bucket: str = required()
    name: str = required()
    generation: str | None = required()

    @classmethod
    def of(cls, bucket: str, name: str, generation: int | str | None) -> ObjectRef:
        return cls(bucket, name, str(generation) if generation is not None else None)


def object_ref(bucket: str, name: str, generation: int | str | None) -> dict[str, Any]:
    return ObjectRef.of(bucket, name, generation).to_dict()


@dataclass
class ErrorDetail(Model):
    code: str = required("stable, machine-readable")
    message: str = required("for people")
    details: dict[str, Any] = spec()
    request_id: str = spec()

    @classmethod
    def of(cls, error: OcrError) -> ErrorDetail:
        return cls(error.code, error.message, error.details or UNSET)


@dataclass
class Error(Model):
    success: Literal[False] = required()
    error: ErrorDetail = required()


@dataclass
class Engine(Model):
    name: str = spec()
    version: str = spec()


# --- the result document ----------------------------------------------------------------


@dataclass
class ResultDocument(Model):
    DESCRIPTION = (
        "The result of one image: the inline answer and the stored result share this schema. "
        "`status: failed` documents carry `error` instead of pages."
    )
    success: bool = required()
    status: Literal["done", "failed"] = required()
    text: str = required()
    confidence: float = required(**CONFIDENCE)
    processing_time_ms: float = required(minimum=0)
    no_text_found: bool = spec()
    language: str | None = spec()
    word_count: int = spec(minimum=0)
    image: ImageMetadata = spec()
    engine: Engine = spec()
    cached: bool = spec()
    pages: list[Page] = spec()
    object: ObjectRef = spec()
    error: ErrorDetail = spec()
    document: DocumentMetadata = spec()
    shards: list[str] = spec("documents: results-bucket names of the page shards")
    operation: str = spec("the operation that made it")
    created_at: str = spec(format="date-time")  # now, unless given
    schema_version: int = spec(default=SCHEMA_VERSION)
    service_version: str = spec(default=__version__)

    def __post_init__(self) -> None:
        if self.created_at is UNSET:
            self.created_at = utc_now()


def failed_document(
    error: OcrError, *, processing_time_ms: float, obj: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A failed result: the error, no text, no pages."""
    return ResultDocument(
        success=False,
        status="failed",
        error=ErrorDetail.of(error),
        text="",
        confidence=0.0,
        processing_time_ms=round(processing_time_ms, 1),
        object=obj if obj is not None else UNSET,
    ).to_dict()


def error_body(error: OcrError) -> dict[str, Any]:
    return Error(False, ErrorDetail.of(error)).to_dict()


# --- other response bodies --------------------------------------------------------------


@dataclass
class Accepted(Model):
    DESCRIPTION = "Stored in the input bucket for background OCR"
    success: Literal[True] = required()
    status: Literal["pending"] = required()
    object: str = required()
    bucket: str = required()
    generation: str = required()
    results_url: str = required(format="uri")
    image: ImageMetadata = spec()


@dataclass
class Progress(Model):
    pages_done: int = spec()
    pages_total: int | None = spec()


@dataclass
class Pending(Model):
    success: Literal[True] = required()
    status: Literal["pending"] = required()
    object: str = required()
    generation: str = required()
    operation: str = spec("documents: their operation")
    progress: Progress = spec()


State = Literal["queued", "running", "done", "failed", "cancelled"]


@dataclass
class ResultRef(Model):
    bucket: str = required()
    name: str = required()


@dataclass
class DocumentEntry(Model):
    """One object of an operation: its state (``jobs.operations.NEXT`` says which may follow
    which), its pages and where its result is."""

    object: ObjectRef = required()
    state: State = required()
    kind: str | None = spec("pdf, tiff, or an image's format", examples=["pdf", "PNG"])
    page_count: int | None = spec()
    pages_done: int = spec(minimum=0)
    shards_total: int | None = spec()
    shards_done: list[int] = spec("the first page of each page range done")
    result: ResultRef = spec()
    shards: list[str] = spec("results-bucket names of the page shards")
    error: ErrorDetail | None = spec()
    results_url: str = spec()
    sha256: str = spec()
    size_bytes: int = spec()
    started_at: str = spec()


@dataclass
class OperationMetadata(Model):
    state: State = required()
    trigger: str = spec()
    request: dict[str, Any] = spec()
    create_time: str = spec()
    update_time: str = spec()
    end_time: str | None = spec()
    progress: dict[str, Any] = spec()
    documents: list[DocumentEntry] = spec()
    #: Vision operations: the output files written once done (``jobs.vision_operations``).
    vision_output: dict[str, Any] = internal()

    REQUIRED: ClassVar[tuple[str, ...]] = ("documents",)


@dataclass
class Operation(Model):
    DESCRIPTION = "A long-running batch, shaped like google.longrunning.Operation"
    name: str = required(pattern="^operations/")
    done: bool = required()
    metadata: OperationMetadata = required()
    response: dict[str, Any] = spec()
    error: ErrorDetail = spec()


@dataclass
class OperationList(Model):
    operations: list[Operation] = required()
    next_page_token: str = spec()


@dataclass
class BatchItem(ResultDocument):
    DESCRIPTION = "One file of a batch: its result document, or its own error"
    index: int = spec(minimum=0)
    filename: str | None = spec()
    http_status: int = spec("the status this file alone would get from POST /extract-text")

    REQUIRED: ClassVar[tuple[str, ...]] = ("index", "filename", "http_status")


@dataclass
class BatchResponse(Model):
    success: Literal[True] = required()
    count: int = required(minimum=1)
    succeeded: int = required(minimum=0)
    failed: int = required(minimum=0)
    parallelism: int = required("items OCRed at the same time", minimum=1)
    processing_time_ms: float = required("the batch, wall clock")
    results: list[dict[str, Any]] = required(items=BatchItem)
    items_processing_time_ms: float = spec("sum of the items' own times")


@dataclass
class Health(Model):
    status: Literal["ok", "degraded"] = required()
    functions: dict[str, bool] = spec(
        "local gateway only: which function processes are alive",
        additionalProperties={"type": "boolean"},
    )


#: Every model that is an OpenAPI component, by its component name.
MODELS: tuple[type[Model], ...] = (
    Box,
    Word,
    Line,
    Block,
    Page,
    DocumentMetadata,
    ImageMetadata,
    ObjectRef,
    ErrorDetail,
    Error,
    Engine,
    ResultDocument,
    Accepted,
    Progress,
    Pending,
    ResultRef,
    DocumentEntry,
    OperationMetadata,
    Operation,
    OperationList,
    BatchItem,
    BatchResponse,
    Health,
)


# --- JSON Schema from the models ---------------------------------------------------------


def component_name(model: type[Model]) -> str:
    return model.NAMESPACE + model.__name__


def ref(model: type[Model] | str) -> Schema:
    name = model if isinstance(model, str) else component_name(model)
    return {"$ref": f"#/components/schemas/{name}"}


def _type_schema(tp: Any) -> Schema:
    origin = typing.get_origin(tp)
    if isinstance(tp, type) and issubclass(tp, Model):
        return ref(tp)
    if origin is Literal:
        values = list(typing.get_args(tp))
        return {"const": values[0]} if len(values) == 1 else {"enum": values}
    if origin in (Union, types.UnionType):
        options = [a for a in typing.get_args(tp) if a is not type(None)]
        nullable = len(options) < len(typing.get_args(tp))
        inner = (
            _type_schema(options[0])
            if len(options) == 1
            else {"oneOf": [_type_schema(o) for o in options]}
        )
        if not nullable:
            return inner
        if set(inner) == {"type"} and isinstance(inner["type"], str):
            return {"type": [inner["type"], "null"]}
        return {"oneOf": [{"type": "null"}, inner]}
    if origin is list:
        (item,) = typing.get_args(tp)
        return {"type": "array", "items": _type_schema(item)}
    if origin is dict or tp is dict:
        return {"type": "object"}
    simple = {str: "string", int: "integer", float: "number", bool: "boolean"}
    if tp in simple:
        return {"type": simple[tp]}
    if tp is Any:
        return {}
    raise TypeError(f"no JSON Schema for {tp!r}")


def model_schema(model: type[Model]) -> Schema:
    """The JSON Schema of one model: its fields, their types and their keywords."""
    hints = typing.get_type_hints(model)
    properties: Schema = {}
    needed: list[str] = []
    for f in dataclasses.fields(model):  # type: ignore[arg-type]
        if f.metadata.get("internal"):
            continue
        keywords = dict(f.metadata.get("schema", {}))
        items = keywords.pop("items", None)
        prop = _type_schema(hints[f.name])
        if items is not None:
            prop["items"] = ref(items)
        properties[json_key(f)] = {**prop, **keywords}
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            needed.append(json_key(f))
    keys = {f.name: json_key(f) for f in dataclasses.fields(model)}  # type: ignore[arg-type]
    needed += [keys[n] for n in getattr(model, "REQUIRED", ()) if keys[n] not in needed]
    schema: Schema = {"type": "object"}
    description = model.__dict__.get("DESCRIPTION") or model.__doc__
    # dataclass() writes a signature as the docstring of a class that has none
    if description and not description.startswith(model.__name__ + "("):
        schema["description"] = " ".join(description.split())
    if needed:
        schema["required"] = needed
    schema["properties"] = properties
    return schema


def components(models: tuple[type[Model], ...] = MODELS) -> dict[str, Schema]:
    """OpenAPI ``components/schemas``: one entry per model."""
    return {component_name(model): model_schema(model) for model in models}
