"""One exception type per error code, each carrying its HTTP status.

Every error a client can cause is an ``OcrError``; the HTTP layer maps it to a JSON body
in one place (``ocr_core.http.guard``) and the event path turns a permanent one into a
``failed`` result document instead of a retry.
"""

from __future__ import annotations


class OcrError(Exception):
    """Base of every error the service reports to a client."""

    code = "internal_error"
    status = 500
    #: Retrying the same input cannot succeed (bad input, not a passing fault).
    permanent = True

    def __init__(self, message: str, **details: object) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, object]:
        body: dict[str, object] = {"code": self.code, "message": self.message}
        if self.details:
            body["details"] = self.details
        return body


class MissingFile(OcrError):
    code, status = "missing_file", 400


class TooManyFiles(OcrError):
    code, status = "too_many_files", 400


class EmptyFile(OcrError):
    code, status = "empty_file", 400


class NotAnImage(OcrError):
    code, status = "not_an_image", 400


class CorruptImage(OcrError):
    code, status = "corrupt_image", 400


class UnsupportedFormat(OcrError):
    code, status = "unsupported_format", 415


class FileTooLarge(OcrError):
    code, status = "file_too_large", 413


class ImageTooLarge(OcrError):
    """Too many pixels: a decompression bomb or an absurd scan, rejected before decoding."""

    code, status = "image_too_large", 413


class BatchTooLarge(OcrError):
    """The files of one batch add up to more than MAX_BATCH_BYTES."""

    code, status = "batch_too_large", 413


class ImageTooSmall(OcrError):
    code, status = "image_too_small", 400


class InvalidDimensions(OcrError):
    """Sides within the limits but a shape no text fits (a 10,000 x 10 sliver)."""

    code, status = "invalid_dimensions", 400


class Unauthorized(OcrError):
    code, status = "unauthorized", 401


class RequestTimeout(OcrError):
    """The client stopped sending before its Content-Length was reached."""

    code, status = "request_timeout", 408


class RateLimited(OcrError):
    code, status = "rate_limited", 429

    def __init__(self, message: str, retry_after_s: int, **details: object) -> None:
        super().__init__(message, retry_after_s=retry_after_s, **details)
        self.retry_after_s = retry_after_s


class InvalidRequest(OcrError):
    code, status = "invalid_request", 400


class InvalidObjectName(OcrError):
    code, status = "invalid_object_name", 400


class ReservedObjectName(OcrError):
    """The name is one the service writes its own documents under (operations, shards):
    such an object is never processed, so its result would otherwise stay pending."""

    code, status = "reserved_object_name", 400


class ImageTooComplex(OcrError):
    """Within the size and pixel limits, but the decoder's work is not (a progressive JPEG
    with thousands of scans): refused from its markers before it waits for the engine."""

    code, status = "image_too_complex", 422


class NotFound(OcrError):
    code, status = "not_found", 404


class MethodNotAllowed(OcrError):
    code, status = "method_not_allowed", 405


class ResultFailed(OcrError):
    code, status = "ocr_failed", 422


class DocumentTooLarge(OcrError):
    """A page embeds an image whose decoding alone would not fit the function's memory."""

    code, status = "document_too_large", 413


class SourceUnavailable(OcrError):
    """The searchable PDF draws the original pages: it needs the object as it was OCRed."""

    code, status = "source_unavailable", 409


class TooManyPages(OcrError):
    code, status = "too_many_pages", 413


class EncryptedDocument(OcrError):
    code, status = "encrypted_document", 422


class CorruptDocument(OcrError):
    code, status = "corrupt_document", 422


class ObjectReplaced(OcrError):
    """The object was overwritten while its pages were being read: its new version has its
    own operation."""

    code, status = "object_replaced", 409


class Cancelled(OcrError):
    code, status = "cancelled", 409


class OperationFinished(OcrError):
    code, status = "operation_finished", 409


class TooManyObjects(OcrError):
    code, status = "too_many_objects", 400


class EngineRejectedImage(OcrError):
    """The engine refused this image for good (Cloud Vision's INVALID_ARGUMENT): no retry."""

    code, status = "engine_rejected_image", 422


class TransientError(OcrError):
    """Storage or engine trouble that may pass: the event path raises it so the platform retries."""

    code, status, permanent = "temporarily_unavailable", 503, False


class EngineError(TransientError):
    code = "engine_error"


class StorageError(TransientError):
    code = "storage_error"
