"""Cloud Vision's wire messages, as far as this service accepts and answers them, as typed
models (``ocr_core.schema``'s machinery): the ``/v1`` part of the OpenAPI document is
generated from them, and ``vision_wire`` builds its responses with them.

Field names are Vision's JSON names (camelCase). Every message is Google's own
(https://cloud.google.com/vision/docs/reference/rest/v1), cut to the fields served here; a
field a client sends that is not listed is ignored, as Vision ignores unknown fields of a
newer client. Components are named ``vision.<Message>`` (``google.rpc.Status``,
``google.longrunning.Operation``... for the shared ones), so none collides with the
service's own. Enums are accepted as names or integers and answered as names, or integers
with ``$alt=json;enum-encoding=int``; ``required`` marks what this service always sends.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ocr_core.schema import CONFIDENCE, Model, Schema, required, spec

# --- enums --------------------------------------------------------------------------------

# google.rpc.Code
RPC_CODES = {
    "OK": 0,
    "CANCELLED": 1,
    "UNKNOWN": 2,
    "INVALID_ARGUMENT": 3,
    "DEADLINE_EXCEEDED": 4,
    "NOT_FOUND": 5,
    "ALREADY_EXISTS": 6,
    "PERMISSION_DENIED": 7,
    "RESOURCE_EXHAUSTED": 8,
    "FAILED_PRECONDITION": 9,
    "ABORTED": 10,
    "OUT_OF_RANGE": 11,
    "UNIMPLEMENTED": 12,
    "INTERNAL": 13,
    "UNAVAILABLE": 14,
    "UNAUTHENTICATED": 16,
}
# Feature.Type
FEATURE_TYPES = {
    "TYPE_UNSPECIFIED": 0,
    "FACE_DETECTION": 1,
    "LANDMARK_DETECTION": 2,
    "LOGO_DETECTION": 3,
    "LABEL_DETECTION": 4,
    "TEXT_DETECTION": 5,
    "SAFE_SEARCH_DETECTION": 6,
    "IMAGE_PROPERTIES": 7,
    "CROP_HINTS": 9,
    "WEB_DETECTION": 10,
    "DOCUMENT_TEXT_DETECTION": 11,
    "PRODUCT_SEARCH": 12,
    "OBJECT_LOCALIZATION": 19,
}
# TextAnnotation.DetectedBreak.BreakType, Block.BlockType, OperationMetadata.State
BREAKS = {
    "UNKNOWN": 0,
    "SPACE": 1,
    "SURE_SPACE": 2,
    "EOL_SURE_SPACE": 3,
    "HYPHEN": 4,
    "LINE_BREAK": 5,
}
BLOCK_TYPES = {"UNKNOWN": 0, "TEXT": 1, "TABLE": 2, "PICTURE": 3, "RULER": 4, "BARCODE": 5}
STATES = {"STATE_UNSPECIFIED": 0, "CREATED": 1, "RUNNING": 2, "DONE": 3, "CANCELLED": 4}

TYPE_PREFIX = "type.googleapis.com/google.cloud.vision.v1."

# --- Vision's limits ----------------------------------------------------------------------

#: Images in one images:annotate request; files (one) and pages (5) of files:annotate;
#: responses per output file of an async batch (1 to 100, 20 by default).
MAX_IMAGES = 16
MAX_SYNC_FILES, MAX_SYNC_PAGES = 1, 5
DEFAULT_BATCH_SIZE, MAX_BATCH_SIZE = 20, 100
FILE_MIME_TYPES = ("application/pdf", "image/tiff", "image/gif")


def enum(table: dict[str, int]) -> Schema:
    """An enum field's keywords: one of its names, or one of its numbers."""
    return {
        "oneOf": [
            {"type": "string", "enum": list(table)},
            {"type": "integer", "enum": list(table.values())},
        ]
    }


def type_url(message: str) -> Any:
    """The ``@type`` of a message packed in a ``google.protobuf.Any``."""
    url = TYPE_PREFIX + message
    return required(key="@type", const=url)


class VisionModel(Model):
    __slots__ = ()
    NAMESPACE = "vision."


# --- requests -----------------------------------------------------------------------------


@dataclass(kw_only=True, slots=True)
class ImageSource(VisionModel):
    gcsImageUri: str = spec("gs://<input bucket>/<object>")
    imageUri: str = spec("a gs:// URI too: the service fetches no other URL")


@dataclass(kw_only=True, slots=True)
class Image(VisionModel):
    DESCRIPTION = "An image: base64 content, or an object of the input bucket"
    content: str = spec("the image's bytes, base64 (standard or URL-safe)", format="byte")
    source: ImageSource = spec()


@dataclass(kw_only=True, slots=True)
class Feature(VisionModel):
    type: str | int = required(
        "TEXT_DETECTION (5) or DOCUMENT_TEXT_DETECTION (11); any other type is that "
        "image's INVALID_ARGUMENT error",
        **enum(FEATURE_TYPES),
    )


@dataclass(kw_only=True, slots=True)
class ImageContext(VisionModel):
    languageHints: list[str] = spec(
        "BCP-47 codes, e.g. en, de; codes the engine does not read are ignored, as hints"
    )


@dataclass(kw_only=True, slots=True)
class AnnotateImageRequest(VisionModel):
    image: Image = required()
    features: list[Feature] = spec("at least one text feature")
    imageContext: ImageContext = spec()


@dataclass(kw_only=True, slots=True)
class BatchAnnotateImagesRequest(VisionModel):
    requests: list[AnnotateImageRequest] = required(
        f"1 to {MAX_IMAGES} images, each answered on its own",
        minItems=1,
        maxItems=MAX_IMAGES,
    )
    parent: str = spec("projects/{p}[/locations/{l}]; accepted, not needed")


@dataclass(kw_only=True, slots=True)
class GcsSource(VisionModel):
    uri: str = required("gs://<input bucket>/<object>")


@dataclass(kw_only=True, slots=True)
class InputConfig(VisionModel):
    DESCRIPTION = "A PDF, TIFF or GIF: base64 content (files:annotate only) or a gs:// object"
    gcsSource: GcsSource = spec()
    content: str = spec("the file's bytes, base64; never repeated in a response", format="byte")
    mimeType: str = spec(enum=list(FILE_MIME_TYPES))


@dataclass(kw_only=True, slots=True)
class AnnotateFileRequest(VisionModel):
    inputConfig: InputConfig = required()
    features: list[Feature] = spec("at least one text feature")
    imageContext: ImageContext = spec()
    pages: list[int] = spec(
        f"up to {MAX_SYNC_PAGES} page numbers, 1-based, negative from the end; "
        f"the first {MAX_SYNC_PAGES} if none",
        maxItems=MAX_SYNC_PAGES,
    )


@dataclass(kw_only=True, slots=True)
class BatchAnnotateFilesRequest(VisionModel):
    requests: list[AnnotateFileRequest] = required("one file", minItems=1, maxItems=MAX_SYNC_FILES)
    parent: str = spec("projects/{p}[/locations/{l}]; accepted, not needed")


@dataclass(kw_only=True, slots=True)
class GcsDestination(VisionModel):
    uri: str = required(
        "a prefix in the results bucket, under its results prefix; the files are "
        "<uri>output-<first>-to-<last>.json"
    )


@dataclass(kw_only=True, slots=True)
class OutputConfig(VisionModel):
    gcsDestination: GcsDestination = required()
    batchSize: int = spec(
        f"responses per output file: 1 to {MAX_BATCH_SIZE}, {DEFAULT_BATCH_SIZE} when 0 or "
        "absent; an operation started by POST /operations answers 0 (its outputs are result "
        "documents)",
        minimum=0,
        maximum=MAX_BATCH_SIZE,
    )


@dataclass(kw_only=True, slots=True)
class AsyncAnnotateFileRequest(VisionModel):
    inputConfig: InputConfig = required("a gs:// object of the input bucket")
    features: list[Feature] = required()
    outputConfig: OutputConfig = required()


@dataclass(kw_only=True, slots=True)
class AsyncBatchAnnotateFilesRequest(VisionModel):
    requests: list[AsyncAnnotateFileRequest] = required(
        "up to MAX_OPERATION_OBJECTS files", minItems=1
    )
    parent: str = spec("projects/{p}[/locations/{l}]: the operation's name is under it")


@dataclass(kw_only=True, slots=True)
class AsyncBatchAnnotateImagesRequest(VisionModel):
    requests: list[AnnotateImageRequest] = required(
        "up to MAX_OPERATION_OBJECTS images; inline ones are stored in the input bucket first",
        minItems=1,
    )
    outputConfig: OutputConfig = required()
    parent: str = spec("projects/{p}[/locations/{l}]: the operation's name is under it")


# --- annotations --------------------------------------------------------------------------


@dataclass(kw_only=True, slots=True)
class Vertex(VisionModel):
    x: int = required()
    y: int = required()


@dataclass(kw_only=True, slots=True)
class BoundingPoly(VisionModel):
    DESCRIPTION = "Four vertices, clockwise from the top left, in pixels of the upright image"
    vertices: list[Vertex] = required()


@dataclass(kw_only=True, slots=True)
class DetectedLanguage(VisionModel):
    languageCode: str = required(examples=["en", "de"])
    confidence: float = spec(**CONFIDENCE)


@dataclass(kw_only=True, slots=True)
class DetectedBreak(VisionModel):
    type: str | int = required(**enum(BREAKS))


@dataclass(kw_only=True, slots=True)
class TextProperty(VisionModel):
    detectedLanguages: list[DetectedLanguage] = spec()
    detectedBreak: DetectedBreak = spec("on a word's last symbol")


@dataclass(kw_only=True, slots=True)
class Symbol(VisionModel):
    DESCRIPTION = "One character: it shares its word's confidence and an even share of its box"
    property: TextProperty = required()
    boundingBox: BoundingPoly = required()
    text: str = required()
    confidence: float = required(**CONFIDENCE)


@dataclass(kw_only=True, slots=True)
class Word(VisionModel):
    property: TextProperty = required()
    boundingBox: BoundingPoly = required()
    symbols: list[Symbol] = required()
    confidence: float = required(**CONFIDENCE)


@dataclass(kw_only=True, slots=True)
class Paragraph(VisionModel):
    property: TextProperty = required()
    boundingBox: BoundingPoly = required()
    words: list[Word] = required()
    confidence: float = required(**CONFIDENCE)


@dataclass(kw_only=True, slots=True)
class Block(VisionModel):
    DESCRIPTION = "One block of the engine's layout: one paragraph, its lines' words"
    property: TextProperty = required()
    boundingBox: BoundingPoly = required()
    paragraphs: list[Paragraph] = required()
    blockType: str | int = required(**enum(BLOCK_TYPES))
    confidence: float = required(**CONFIDENCE)


@dataclass(kw_only=True, slots=True)
class Page(VisionModel):
    property: TextProperty = required()
    width: int = required(minimum=0)
    height: int = required(minimum=0)
    blocks: list[Block] = required()
    confidence: float = required(**CONFIDENCE)


@dataclass(kw_only=True, slots=True)
class TextAnnotation(VisionModel):
    DESCRIPTION = (
        "The text as pages -> blocks -> paragraphs -> words -> symbols; each line's last "
        "word ends in a break (EOL_SURE_SPACE, LINE_BREAK at the block's end)"
    )
    pages: list[Page] = required()
    text: str = required()


@dataclass(kw_only=True, slots=True)
class EntityAnnotation(VisionModel):
    locale: str = spec("the whole text's language, when known")
    description: str = required()
    boundingPoly: BoundingPoly = required()


@dataclass(kw_only=True, slots=True)
class ImageAnnotationContext(VisionModel):
    uri: str = spec("the file's gs:// URI, when it came from one")
    pageNumber: int = spec(minimum=1)


# --- responses ----------------------------------------------------------------------------


@dataclass(kw_only=True, slots=True)
class Status(Model):
    NAMESPACE = "google.rpc."
    DESCRIPTION = "An error inside a response: a google.rpc.Code and a message"
    code: int = required(enum=list(RPC_CODES.values()))
    message: str = required()


@dataclass(kw_only=True, slots=True)
class AnnotateImageResponse(VisionModel):
    DESCRIPTION = "One image's annotations (none for an image without text), or its error"
    textAnnotations: list[EntityAnnotation] = spec("the whole text first, then one per word")
    fullTextAnnotation: TextAnnotation = spec()
    context: ImageAnnotationContext = spec("pages of files: which file and page")
    error: Status = spec()


@dataclass(kw_only=True, slots=True)
class BatchAnnotateImagesResponse(VisionModel):
    responses: list[AnnotateImageResponse] = required("one per request, in order")


@dataclass(kw_only=True, slots=True)
class AnnotateFileResponse(VisionModel):
    inputConfig: InputConfig = required("the request's, without its content")
    responses: list[AnnotateImageResponse] = spec("one per page annotated")
    totalPages: int = spec(minimum=1)
    error: Status = spec("the file's error; no responses then")


@dataclass(kw_only=True, slots=True)
class BatchAnnotateFilesResponse(VisionModel):
    responses: list[AnnotateFileResponse] = required()


@dataclass(kw_only=True, slots=True)
class OperationMetadata(VisionModel):
    type_url: str = type_url("OperationMetadata")
    state: str | int = required(
        "CREATED, RUNNING, DONE (once every output file is written) or CANCELLED", **enum(STATES)
    )
    createTime: str = required(format="date-time")
    updateTime: str = required(format="date-time")


@dataclass(kw_only=True, slots=True)
class AsyncAnnotateFileResponse(VisionModel):
    outputConfig: OutputConfig = required()


@dataclass(kw_only=True, slots=True)
class AsyncBatchAnnotateFilesResponse(VisionModel):
    type_url: str = type_url("AsyncBatchAnnotateFilesResponse")
    responses: list[AsyncAnnotateFileResponse] = required("one per file, in order")


@dataclass(kw_only=True, slots=True)
class AsyncBatchAnnotateImagesResponse(VisionModel):
    type_url: str = type_url("AsyncBatchAnnotateImagesResponse")
    outputConfig: OutputConfig = required()


@dataclass(kw_only=True, slots=True)
class Operation(Model):
    NAMESPACE = "google.longrunning."
    DESCRIPTION = (
        "An async batch as Vision answers it; the same operations store as POST /operations"
    )
    name: str = required(
        "operations/<id>, under the request's parent when it named one",
        examples=["operations/20261203T120000000000Z-0123456789"],
    )
    metadata: OperationMetadata = required()
    done: bool = required()
    error: Status = spec("why it failed, or CANCELLED")
    response: AsyncBatchAnnotateFilesResponse | AsyncBatchAnnotateImagesResponse = spec(
        "where the output files are"
    )


@dataclass(kw_only=True, slots=True)
class ListOperationsResponse(Model):
    NAMESPACE = "google.longrunning."
    operations: list[Operation] = required("oldest first")
    nextPageToken: str = spec("absent on the last page")


@dataclass(kw_only=True, slots=True)
class Empty(Model):
    NAMESPACE = "google.protobuf."
    DESCRIPTION = "No fields: {}"


@dataclass(kw_only=True, slots=True)
class ErrorStatus(VisionModel):
    code: int = required("the HTTP status")
    message: str = required()
    status: str = required("the google.rpc.Code name", enum=list(RPC_CODES))


@dataclass(kw_only=True, slots=True)
class ErrorBody(VisionModel):
    DESCRIPTION = "Google's error shape, for a request that fails as a whole"
    error: ErrorStatus = required()


#: Every Vision message, as OpenAPI components (``schema.components(MODELS)``).
MODELS: tuple[type[Model], ...] = (
    ImageSource,
    Image,
    Feature,
    ImageContext,
    AnnotateImageRequest,
    BatchAnnotateImagesRequest,
    GcsSource,
    InputConfig,
    AnnotateFileRequest,
    BatchAnnotateFilesRequest,
    GcsDestination,
    OutputConfig,
    AsyncAnnotateFileRequest,
    AsyncBatchAnnotateFilesRequest,
    AsyncBatchAnnotateImagesRequest,
    Vertex,
    BoundingPoly,
    DetectedLanguage,
    DetectedBreak,
    TextProperty,
    Symbol,
    Word,
    Paragraph,
    Block,
    Page,
    TextAnnotation,
    EntityAnnotation,
    ImageAnnotationContext,
    Status,
    AnnotateImageResponse,
    BatchAnnotateImagesResponse,
    AnnotateFileResponse,
    BatchAnnotateFilesResponse,
    OperationMetadata,
    AsyncAnnotateFileResponse,
    AsyncBatchAnnotateFilesResponse,
    AsyncBatchAnnotateImagesResponse,
    Operation,
    ListOperationsResponse,
    Empty,
    ErrorStatus,
    ErrorBody,
)
