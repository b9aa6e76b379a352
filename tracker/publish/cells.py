"""How the tracker's table pages read: the columns a reader sees first, and cells in words.

Datasette 0.65 shows every column of a table, in the table's order, with values as stored:
the events table opens on `seq`, `id`, ISO bounds and recorded_at, `196000000.0` and `KR,UZ`.
It has no setting for default columns, but it picks a table's rows template through the
plugin's `_table.html`, and a reader's request with neither `_col` nor `_nocol` gets
`READABLE`'s columns there (the date as entered, kind, countries, project, a wide summary,
the value); `_col` / `_nocol` (Datasette's own column menu, or the page's "every column"
link) show the table as Datasette would. JSON and CSV are never touched: only the HTML
cells are written in words here, with the precision they were entered with.
"""

from __future__ import annotations

from typing import Any

from tracker.publish import prose

#: The columns a reader sees first, by table: (column, heading, column its heading sorts by).
READABLE: dict[str, tuple[tuple[str, str, str | None], ...]] = {
    "effective_events": (
        ("occurred", "When", "occurred_start"),
        ("kind", "Kind", "kind"),
        ("countries", "Countries", None),
        ("project", "Project", "project"),
        ("summary", "Summary", None),
        ("value_amount", "Value", "value_amount"),
    ),
}

#: The column a table's hidden internal columns are all shown with ("show every column"):
#: everything but the effective event's JSON, which makes every row a screen tall.
EVERY_COLUMN = {"effective_events": "amended_body"}

#: A project's name now, for a project cell of a readable table (the `projects` view's rows
#: are found by the partial index of current rows).
PROJECT_NAME_SQL = "SELECT name FROM projects WHERE project = ?"

#: Columns holding a date as entered (EDTF), shown as a reader says it (`2024-11`,
#: `about 2025`), and the tables where the text as logged is the point (the raw log).
DATE_COLUMNS = frozenset({"occurred", "planned_for", "first_planned_for", "period"})
AS_LOGGED_TABLES = frozenset({"events"})

#: Sums in a currency: column -> the column naming its currency, or the currency itself.
MONEY_COLUMNS = {"value_amount": ("column", "value_currency"), "order_value_usd": ("currency", "USD")}


def readable_columns(table: str | None, args) -> tuple[tuple[str, str, str | None], ...] | None:
    """The reader's columns for `table`, unless the request chose its own (`_col`, `_nocol`)."""
    if table not in READABLE or args is None or "_col" in args or "_nocol" in args:
        return None
    return READABLE[table]


def field(row: Any, name: str) -> Any:
    """A column of the row a cell is drawn in, or None when the request left it out."""
    try:
        return row[name]
    except (KeyError, IndexError, TypeError):
        return None


def in_words(value: Any, column: str, table: str | None, row: Any) -> str | None:
    """A cell's value as a reader reads it, or None to leave it to Datasette."""
    if column in DATE_COLUMNS and isinstance(value, str) and table not in AS_LOGGED_TABLES:
        shown = prose.when(value)
        return shown if shown != value else None
    if column == "kind" and isinstance(value, str) and table in READABLE:
        shown = prose.kind_name(value)
        return shown if shown != value else None
    money = MONEY_COLUMNS.get(column)
    if money and isinstance(value, (int, float)) and not isinstance(value, bool):
        how, what = money
        currency = field(row, what) if how == "column" else what
        return prose.amount(value, currency) if currency else None
    return None
