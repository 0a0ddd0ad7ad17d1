"""The box table of ``model.summary()``, drawn as ``rich`` draws Keras 3's (heavy header,
``show_lines``): column widths shrunk evenly to fit, words wrapped, over-long words cut
with an ellipsis."""

from __future__ import annotations

import re

_WORD = re.compile(r"\s*\S+\s*")


def _ratio_reduce(total: int, values: list[int]) -> list[int]:
    """Takes ``total`` characters off the columns as evenly as rich does (rounding as it goes)."""
    out, remaining, ratio = [], total, len(values)
    for v in values:
        cut = min(v, round(remaining / ratio))
        out.append(v - cut)
        remaining -= cut
        ratio -= 1
    return out


def fit_widths(widths: list[int], line_length: int) -> list[int]:
    """Inner widths (padding included, borders excluded) of columns asked to be ``widths``
    wide in a table ``line_length`` characters wide."""
    padded = [w + 2 for w in widths]
    room = line_length - (len(widths) + 1)
    if sum(padded) > room:
        padded = _ratio_reduce(sum(padded) - room, padded)
    return padded


def wrap(text: str, width: int) -> list[str]:
    """Greedy word wrap at ``width``; a word longer than a line is cut with ``…``."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for word in _WORD.findall(paragraph) or [""]:
            if line and len(line) + len(word.rstrip()) > width:
                lines.append(line)
                line = ""
            line += word
        lines.append(line)
    out = []
    for line in lines:
        line = line.rstrip()
        out.append(line if len(line) <= width else line[:max(width - 1, 0)] + "…")
    return out


def _justify(text: str, width: int, how: str) -> str:
    if how == "right":
        return text.rjust(width)
    if how == "center":
        left = (width - len(text)) // 2
        return " " * left + text + " " * (width - len(text) - left)
    return text.ljust(width)


def _row_lines(cells: list[str], align: list[str], inner: list[int], bar: str) -> list[str]:
    wrapped = [wrap(c, w - 2) for c, w in zip(cells, inner)]
    height = max(len(w) for w in wrapped)
    lines = []
    for i in range(height):
        parts = [" " + _justify(w[i] if i < len(w) else "", n - 2, a) + " "
                 for w, n, a in zip(wrapped, inner, align)]
        lines.append(bar + bar.join(parts) + bar)
    return lines


def draw_table(header: list[str], align: list[str], widths: list[int], rows: list[list[str]],
               line_length: int) -> list[str]:
    """The table's lines: header in a heavy box, then the rows separated by light rules."""
    inner = fit_widths(widths, line_length)

    def rule(left: str, fill: str, mid: str, right: str) -> str:
        return left + mid.join(fill * n for n in inner) + right

    lines = [rule("┏", "━", "┳", "┓")]
    lines += _row_lines(header, align, inner, "┃")
    lines.append(rule("┡", "━", "╇", "┩"))
    for i, row in enumerate(rows):
        if i:
            lines.append(rule("├", "─", "┼", "┤"))
        lines += _row_lines(row, align, inner, "│")
    lines.append(rule("└", "─", "┴", "┘"))
    return lines
