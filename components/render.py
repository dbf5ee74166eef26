"""Plain-text and Markdown tables: the only place output is laid out.

Plain-text tables fit a width when given one: the widest columns wrap (at spaces, then commas, then anywhere),
so no line is wider than the terminal. Markdown tables are one line per row (a renderer lays them out);
their cells are escaped so that no value can end a cell, start a heading or break the table.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from collections.abc import Sequence

MIN_COLUMN = 6  # a wrapped column keeps at least this many characters
MAX_TOKEN = 24  # a longer unbreakable piece (a URN) may be cut
GAP = "  "
DEFAULT_WIDTH = 80  # when neither COLUMNS nor a terminal says otherwise


def terminal_width() -> int:
    """COLUMNS, else the width of the terminal on stdout, stderr or stdin (so `plan | less` still fits), else 80."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    for stream in (sys.stdout, sys.stderr, sys.stdin):
        try:
            return os.get_terminal_size(stream.fileno()).columns or DEFAULT_WIDTH
        except (AttributeError, OSError, ValueError):
            continue
    return shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns


def markdown_cell(text: str) -> str:
    """Text for one Markdown table cell: pipes escaped, lines joined, HTML and emphasis characters neutral."""
    out = text.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;").replace("\r", "")
    return " ".join(out.split("\n"))


def table(headers: Sequence[str], rows: Sequence[Sequence[object]], fmt: str = "table", *, width: int | None = None) -> str:
    """``rows`` under ``headers``; ``width``: wrap plain-text cells so that no line is wider (None: never wrap)."""
    cells = [[str(c) for c in row] for row in rows]
    if fmt == "markdown":
        lines = ["| " + " | ".join(markdown_cell(h) for h in headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
        lines += ["| " + " | ".join(markdown_cell(c) for c in row) + " |" for row in cells]
        return "\n".join(lines)
    cells = [[" ".join(c.split("\n")) for c in row] for row in cells]
    natural = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    if width is None:
        widths: list[int] | None = natural
    else:
        tokens = [max(len(t.rstrip()) for c in [h, *(r[i] for r in cells)] for t in _BREAK.split(c) or [""]) for i, h in enumerate(headers)]
        widths = _fit(natural, tokens, width)
    if widths is None:  # too many columns for the width: one block per row instead
        assert width is not None
        return _records(headers, cells, width)

    def line(values: Sequence[str]) -> str:
        return GAP.join(v.ljust(w) for v, w in zip(values, widths, strict=True)).rstrip()

    out = [line(list(headers)), line(["-" * w for w in widths])]
    for row in cells:
        wrapped = [_wrap(c, w) for c, w in zip(row, widths, strict=True)]
        for i in range(max(len(w) for w in wrapped)):
            out.append(line([w[i] if i < len(w) else "" for w in wrapped]))
    return "\n".join(out)


def _fit(natural: list[int], tokens: list[int], width: int) -> list[int] | None:
    """Column widths that fit ``width``: the widest column gives up a character at a time, down to its longest
    unbreakable piece (``tokens``, so that no word is cut). None: the columns cannot fit so."""
    room = width - len(GAP) * (len(natural) - 1)
    widths = list(natural)
    floors = [max(MIN_COLUMN, min(t, MAX_TOKEN)) for t in tokens]
    while sum(widths) > room:
        candidates = [i for i in range(len(widths)) if widths[i] > floors[i]]
        if not candidates:
            return None
        widest = max(candidates, key=lambda i: widths[i] - floors[i])
        widths[widest] -= 1
    return widths


def _records(headers: Sequence[str], cells: list[list[str]], width: int) -> str:
    """Each row as a block: its first cell, then one indented ``header: value`` line per other column."""
    out: list[str] = []
    for row in cells:
        out += _wrap(row[0], width)
        for h, value in zip(headers[1:], row[1:], strict=True):
            if value:
                lines = _wrap(f"{h}: {value}", width - 4)
                out += ["    " + lines[0], *("      " + x for x in lines[1:])]
    return "\n".join(out)


# Break after a space, a pipe ("4240|6443"), a comma, or a slash before a letter ("/infra/domains/", not "10.0.0.0/24").
_BREAK = re.compile(r"(?<= )|(?<=\|)|(?<=,)|(?<=/)(?=[A-Za-z])")


def _wrap(text: str, width: int) -> list[str]:
    """``text`` in lines of at most ``width``, broken after spaces, pipes or commas; a longer piece is cut."""
    if len(text) <= width:
        return [text]
    lines: list[str] = []
    current = ""
    for piece in (p for p in _BREAK.split(text) if p):
        if len(current) + len(piece.rstrip()) > width and current.strip():
            lines.append(current.rstrip())
            current = ""
        current += piece
        while len(current.rstrip()) > width:
            lines.append(current[:width])
            current = current[width:]
    if current.strip():
        lines.append(current.rstrip())
    return lines


def short_type(token: str) -> str:
    """``aws:ec2/securityGroupRule:SecurityGroupRule`` -> ``aws.ec2.SecurityGroupRule``; dynamic -> ``nsx.Rule (dynamic)``."""
    parts = token.split(":")
    if len(parts) != 3:
        return token
    pkg, mod, name = parts
    if pkg == "pulumi-python" and mod.startswith("dynamic"):
        sub = mod.partition("/")[2]
        return f"{sub + '.' if sub else ''}{name} (dynamic)"
    mod = mod.split("/")[0]
    return f"{pkg}.{name}" if mod == "index" else f"{pkg}.{mod}.{name}"


def paragraph(text: str, width: int | None) -> str:
    """Prose, wrapped to ``width`` (None: one line)."""
    return text if width is None else "\n".join(_wrap(text, width))


def heading(text: str, fmt: str = "table", level: int = 2) -> str:
    if fmt == "markdown":
        return f"{'#' * level} {text}"
    return f"{text}\n{'=' * len(text)}" if level <= 2 else text
