"""The tracker's events in words, for the pages people read (`/event/<id>`, `/project/<slug>`).

A table shows `196000000.0 USD`, `2024-11-01` and `UZ`; a reader wants "$196 million",
"2024-11" (the precision the date was entered with) and "Uzbekistan". Everything here is
a plain function of an event's JSON (its effective form), returning plain text: the
templates escape it, so nothing an event says is ever read as markup.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from events.codes import country_names
from events.dates import abbreviated

#: Currency symbols for the currencies a reader knows by sign; others are written by code.
SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "KRW": "₩", "JPY": "¥"}
#: The scales money is read in: "$196 million", "$1.5 billion".
SCALES = ((Decimal(10) ** 12, "trillion"), (Decimal(10) ** 9, "billion"), (Decimal(10) ** 6, "million"))

#: Kinds as a reader names them.
KIND_NAMES = {"mou": "MoU", "correction": "Correction", "retraction": "Retraction"}


def kind_name(kind: str) -> str:
    """`mou` → `MoU`, `visit` → `Visit`."""
    return KIND_NAMES.get(kind, kind.replace("_", " ").capitalize())


def status_name(status: str | None) -> str:
    """`in_progress` → `in progress`."""
    return (status or "").replace("_", " ")


def when(date: str | None) -> str:
    """A date at the precision it was entered with: `2024-11` stays `2024-11`, an interval of
    days drops what its end repeats (`2026-09-16/17`); `?` and `~` are said in words."""
    if not date:
        return ""
    text = abbreviated(date)
    if text.endswith("?"):
        return text[:-1] + " (uncertain)"
    if text.endswith("~"):
        return "about " + text[:-1]
    return text


def country(code: str) -> str:
    """An ISO code as the country's common English name (the code itself when unknown)."""
    return country_names().get(code, code)


def countries(codes: list[str] | None) -> str:
    return ", ".join(country(c) for c in codes or ())


def listed(names: list[str] | None) -> str:
    """`a`, `a and b`, `a, b and c`."""
    names = [n for n in names or () if n]
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def _trimmed(number: Decimal) -> str:
    """A number with at most two decimals and no trailing zeros: 1.50 → 1.5."""
    text = f"{number.quantize(Decimal('0.01')):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def amount(value: Any, unit: str | None = None) -> str:
    """A sum as a reader says it: (196000000, USD) → `$196 million`, (6000000000, USD) →
    `$6 billion`, (1500, companies) → `1,500 companies`. A sum below a million is written
    whole with separators; text that is not a number is shown as it is."""
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return f"{value} {unit}".strip() if unit else str(value)
    words = None
    for scale, name in SCALES:
        if abs(number) >= scale:
            words = f"{_trimmed(number / scale)} {name}"
            break
    if words is None:
        words = f"{number:,f}".rstrip("0").rstrip(".") if "." in f"{number:f}" else f"{number:,}"
    unit = unit or ""
    symbol = SYMBOLS.get(unit.upper())
    if symbol:
        return f"{symbol}{words}"
    return f"{words} {unit}".strip()


def money(value: dict[str, Any] | None) -> str | None:
    """An event's `value` ({amount, currency}) in words, or None."""
    if not isinstance(value, dict) or value.get("amount") is None:
        return None
    return amount(value["amount"], value.get("currency"))


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def what(event: dict[str, Any], project_name: str | None = None) -> str:
    """What happened, in one sentence made from the event's own fields (the summary, in the
    tracker's words, is shown beside it)."""
    kind = event.get("kind")
    worth = money(event.get("value"))
    worth = f", worth {worth}" if worth else ""
    project = project_name or event.get("project_name") or event.get("project") or "the project"
    if kind == "visit":
        level = f"{event['level']} " if event.get("level") else ""
        return (f"{event.get('visitor')} ({country(event.get('visitor_country', ''))}) paid a {level}visit"
                f" to {country(event.get('host_country', ''))}.")
    if kind == "signing":
        count = event.get("agreement_count") or 1
        several = f" ({count} agreements)" if count > 1 else ""
        return f"{listed(event.get('parties'))} signed {event.get('title')}{several}{worth}."
    if kind == "mou":
        return f"{listed(event.get('parties'))} signed a memorandum of understanding on {event.get('subject')}."
    if kind == "order":
        quantity = f"{event['quantity']:,} " if event.get("quantity") else ""
        return f"{event.get('buyer')} ordered {quantity}{event.get('item')} from {event.get('supplier')}{worth}."
    if kind == "forum":
        edition = f"The {_ordinal(event['edition'])} " if event.get("edition") else ""
        host = f", hosted by {country(event['host_country'])}" if event.get("host_country") else ""
        attended = f", attended by {event['attendance']:,}" if event.get("attendance") else ""
        return f"{edition}{event.get('name')}{host}{attended}."
    if kind == "meeting":
        return f"{listed(event.get('participants'))} met on {event.get('topic')}."
    if kind == "summit":
        planned = f"; planned for {when(event['planned_for'])}" if event.get("planned_for") else ""
        return f"A step towards {event.get('name')}{planned}."
    if kind == "announcement":
        return f"{event.get('announcer')} announced {event.get('subject')}."
    if kind == "milestone":
        return f"{project} became {status_name(event.get('status'))}."
    if kind == "figure":
        period = f" for {when(event['period'])}" if event.get("period") else ""
        metric = str(event.get("metric", "")).replace("_", " ")
        return f"Reported {metric}{period}: {amount(event.get('amount'), event.get('unit'))}."
    if kind == "correction":
        return f"A correction of {event.get('target')}: {event.get('reason')}"
    if kind == "retraction":
        return f"A retraction of {event.get('target')}: {event.get('reason')}"
    return event.get("summary") or ""


def source_line(source: dict[str, Any]) -> dict[str, Any]:
    """A source as the page lists it: title, publisher, author, date as published, and its
    address only when it is a web address (the log allows http and https alone)."""
    url = source.get("url")
    if not (isinstance(url, str) and url.lower().startswith(("http://", "https://"))):
        url = None
    return {"title": source.get("title"), "publisher": source.get("publisher"), "author": source.get("author"),
            "published": when(source.get("published")), "url": url}


def change_value(value: Any) -> str:
    """A corrected field's old or new value, briefly: lists joined, money in words, none said."""
    if value is None:
        return "(none)"
    if isinstance(value, list):
        return "; ".join(change_value(v) if not isinstance(v, dict) else v.get("title") or str(v) for v in value)
    if isinstance(value, dict):
        return money(value) or value.get("name") or ", ".join(f"{k}: {v}" for k, v in value.items())
    return str(value)
