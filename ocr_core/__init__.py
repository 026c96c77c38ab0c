"""Core of the OCR pipeline: everything the three Cloud Run functions share.

Nothing here imports a cloud SDK at module load; adapters import theirs lazily so
that the upload and results functions start fast.
"""

from __future__ import annotations

__version__ = "0.1.0"
