"""Reading order from word boxes, for engines that return text boxes in detection order.

A recursive XY-cut: a region is split at its widest empty band, a horizontal band making
a top and a bottom part, a vertical band (a gutter) making a left and a right column. A
gutter only counts as one between two columns of text: both sides several lines high and
many characters wide, and either not sharing rows or both holding running text (lines of
several words with narrow gaps across the side). Labels and amounts of a receipt or the
cells of a table line up row by row (up to a photo's skew) and are short, so they are read
across; columns of an article are read one after the other. Where a page layout's regions
are known (Tesseract's), they decide the order of columns of running text
(``build_blocks_in_regions``). Leaves become lines: words grouped by vertical overlap, left
to right.
"""

from __future__ import annotations

from statistics import median

from .base import Block, Box, Line, Word, mean_confidence

#: A vertical gap must be this many line heights wide to be a column gutter.
GUTTER_LINES = 1.2
#: Each side of a gutter must be at least this many line heights wide (~20 characters).
COLUMN_WIDTH_LINES = 10
#: Share of rows on either side of a gutter that line up with a row on the other side
#: above which the two sides are one table (read across) rather than two columns.
SHARED_ROWS = 0.5
#: A horizontal gap this many line heights high starts a new block (paragraph).
BLOCK_GAP_LINES = 1.2
#: Running text (an article's column, not a table's cells): at least this share of a
#: region's lines hold RUNNING_WORDS words or more, fill RUNNING_FILL of the region's width
#: and have no gap between words wider than RUNNING_GAP_LINES line heights. Chosen on half
#: A of the corpus; 0.5 to 0.7 give the same readings on all 61 images.
RUNNING_SHARE = 0.5
RUNNING_WORDS = 3
RUNNING_FILL = 0.6
RUNNING_GAP_LINES = 1.0
#: Two page-layout regions of running text beside each other over this many line heights
#: make the page one of columns (read region by region).
BESIDE_LINES = 3


def build_blocks_in_regions(words: list[Word], regions: list[Box]) -> list[Block]:
    """Words in any order -> blocks in reading order, with a page layout's regions (in its
    reading order) deciding the order of columns.

    The XY-cut alone cannot tell two columns of text set on one baseline grid from a table
    (rows line up in both), nor a text column beside a sidebar. Where the layout has two
    regions of running text side by side, the page is read region by region in the
    layout's order (words outside every region last, in their own order); else the layout
    is not used, since it cuts tables into columns and receipts into label and amount
    blocks, which are read across.
    """
    words = [w for w in words if w.text]
    if not words or len(regions) < 2:
        return build_blocks(words)
    line_height = median(max(1, w.box.height) for w in words)
    groups: list[list[Word]] = [[] for _ in regions]
    rest: list[Word] = []
    for word in words:
        cx, cy = word.box.x + word.box.width / 2, word.box.y + word.box.height / 2
        for group, region in zip(groups, regions, strict=True):
            if region.x <= cx <= region.x + region.width and region.y <= cy <= _bottom(region):
                group.append(word)
                break
        else:
            rest.append(word)
    running = [
        region
        for group, region in zip(groups, regions, strict=True)
        if group and _running_share(_lines(group), line_height) >= RUNNING_SHARE
    ]
    columns = _stack(running)
    if not any(_beside(a, b, line_height) for a in columns for b in columns if a is not b):
        return build_blocks(words)
    blocks: list[Block] = []
    for group in [*groups, rest]:
        blocks.extend(build_blocks(group))
    return blocks


def _stack(regions: list[Box]) -> list[Box]:
    """Regions merged into columns: regions that share most of the narrower one's width
    are one column (a layout may give each paragraph, or each line, a region of its own)."""
    columns: list[Box] = []
    for region in sorted(regions, key=lambda r: (r.x, r.y)):
        for index, column in enumerate(columns):
            shared = min(column.x + column.width, region.x + region.width) - max(column.x, region.x)
            if shared > 0.5 * min(column.width, region.width):
                columns[index] = _union([column, region])
                break
        else:
            columns.append(region)
    return columns


def _beside(a: Box, b: Box, line_height: float) -> bool:
    """``a`` left of ``b``, the two sharing more than BESIDE_LINES line heights of rows."""
    shared = min(_bottom(a), _bottom(b)) - max(a.y, b.y)
    return a.x + a.width <= b.x and shared > BESIDE_LINES * line_height


def build_blocks(words: list[Word]) -> list[Block]:
    """Words in any order -> blocks of lines in reading order."""
    words = [w for w in words if w.text]
    if not words:
        return []
    line_height = median(max(1, w.box.height) for w in words)
    regions: list[list[Word]] = []
    _xy_cut(words, line_height, regions)
    # The XY-cut ends with a region per line wherever lines are apart at all; a paragraph
    # is the run of lines, region after region, that follow each other down one column
    # with no gap taller than BLOCK_GAP_LINES line heights.
    blocks: list[Block] = []
    current: list[Line] = []
    for line in (line for region in regions for line in _lines(region)):
        if current and not _continues(current[-1], line, line_height):
            blocks.append(_block(current))
            current = []
        current.append(line)
    if current:
        blocks.append(_block(current))
    return blocks


def _continues(above: Line, line: Line, line_height: float) -> bool:
    """Whether ``line`` is the next line of ``above``'s paragraph."""
    gap = line.box.y - _bottom(above.box)
    shared = min(_right(above.box), _right(line.box)) - max(above.box.x, line.box.x)
    return -line_height / 2 <= gap <= BLOCK_GAP_LINES * line_height and shared > 0


def _right(box: Box) -> int:
    return box.x + box.width


def _bottom(box: Box) -> int:
    return box.y + box.height


def _gaps(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Empty intervals between the union of ``spans`` (sorted (start, end) pairs)."""
    gaps: list[tuple[int, int]] = []
    spans = sorted(spans)
    reach = spans[0][1]
    for start, end in spans[1:]:
        if start > reach:
            gaps.append((reach, start))
        reach = max(reach, end)
    return gaps


def _xy_cut(words: list[Word], line_height: float, out: list[list[Word]]) -> None:
    if len(words) > 1:
        x_gaps = _gaps([(w.box.x, w.box.x + w.box.width) for w in words])
        y_gaps = _gaps([(w.box.y, _bottom(w.box)) for w in words])
        cut_y = max(y_gaps, key=lambda g: g[1] - g[0], default=None)
        widest_y = cut_y[1] - cut_y[0] if cut_y else 0
        # Gutters, widest first: the first one with columns of text on both sides wins.
        for x0, x1 in sorted(x_gaps, key=lambda g: g[0] - g[1]):
            if x1 - x0 < GUTTER_LINES * line_height or x1 - x0 <= widest_y:
                break
            left = [w for w in words if w.box.x + w.box.width <= x0]
            right = [w for w in words if w.box.x >= x1]
            if _columns(left, right, line_height):
                _xy_cut(left, line_height, out)
                _xy_cut(right, line_height, out)
                return
        if cut_y is not None:
            middle = (cut_y[0] + cut_y[1]) / 2
            _xy_cut([w for w in words if w.box.y < middle], line_height, out)
            _xy_cut([w for w in words if w.box.y >= middle], line_height, out)
            return
    out.append(words)


def _columns(left: list[Word], right: list[Word], line_height: float) -> bool:
    """Whether the two sides of a gutter are columns of text rather than parts of rows."""
    left_lines, right_lines = _lines(left), _lines(right)
    if min(len(left_lines), len(right_lines)) < 3:
        return False  # a lone label beside a value, or a caption: read across
    for side in (left, right):
        width = max(w.box.x + w.box.width for w in side) - min(w.box.x for w in side)
        if width < COLUMN_WIDTH_LINES * line_height:
            return False
    if _shared_rows(left_lines, right_lines, 1 / 3) < SHARED_ROWS:
        return True
    # Rows line up: a table, or columns of type that happen to share a baseline grid.
    # Columns hold running text: lines of several words with narrow gaps across the side.
    return all(
        _running_share(lines, line_height) >= RUNNING_SHARE for lines in (left_lines, right_lines)
    )


def _shared_rows(left: list[Line], right: list[Line], tolerance: float) -> float:
    """The larger share of either side's lines whose centre lies within ``tolerance`` line
    heights of a line's centre on the other side."""

    def aligned(line: Line, others: list[Line]) -> bool:
        centre = line.box.y + line.box.height / 2
        return any(
            abs(centre - (o.box.y + o.box.height / 2)) < o.box.height * tolerance for o in others
        )

    share_left = sum(aligned(ln, right) for ln in left) / len(left)
    share_right = sum(aligned(ln, left) for ln in right) / len(right)
    return max(share_left, share_right)


def _running_share(lines: list[Line], line_height: float) -> float:
    """Share of ``lines`` that are running text (not cells of a table)."""
    if not lines:
        return 0.0
    left = min(ln.box.x for ln in lines)
    right = max(ln.box.x + ln.box.width for ln in lines)
    width = max(1, right - left)
    running = 0
    for line in lines:
        if len(line.words) < RUNNING_WORDS or line.box.width < RUNNING_FILL * width:
            continue
        gaps = [
            b.box.x - (a.box.x + a.box.width)
            for a, b in zip(line.words, line.words[1:], strict=False)
        ]
        if max(gaps) <= RUNNING_GAP_LINES * line_height:
            running += 1
    return running / len(lines)


def _centre(word: Word) -> float:
    return word.box.y + word.box.height / 2


def _lines(words: list[Word]) -> list[Line]:
    """Group words into lines, top to bottom, each read left to right.

    Words are taken left to right and each joins the line whose last word it continues
    (centres within half a word height), so a line may drift up or down across the page,
    as rows of a skewed photo do.
    """
    rows: list[list[Word]] = []
    for word in sorted(words, key=lambda w: w.box.x):
        best, best_distance = None, 0.0
        for row in rows:
            last = row[-1]
            if last.box.x + last.box.width > word.box.x + word.box.width / 2:
                continue  # that line already reaches past this word
            distance = abs(_centre(word) - _centre(last))
            if distance <= 0.5 * max(word.box.height, last.box.height) and (
                best is None or distance < best_distance
            ):
                best, best_distance = row, distance
        if best is None:
            rows.append([word])
        else:
            best.append(word)
    lines = [
        Line(
            text=" ".join(w.text for w in row),
            confidence=mean_confidence([(w.text, w.confidence) for w in row]),
            box=_union([w.box for w in row]),
            words=row,
        )
        for row in rows
    ]
    lines.sort(key=lambda ln: _centre(ln.words[0]))
    return lines


def _union(boxes: list[Box]) -> Box:
    return Box.from_corners(
        min(b.x for b in boxes),
        min(b.y for b in boxes),
        max(b.x + b.width for b in boxes),
        max(b.y + b.height for b in boxes),
    )


def _block(lines: list[Line]) -> Block:
    pairs = [(w.text, w.confidence) for ln in lines for w in ln.words]
    return Block(
        text="\n".join(ln.text for ln in lines),
        confidence=mean_confidence(pairs),
        box=_union([ln.box for ln in lines]),
        lines=lines,
    )
