"""The tracker's feeds: a calendar (`.ics`, RFC 5545) and an Atom feed (`.atom`, RFC 4287).

Datasette output renderers that the tracker's plugin registers. They read the columns of
datasette-ics and datasette-atom (so `/tracker.ics?sql=...` works as it did with them),
which the tracker no longer needs: those plugins cannot say what the tracker needs, and
if either is installed the tracker's renderers still take its place. datasette-ics writes a date as a zero-length
midnight event (or, marked all-day, leaves DTSTART out), has no DTSTAMP and no folding;
datasette-atom has no feed author and fails on an empty result. Here:

- Calendar: every VEVENT has a UID and a DTSTAMP; a date keeps its precision as an all-day
  entry (a day from that day to the next, a month or a year from its first day to the
  first day after it, an interval from its start to the day after its end); lines end in
  CRLF and are folded at 75 octets; text is escaped.
- Atom: every entry has its own `updated` time, a link to its page and, through the feed,
  an author; content is plain text, never run as HTML.

The functions that write a feed take rows and return text, so they are tested without a
server; `render_ics` and `render_atom` are the renderers, given what Datasette passes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import xml.etree.ElementTree as ET
from typing import Any, Callable, Iterable, Mapping

from events.dates import DateError, parse_occurred

# --- shared ------------------------------------------------------------------------------------

#: Characters neither an iCalendar TEXT value (RFC 5545 §3.3.11: no controls but tab) nor
#: XML 1.0 may hold; line breaks are kept apart, as the formats write them differently.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")


def _text(value: Any) -> str:
    """A cell as text fit for a feed: None is empty, line breaks are \\n, controls go."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    return _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def _moment(value: Any) -> dt.datetime | None:
    """A cell holding a date or a date and time, as an aware UTC datetime (a date means its
    midnight, a time without an offset UTC), or None when it holds neither."""
    text = _text(value).strip()
    if not text:
        return None
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    # Python 3.10's fromisoformat takes 3 or 6 digits of fraction only: pad or cut to 6
    text = re.sub(r"(\.\d+)", lambda m: (m.group(1) + "000000")[:7], text, count=1)
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(dt.timezone.utc)


def _day(value: Any) -> dt.date | None:
    """A cell holding exactly an ISO date (YYYY-MM-DD), or None."""
    text = _text(value).strip()
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


def _url(value: Any, absolute: Callable[[str], str]) -> str | None:
    """A link from a cell: a path on this site made absolute, or an http(s) URL; anything
    else (`javascript:` and the like) is no link."""
    text = _text(value).strip()
    if not text or any(c.isspace() for c in text):
        return None
    if text.startswith("/") and not text.startswith("//"):
        return absolute(text)
    if re.match(r"https?://", text, flags=re.I):
        return text
    return None


# --- iCalendar (RFC 5545) --------------------------------------------------------------------

#: A row needs a name and a date to be a calendar entry.
ICS_NAME = "event_name"
ICS_DATE_COLUMNS = ("event_date", "event_dtstart")
#: STATUS values a VEVENT may have (RFC 5545 §3.8.1.11).
ICS_STATUSES = {"TENTATIVE", "CONFIRMED", "CANCELLED"}
#: Longest content line, in octets, before it is folded (RFC 5545 §3.1).
FOLD_OCTETS = 75


def can_render_ics(columns: Iterable[str]) -> bool:
    columns = set(columns)
    return ICS_NAME in columns and bool(columns & set(ICS_DATE_COLUMNS))


def escape_text(value: Any) -> str:
    """A TEXT value (RFC 5545 §3.3.11): backslash, semicolon and comma escaped, line breaks
    written as \\n, control characters left out."""
    text = _text(value)
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def fold(line: str) -> str:
    """A content line folded at FOLD_OCTETS octets (RFC 5545 §3.1): each continuation starts
    with a space, and no UTF-8 sequence is split."""
    data = line.encode("utf-8")
    if len(data) <= FOLD_OCTETS:
        return line
    parts: list[str] = []
    start, limit = 0, FOLD_OCTETS
    while len(data) - start > limit:
        end = start + limit
        while data[end] & 0xC0 == 0x80:  # a continuation byte: break before its sequence
            end -= 1
        parts.append(data[start:end].decode("utf-8"))
        start, limit = end, FOLD_OCTETS - 1  # the leading space counts
    parts.append(data[start:].decode("utf-8"))
    return "\r\n ".join(parts)


def _ics_stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def _ics_day(day: dt.date) -> str:
    return day.strftime("%Y%m%d")


def _ics_when(row: Mapping[str, Any]) -> tuple[list[str], str | None] | None:
    """The DTSTART and DTEND lines of a row, and a note on a date that is not one plain day,
    or None when the row has no date a calendar can show.

    `event_date` is a date as the tracker takes them (YYYY, YYYY-MM, YYYY-MM-DD, an interval,
    `?` or `~`): an all-day entry over the days it may stand for. Otherwise `event_dtstart`
    and `event_dtend` (datasette-ics's columns): ISO dates give an all-day entry, the end
    being its last day (as `occurred_end` is); ISO date-times give a timed one, in UTC.
    """
    entered = _text(row.get("event_date")).strip()
    if entered:
        try:
            span = parse_occurred(entered)
        except DateError:
            span = None
        if span is not None:
            lines = [f"DTSTART;VALUE=DATE:{_ics_day(span.start)}",
                     f"DTEND;VALUE=DATE:{_ics_day(span.end + dt.timedelta(days=1))}"]
            plain_day = span.precision == "day" and not span.interval and span.qualifier is None
            note = None
            if not plain_day:
                note = f"Date as entered: {entered}" + (f" ({span.qualifier})" if span.qualifier else "")
            return lines, note
    start_day = _day(row.get("event_dtstart"))
    if start_day is not None:
        last = _day(row.get("event_dtend"))
        if last is None:
            moment = _moment(row.get("event_dtend"))
            last = moment.date() if moment is not None else None
        if last is None or last < start_day:
            last = start_day
        return [f"DTSTART;VALUE=DATE:{_ics_day(start_day)}",
                f"DTEND;VALUE=DATE:{_ics_day(last + dt.timedelta(days=1))}"], None
    start = _moment(row.get("event_dtstart"))
    if start is None:
        return None
    lines = [f"DTSTART:{_ics_stamp(start)}"]
    end = _moment(row.get("event_dtend"))
    if end is not None and end >= start:
        lines.append(f"DTEND:{_ics_stamp(end)}")
    return lines, None


def _uid(row: Mapping[str, Any], domain: str) -> str:
    given = _text(row.get("event_uid")).strip()
    if given:
        return given
    digest = hashlib.sha256(repr(sorted((k, str(v)) for k, v in row.items())).encode("utf-8")).hexdigest()
    return f"{digest[:32]}@{domain}"


def ics_calendar(
    rows: Iterable[Mapping[str, Any]],
    *,
    name: str = "",
    description: str = "",
    prodid: str = "-//ksilkroad-tracker//Datasette//EN",
    now: dt.datetime | None = None,
    absolute: Callable[[str], str] = lambda path: path,
    domain: str = "ksilkroad-tracker",
) -> str:
    """An iCalendar object (RFC 5545) with one VEVENT per row that has a name and a date.

    Columns: `event_name` (SUMMARY), `event_date` or `event_dtstart`/`event_dtend` (see
    `_ics_when`), and optionally `event_uid` (UID; else one made from the row),
    `event_dtstamp` (DTSTAMP: when the entry last changed; else `now`),
    `event_description`, `event_location`, `event_url` (a path on this site or an http(s)
    URL) and `event_status` (TENTATIVE, CONFIRMED or CANCELLED).
    """
    now = now or dt.datetime.now(dt.timezone.utc)
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", f"PRODID:{escape_text(prodid)}", "CALSCALE:GREGORIAN"]
    if name:
        lines.append(f"X-WR-CALNAME:{escape_text(name)}")
    if description:
        lines.append(f"X-WR-CALDESC:{escape_text(description)}")
    for row in rows:
        when = _ics_when(row)
        summary = _text(row.get(ICS_NAME)).strip()
        if when is None or not summary:
            continue
        dates, note = when
        stamp = _moment(row.get("event_dtstamp")) or now
        lines += ["BEGIN:VEVENT", f"UID:{escape_text(_uid(row, domain))}", f"DTSTAMP:{_ics_stamp(stamp)}", *dates,
                  f"SUMMARY:{escape_text(summary)}"]
        description_text = _text(row.get("event_description")).strip()
        if note:
            description_text = f"{description_text}\n\n{note}" if description_text else note
        if description_text:
            lines.append(f"DESCRIPTION:{escape_text(description_text)}")
        location = _text(row.get("event_location")).strip()
        if location:
            lines.append(f"LOCATION:{escape_text(location)}")
        url = _url(row.get("event_url"), absolute)
        if url:
            lines.append(f"URL:{url}")
        status = _text(row.get("event_status")).strip().upper()
        if status in ICS_STATUSES:
            lines.append(f"STATUS:{status}")
        lines.append("END:VEVENT")
    lines.append("END:VCALENDAR")
    return "".join(fold(line) + "\r\n" for line in lines)


# --- Atom (RFC 4287) ---------------------------------------------------------------------------

ATOM = "http://www.w3.org/2005/Atom"
ATOM_REQUIRED = ("atom_id", "atom_title", "atom_updated")


def can_render_atom(columns: Iterable[str]) -> bool:
    return set(ATOM_REQUIRED) <= set(columns)


def _rfc3339(moment: dt.datetime) -> str:
    """A moment as Atom dates it (RFC 3339, UTC), to the microsecond when it has them."""
    return moment.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")


def _add(parent: ET.Element, tag: str, text: str | None = None, **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attributes)
    if text is not None:
        element.text = _text(text)
    return element


def _author(parent: ET.Element, name: str, uri: str | None = None, email: str | None = None) -> None:
    author = _add(parent, "author")
    _add(author, "name", name)
    if uri:
        _add(author, "uri", uri)
    if email:
        _add(author, "email", email)


def atom_feed(
    rows: Iterable[Mapping[str, Any]],
    *,
    title: str,
    feed_id: str,
    self_url: str,
    author: str,
    author_uri: str | None = None,
    alternate_url: str | None = None,
    generator_version: str = "",
    now: dt.datetime | None = None,
    absolute: Callable[[str], str] = lambda path: path,
) -> bytes:
    """An Atom feed (RFC 4287) with one entry per row.

    Columns: `atom_id`, `atom_title` and `atom_updated` (when the entry last changed), and
    optionally `atom_published`, `atom_content` (plain text; `atom_content_html` is shown as
    text too: nothing from a row is run as HTML), `atom_link` (the entry's page: a path on
    this site or an http(s) URL) and `atom_author_name`/`_uri`/`_email` (else the entry's
    author is the feed's, `author`). The feed's `updated` is its newest entry's (`now` when
    it has none).
    """
    now = now or dt.datetime.now(dt.timezone.utc)
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed")
    entries = [(_moment(row.get("atom_updated")) or now, row) for row in rows]
    _add(feed, "id", feed_id)
    _add(feed, "title", title, type="text")
    _add(feed, "updated", _rfc3339(max((u for u, _ in entries), default=now)))
    _add(feed, "link", rel="self", type="application/atom+xml", href=self_url)
    if alternate_url:
        _add(feed, "link", rel="alternate", type="text/html", href=alternate_url)
    _author(feed, author, author_uri)
    generator = _add(feed, "generator", "Datasette", uri="https://datasette.io/")
    if generator_version:
        generator.set("version", generator_version)
    for updated, row in entries:
        entry = _add(feed, "entry")
        _add(entry, "id", _text(row.get("atom_id")).strip())
        _add(entry, "title", _text(row.get("atom_title")).strip(), type="text")
        _add(entry, "updated", _rfc3339(updated))
        published = _moment(row.get("atom_published"))
        if published is not None:
            _add(entry, "published", _rfc3339(published))
        name = _text(row.get("atom_author_name")).strip()
        if name:
            _author(entry, name, _url(row.get("atom_author_uri"), absolute),
                    _text(row.get("atom_author_email")).strip() or None)
        else:  # the feed's: said again, as feed readers show an entry's own
            _author(entry, author, author_uri)
        link = _url(row.get("atom_link"), absolute)
        if link:
            _add(entry, "link", rel="alternate", type="text/html", href=link)
        content = row.get("atom_content", row.get("atom_content_html"))
        if content is not None:
            _add(entry, "content", _text(content), type="text")
    ET.indent(feed)
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True) + b"\n"


# --- the renderers Datasette calls ------------------------------------------------------------


def _query_metadata(datasette, database: str, query_name: str | None) -> dict[str, Any]:
    if not query_name:
        return {}
    try:
        return dict(datasette.metadata(database=database)["queries"][query_name] or {})
    except (KeyError, TypeError):
        return {}


def _absolute(datasette, request) -> Callable[[str], str]:
    return lambda path: datasette.absolute_url(request, datasette.urls.path(path))


def _missing(needed: str):
    from datasette.views.base import DatasetteError

    return DatasetteError(f"SQL query must return columns {needed}", status=400)


def render_ics(datasette, request, rows, columns, query_name, database, table, data):
    from datasette.utils.asgi import Response
    from datasette.version import __version__

    if not can_render_ics(columns):
        raise _missing(f"{ICS_NAME} and one of {', '.join(ICS_DATE_COLUMNS)}")
    query = _query_metadata(datasette, database, query_name)
    name = query.get("title") or request.args.get("_ics_title") or table or ""
    if not query.get("title") and (data or {}).get("human_description_en"):
        name = f"{name}: {data['human_description_en']}" if name else data["human_description_en"]
    text = ics_calendar(
        [dict(zip(columns, row)) for row in rows],
        name=name,
        description=query.get("description") or "",
        prodid=f"-//{datasette.metadata('title') or 'Datasette'}//Datasette {__version__}//EN",
        absolute=_absolute(datasette, request),
        domain=request.host.split(":")[0] or "ksilkroad-tracker",
    )
    content_type = "text/plain; charset=utf-8" if request.args.get("_plain") else "text/calendar; charset=utf-8"
    return Response(text, content_type=content_type, status=200)


def render_atom(datasette, request, rows, columns, query_name, database, table, data):
    from datasette.utils.asgi import Response
    from datasette.version import __version__

    if not can_render_atom(columns):
        raise _missing(", ".join(ATOM_REQUIRED))
    query = _query_metadata(datasette, database, query_name)
    title = query.get("title") or request.args.get("_feed_title") or table or "Datasette query"
    absolute = _absolute(datasette, request)
    self_url = datasette.absolute_url(request, request.full_path)
    page = request.path[: -len(".atom")] if request.path.endswith(".atom") else request.path
    alternate = datasette.absolute_url(request, page + (f"?{request.query_string}" if request.query_string else ""))
    body = atom_feed(
        [dict(zip(columns, row)) for row in rows],
        title=title,
        feed_id=self_url,
        self_url=self_url,
        alternate_url=alternate,
        author=datasette.metadata("title") or "Datasette",
        author_uri=absolute("/"),
        generator_version=__version__,
        absolute=absolute,
    )
    return Response(body, content_type="application/atom+xml; charset=utf-8", status=200)
