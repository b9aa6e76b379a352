"""What commands print: JSON for programs, tables for people. Data on stdout, the rest on stderr.

Nothing from the data can drive the terminal. Tables show any control character or
bidirectional formatting character (see events/codes.py) as a visible `<U+001B>`, even
from a log written by an older version or by hand, and never read the data as rich
markup. JSON escapes the same characters as `\\u001b`, which means the same to a JSON
reader.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Sequence
from typing import Any

import orjson

from events.codes import visible

#: The UTF-8 bytes of the characters orjson leaves unescaped but a terminal may act on:
#: DEL, the C1 controls, the line and paragraph separators and the bidirectional
#: formatting characters. (orjson escapes the C0 controls itself.)
_RAW_IN_JSON = re.compile(
    rb"\x7f|\xc2[\x80-\x9f]|\xd8\x9c|\xe2\x80[\x8e\x8f\xa8-\xae]|\xe2\x81[\xa6-\xa9]"
)


def _escaped(match: re.Match) -> bytes:
    return b"\\u%04x" % ord(match.group().decode())


def safe_json(text: bytes) -> bytes:
    """orjson output with those characters escaped too: the same JSON, safe to print."""
    if _RAW_IN_JSON.search(text) is None:
        return text
    return _RAW_IN_JSON.sub(_escaped, text)


def emit_json(data: Any) -> None:
    """Pretty JSON on stdout and nothing else."""
    sys.stdout.buffer.write(safe_json(orjson.dumps(data, option=orjson.OPT_INDENT_2)) + b"\n")
    sys.stdout.flush()


def emit_json_array(items: Iterable[Any]) -> None:
    """A JSON array on stdout, item by item: the same text as `emit_json(list(items))`
    without holding every item in memory."""
    out = sys.stdout.buffer
    first = True
    for item in items:
        text = safe_json(orjson.dumps(item, option=orjson.OPT_INDENT_2)).replace(b"\n", b"\n  ")
        out.write((b"[\n  " if first else b",\n  ") + text)
        first = False
    out.write(b"[]\n" if first else b"\n]\n")
    out.flush()


def _cell(value: Any) -> str:
    """A table cell: one line, every character a terminal could act on made visible."""
    if value is None:
        return ""
    return visible(str(value).replace("\t", " ").replace("\n", " "))


#: Columns of prose, which wrap at words and keep a readable width (`schedule`: the status's
#: schedule in words, "planned 2026-09-16/17, rescheduled once, from 2025").
PROSE_COLUMNS = frozenset({"summary", "name", "schedule"})


def _number(value: Any) -> str | None:
    """A number as a person reads it on a terminal: 196,000,000 (not 196000000.0), 1,234.5."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    return f"{int(value):,}"


def emit_table(columns: Sequence[str], rows: Iterable[Sequence[Any]], *, title: str | None = None) -> None:
    """A table on a terminal; tab-separated lines with a header when piped.

    On a terminal, numbers get thousands separators, and no value but prose is ever
    wrapped or cut: ids stay whole so they can be copied. A table too wide for the
    terminal is shown one record at a time instead (as `psql -x` does). Piped lines
    keep numbers as they are, for `sort -n` and friends.
    """
    header = [_cell(column) for column in columns]
    if not sys.stdout.isatty():
        print("\t".join(header))
        for row in rows:
            print("\t".join(_cell(cell) for cell in row))
        return
    from rich.console import Console

    rows = list(rows)
    numeric = [bool(rows) and all(_number(row[i]) is not None or row[i] is None for row in rows) for i in range(len(header))]
    cells = [[_number(cell) if numeric[i] and cell is not None else _cell(cell) for i, cell in enumerate(row)] for row in rows]
    console = Console()
    widths = [max([min(len(name), HEADER_FOLD)] + [len(row[i]) for row in cells]) for i, name in enumerate(header)]
    # columns two spaces apart, one at either edge
    needed = sum(PROSE_MIN if name in PROSE_COLUMNS else widths[i] for i, name in enumerate(header)) + 2 * len(header)
    if needed <= console.width:
        _as_table(console, header, cells, widths, numeric, title)
    else:
        _as_records(console, header, cells, title)


#: Prose columns keep at least this width; a header wraps rather than widen its column past this.
PROSE_MIN, HEADER_FOLD = 24, 4


def _as_table(console, header, cells, widths, numeric, title) -> None:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    # Text, not str: rich would read "[link=...]" or ":emoji:" in a str as markup.
    table = Table(title=Text(_cell(title)) if title else None, box=box.SIMPLE_HEAD, header_style="bold",
                  pad_edge=False, collapse_padding=True)
    for i, column in enumerate(header):
        if column in PROSE_COLUMNS:
            table.add_column(Text(column), min_width=PROSE_MIN, ratio=1)
        else:
            table.add_column(Text(column), width=widths[i], overflow="fold", justify="right" if numeric[i] else "left")
    for row in cells:
        table.add_row(*(Text(cell) for cell in row))
    console.print(table)


def _as_records(console, header, cells, title) -> None:
    """One block per row, a line per column: for tables wider than the terminal."""
    import textwrap

    from rich.text import Text

    label = max(len(name) for name in header)
    room = max(20, console.width - label - 2)
    if title:
        console.print(Text(_cell(title), style="bold"))
    for number, row in enumerate(cells):
        console.print()
        for name, cell in zip(header, row):
            lines = textwrap.wrap(cell, room, break_long_words=False, break_on_hyphens=False) or [""]
            for at, line in enumerate(lines):
                console.print(Text(f"{name if at == 0 else '':<{label}}  {line}"), soft_wrap=True)


def say(message: str) -> None:
    """A note for the person at the terminal, never mixed into data."""
    print(visible(message), file=sys.stderr)
