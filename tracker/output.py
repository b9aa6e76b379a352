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


def emit_table(columns: Sequence[str], rows: Iterable[Sequence[Any]], *, title: str | None = None) -> None:
    """A table on a terminal; tab-separated lines with a header when piped."""
    header = [_cell(column) for column in columns]
    rows = [[_cell(cell) for cell in row] for row in rows]
    if not sys.stdout.isatty():
        print("\t".join(header))
        for row in rows:
            print("\t".join(row))
        return
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    # Text, not str: rich would read "[link=...]" or ":emoji:" in a str as markup.
    table = Table(title=Text(_cell(title)) if title else None, show_lines=False, header_style="bold")
    for column in header:
        table.add_column(Text(column), overflow="fold")
    for row in rows:
        table.add_row(*(Text(cell) for cell in row))
    Console().print(table)


def say(message: str) -> None:
    """A note for the person at the terminal, never mixed into data."""
    print(visible(message), file=sys.stderr)
