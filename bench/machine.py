"""What machine a benchmark ran on, for the line every report starts with."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def describe(cores: int | None = None) -> str:
    return f"{cores or os.cpu_count()} cores ({cpu_model()}), Python {platform.python_version()}"
