"""The corpus split in two halves by source and category, for choosing and checking rules.

Images are grouped by (source repository, category) and each group, sorted by file name,
is dealt out alternately to half A (tuning: every threshold is chosen on it) and half B
(held out: reported, never tuned on). A group of odd size hands its extra image to the
half that is smaller at that point, so the halves stay within one image of each other and
every source and category sits in both halves wherever it has two images or more.
Deterministic: it depends on MANIFEST.tsv alone, never on the order of its rows.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

TUNING, HELD_OUT = "A", "B"


def split(manifest: Path) -> dict[str, str]:
    """File name -> "A" (tuning half) or "B" (held-out half)."""
    with manifest.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    for row in rows:
        source = row["source_repo"].split("@", 1)[0]
        groups[(source, row["category"])].append(row["file"])
    half: dict[str, str] = {}
    sizes = {TUNING: 0, HELD_OUT: 0}
    for key in sorted(groups):
        files = sorted(groups[key])
        first = TUNING if sizes[TUNING] <= sizes[HELD_OUT] else HELD_OUT
        second = HELD_OUT if first == TUNING else TUNING
        for index, name in enumerate(files):
            chosen = first if index % 2 == 0 else second
            half[name] = chosen
            sizes[chosen] += 1
    return half
