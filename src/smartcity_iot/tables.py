"""Plain-text tables for the command line: a header row and columns as wide as a
terminal draws them. A Chinese character takes two columns, so padding by
len() would push every later column of a row with a Chinese name out of line."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from wcwidth import wcswidth, wcwidth

GAP = "  "


def display_width(text: str) -> int:
    """Columns `text` takes in a terminal (East Asian wide characters count two)."""
    width = wcswidth(text)
    if width >= 0:
        return width
    # a control character makes wcswidth give up (-1): count the printable ones
    return sum(max(wcwidth(ch), 0) for ch in text)


def _cell(value: object) -> str:
    """One line per row: a line break inside a cell (a rejected payload's detail) is a space."""
    return "-" if value is None else " ".join(str(value).splitlines())


def _pad(text: str, width: int, right: bool) -> str:
    fill = " " * (width - display_width(text))
    return fill + text if right else text + fill


def render(
    headers: Sequence[str], rows: Iterable[Sequence[object]], right: Sequence[int] = ()
) -> list[str]:
    """The table's lines, header first. Cells are str()-ed, None shows as "-";
    the columns whose indexes are in `right` (counts, sizes) are right-aligned.
    The last column is not padded, so lines carry no trailing blanks."""
    cells = [[_cell(c) for c in row] for row in rows]
    widths = [display_width(h) for h in headers]
    for row in cells:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], display_width(cell))
    last = len(headers) - 1
    lines = []
    for row in [list(headers), *cells]:
        parts = [
            _pad(cell, 0 if i == last and i not in right else widths[i], i in right)
            for i, cell in enumerate(row)
        ]
        lines.append(GAP.join(parts).rstrip())
    return lines


def print_table(
    headers: Sequence[str], rows: Iterable[Sequence[object]], right: Sequence[int] = ()
) -> None:
    for line in render(headers, rows, right):
        print(line)
