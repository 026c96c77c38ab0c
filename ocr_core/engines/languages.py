"""Language codes: the API takes Tesseract's (``eng``, ``eng+deu``); results and Cloud Vision
speak BCP-47 (``en``). Which local engine reads which language lives here too."""

from __future__ import annotations

TESSERACT_TO_BCP47 = {
    "eng": "en",
    "deu": "de",
    "fra": "fr",
    "spa": "es",
    "ita": "it",
    "por": "pt",
    "pol": "pl",
    "nld": "nl",
    "cat": "ca",
    "ces": "cs",
    "dan": "da",
    "est": "et",
    "eus": "eu",
    "fin": "fi",
    "glg": "gl",
    "hrv": "hr",
    "hun": "hu",
    "ind": "id",
    "isl": "is",
    "gle": "ga",
    "lat": "la",
    "lav": "lv",
    "lit": "lt",
    "ltz": "lb",
    "msa": "ms",
    "mlt": "mt",
    "nor": "no",
    "oci": "oc",
    "ron": "ro",
    "slk": "sk",
    "slv": "sl",
    "sqi": "sq",
    "swe": "sv",
    "swa": "sw",
    "tgl": "tl",
    "tur": "tr",
    "uzb": "uz",
    "vie": "vi",
    "afr": "af",
    "aze": "az",
    "bos": "bs",
    "cym": "cy",
    "srp_latn": "sr-Latn",
    "jpn": "ja",
    "chi_sim": "zh-Hans",
    "chi_tra": "zh-Hant",
    "rus": "ru",
}

#: Languages (Tesseract's codes) that RapidOCR 3.10's one PP-OCRv6 recogniser reads: the
#: Latin-script languages of its model card, Chinese and Japanese (rapidocr's
#: ``default_models.yaml``, ``ppocrv6_langs``). No Cyrillic, Greek or Arabic.
RAPIDOCR_LANGUAGES = tuple(code for code in TESSERACT_TO_BCP47 if code != "rus")


def bcp47(code: str) -> str:
    """BCP-47 for a Tesseract code; codes we do not know pass through unchanged."""
    return TESSERACT_TO_BCP47.get(code, code)
