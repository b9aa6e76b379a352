"""What commands print: JSON for programs, tables for people. Data on stdout, the rest on stderr."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from typing import Any

import orjson


def emit_json(data: Any) -> None:
    """Pretty JSON on stdout and nothing else."""
    sys.stdout.buffer.write(orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n")
    sys.stdout.flush()


def emit_json_array(items: Iterable[Any]) -> None:
    """A JSON array on stdout, item by item: the same text as `emit_json(list(items))`
    without holding every item in memory."""
    out = sys.stdout.buffer
    first = True
    for item in items:
        text = orjson.dumps(item, option=orjson.OPT_INDENT_2).replace(b"\n", b"\n  ")
        out.write((b"[\n  " if first else b",\n  ") + text)
        first = False
    out.write(b"[]\n" if first else b"\n]\n")
    out.flush()


def emit_table(columns: Sequence[str], rows: Iterable[Sequence[Any]], *, title: str | None = None) -> None:
    """A table on a terminal; tab-separated lines with a header when piped."""
    rows = [["" if cell is None else str(cell) for cell in row] for row in rows]
    if not sys.stdout.isatty():
        print("\t".join(columns))
        for row in rows:
            print("\t".join(cell.replace("\t", " ").replace("\n", " ") for cell in row))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, show_lines=False, header_style="bold")
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*row)
    Console().print(table)


def say(message: str) -> None:
    """A note for the person at the terminal, never mixed into data."""
    print(message, file=sys.stderr)
