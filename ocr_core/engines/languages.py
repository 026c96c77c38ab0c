"""Language codes: the API takes Tesseract's (``eng``, ``eng+deu``); results and Cloud Vision
speak BCP-47 (``en``)."""

from __future__ import annotations

TESSERACT_TO_BCP47 = {
    "eng": "en",
    "deu": "de",
    "fra": "fr",
    "spa": "es",
    "ita": "it",
    "por": "pt",
    "nld": "nl",
    "jpn": "ja",
    "chi_sim": "zh-Hans",
    "chi_tra": "zh-Hant",
    "rus": "ru",
}


def bcp47(code: str) -> str:
    """BCP-47 for a Tesseract code; codes we do not know pass through unchanged."""
    return TESSERACT_TO_BCP47.get(code, code)
