"""The calendar and Atom feeds validate: the calendar per RFC 5545 (checked strictly here),
with every date as precise as it was entered; Atom entries with a link, an author and
their own updated time."""

from __future__ import annotations

import datetime as dt
import re
import urllib.parse
import xml.etree.ElementTree as ET

import pytest

from events.dates import parse_occurred
from tests.test_publish import HOSTILE, HOSTILE_SUMMIT
from tests.conftest import get
from tracker.log.bundled import record_path
from tracker.log.importing import read_jsonl
from tracker.log.store import EventStore
from tracker.publish import feeds
from tracker.publish.build import build
from tracker.publish.site import datasette_for
from tracker.replay.engine import catch_up

ATOM = "{http://www.w3.org/2005/Atom}"
#: When the bundled record is logged in these tests, and when one of its events is corrected.
RECORDED = "2025-02-01T09:00:00.000000Z"
CORRECTED = "2025-03-01T10:00:00.000000Z"
TRAINS = "2024-06-hyundai-rotem-uz-high-speed-trains"
CORRECTION = {
    "kind": "correction",
    "id": "2025-03-fix-train-count",
    "target": TRAINS,
    "changes": {"summary": "Hyundai Rotem won a $196 million contract for six high-speed trains for Uzbekistan."},
    "reason": "A June 2024 report gives the number of trainsets.",
    "sources": [{"publisher": "Yonhap", "title": "Six trainsets", "published": "2024-06-14", "url": None, "author": None}],
}


# --- a strict RFC 5545 reader ----------------------------------------------------------------

NAME = r"[A-Za-z0-9-]+"
#: A parameter value (§3.1): a quoted string, or text without controls, quotes, ; : or ,.
PARAM_VALUE = r'(?:"[^"\x00-\x08\x0a-\x1f\x7f]*"|[^";:,\x00-\x08\x0a-\x1f\x7f]*)'
CONTENT_LINE = re.compile(rf"({NAME})((?:;{NAME}={PARAM_VALUE}(?:,{PARAM_VALUE})*)*):(.*)", re.S)
#: Properties whose values are TEXT (§3.3.11): only \\ \; \, \n \N may follow a backslash,
#: and no comma or semicolon goes unescaped (none of them lists several values here).
TEXT_PROPERTIES = {"SUMMARY", "DESCRIPTION", "LOCATION", "UID", "X-WR-CALNAME", "X-WR-CALDESC"}
UTC_DATE_TIME = re.compile(r"[0-9]{8}T[0-9]{6}Z")
DATE = re.compile(r"[0-9]{8}")


def unescape(value: str) -> str:
    out, i = [], 0
    while i < len(value):
        char = value[i]
        if char == "\\":
            nxt = value[i + 1: i + 2]
            assert nxt in ("\\", ";", ",", "n", "N"), f"bad escape in {value!r}"
            out.append("\n" if nxt in "nN" else nxt)
            i += 2
            continue
        assert char not in ",;", f"unescaped {char!r} in {value!r}"
        out.append(char)
        i += 1
    return "".join(out)


def _day(value: str) -> dt.date:
    assert DATE.fullmatch(value), value
    return dt.date(int(value[:4]), int(value[4:6]), int(value[6:]))


def parse_ics(data: bytes) -> list[dict[str, tuple[dict[str, str], str]]]:
    """The VEVENTs of an iCalendar stream, each property → (parameters, value, unescaped if
    TEXT), after checking what RFC 5545 asks of the stream, its lines and its events."""
    text = data.decode("utf-8")  # §3.1.4: UTF-8
    assert text.endswith("\r\n"), "the last line ends in CRLF too"
    physical = text[:-2].split("\r\n")
    for line in physical:
        assert "\r" not in line and "\n" not in line, f"a bare CR or LF: {line!r}"
        assert len(line.encode("utf-8")) <= 75, f"longer than 75 octets: {line!r}"
    logical: list[str] = []
    for line in physical:
        if line[:1] in (" ", "\t"):
            assert logical, "a continuation before any line"
            logical[-1] += line[1:]
        else:
            logical.append(line)
    assert logical[0] == "BEGIN:VCALENDAR" and logical[-1] == "END:VCALENDAR"
    stack: list[str] = []
    calendar: dict[str, int] = {}
    events: list[dict[str, tuple[dict[str, str], str]]] = []
    current: dict[str, tuple[dict[str, str], str]] | None = None
    for line in logical:
        match = CONTENT_LINE.fullmatch(line)
        assert match, f"not a content line: {line!r}"
        name, params_text, value = match.group(1).upper(), match.group(2), match.group(3)
        assert not re.search("[\x00-\x08\x0a-\x1f\x7f]", value), f"a control character: {line!r}"
        params = dict(p.split("=", 1) for p in params_text.split(";")[1:])
        if name == "BEGIN":
            stack.append(value)
            if value == "VEVENT":
                assert stack == ["VCALENDAR", "VEVENT"]
                current = {}
            continue
        if name == "END":
            assert stack and stack.pop() == value, f"END:{value} closes nothing"
            if value == "VEVENT":
                events.append(current)
                current = None
            continue
        if name in TEXT_PROPERTIES:
            value = unescape(value)
        if current is not None:
            assert name not in current or name.startswith("X-"), f"{name} twice in one VEVENT"
            current[name] = (params, value)
        else:
            assert stack == ["VCALENDAR"]
            calendar[name] = calendar.get(name, 0) + 1
    assert stack == []
    assert calendar.get("VERSION") == 1 and calendar.get("PRODID") == 1  # §3.6: required, once
    assert "METHOD" not in calendar  # so DTSTART is required below (§3.6.1)
    for event in events:
        assert "UID" in event and event["UID"][1], event  # §3.6.1: required, once
        assert "DTSTAMP" in event and UTC_DATE_TIME.fullmatch(event["DTSTAMP"][1]), event  # §3.8.7.2: UTC
        assert "DTSTART" in event, event
        assert not ("DTEND" in event and "DURATION" in event), event
        start_params, start = event["DTSTART"]
        if start_params.get("VALUE") == "DATE":
            first = _day(start)
            if "DTEND" in event:
                end_params, end = event["DTEND"]
                assert end_params.get("VALUE") == "DATE", "DTEND has DTSTART's value type"
                assert _day(end) > first, "an all-day entry ends after it starts"
        else:
            assert UTC_DATE_TIME.fullmatch(start) or re.fullmatch(r"[0-9]{8}T[0-9]{6}", start), start
    uids = [e["UID"][1] for e in events]
    assert len(uids) == len(set(uids)), "UIDs are unique"
    return events


def all_day(event) -> tuple[str, str]:
    """An entry's first day and the day after its last, as ISO dates."""
    assert event["DTSTART"][0] == {"VALUE": "DATE"} and event["DTEND"][0] == {"VALUE": "DATE"}
    start, end = _day(event["DTSTART"][1]), _day(event["DTEND"][1])
    return start.isoformat(), end.isoformat()


def test_the_checker_refuses_what_rfc_5545_refuses():
    good = feeds.ics_calendar([{"event_name": "A", "event_date": "2024-06-12", "event_uid": "a@x"}]).encode()
    assert len(parse_ics(good)) == 1
    for bad in (
        good.replace(b"\r\n", b"\n"),  # LF line ends
        good.replace(b"DTSTAMP:", b"X-NO-STAMP:"),  # no DTSTAMP
        good.replace(b"UID:a@x", b"UID:a,x"),  # an unescaped comma
        good.replace(b"SUMMARY:A", b"SUMMARY:" + b"A" * 80),  # not folded
        good.replace(b"DTEND;VALUE=DATE:20240613", b"DTEND;VALUE=DATE:20240612"),  # ends as it starts
    ):
        with pytest.raises(AssertionError):
            parse_ics(bad)


# --- the calendar, row by row ----------------------------------------------------------------


@pytest.mark.parametrize(("entered", "first", "after"), [
    ("2024-06-12", "2024-06-12", "2024-06-13"),  # a day: that day, to the next
    ("2024-06", "2024-06-01", "2024-07-01"),  # a month: month-long
    ("2024-02", "2024-02-01", "2024-03-01"),  # a leap February
    ("2024-12", "2024-12-01", "2025-01-01"),
    ("2025", "2025-01-01", "2026-01-01"),  # a year: year-long
    ("2024-06-12/2024-06-13", "2024-06-12", "2024-06-14"),  # an interval: to the day after its end
    ("2022-03/2024-06-10?", "2022-03-01", "2024-06-11"),
    ("2017/2022?", "2017-01-01", "2023-01-01"),
    ("2024-06~", "2024-06-01", "2024-07-01"),
])
def test_a_date_is_an_all_day_entry_as_long_as_its_precision(entered, first, after):
    event, = parse_ics(feeds.ics_calendar([{"event_name": "Talks", "event_date": entered}]).encode())
    assert all_day(event) == (first, after)


def test_a_date_that_is_not_one_plain_day_is_quoted_as_entered():
    plain, month, unsure = parse_ics(feeds.ics_calendar([
        {"event_name": "A", "event_date": "2024-06-12", "event_description": "Met."},
        {"event_name": "B", "event_date": "2024-06", "event_description": "Met."},
        {"event_name": "C", "event_date": "2024-06-10/2025-01-31?"},
    ]).encode())
    assert plain["DESCRIPTION"][1] == "Met."
    assert month["DESCRIPTION"][1] == "Met.\n\nDate as entered: 2024-06"
    assert unsure["DESCRIPTION"][1] == "Date as entered: 2024-06-10/2025-01-31? (uncertain)"


def test_datasette_ics_columns_still_work():
    day, days, timed = parse_ics(feeds.ics_calendar([
        {"event_name": "A", "event_dtstart": "2024-06-12"},
        {"event_name": "B", "event_dtstart": "2024-06-12", "event_dtend": "2024-06-13"},  # the last day, as occurred_end
        {"event_name": "C", "event_dtstart": "2024-06-12T10:30:00+05:00", "event_dtend": "2024-06-12T12:00:00Z"},
    ]).encode())
    assert all_day(day) == ("2024-06-12", "2024-06-13")
    assert all_day(days) == ("2024-06-12", "2024-06-14")
    assert timed["DTSTART"][1] == "20240612T053000Z" and timed["DTEND"][1] == "20240612T120000Z"


def test_every_entry_has_a_uid_and_a_dtstamp():
    now = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
    given, made, last = feeds.ics_calendar([
        {"event_name": "A", "event_date": "2024", "event_uid": "a@x", "event_dtstamp": "2025-01-31T08:00:00.123456Z"},
        {"event_name": "B", "event_date": "2024"},
        {"event_name": "C", "event_date": "not a date"},  # no date a calendar can show: left out
        {"event_name": "D", "event_date": "2024-05"},
    ], now=now).split("BEGIN:VEVENT")[1:]
    assert "UID:a@x\r\n" in given and "DTSTAMP:20250131T080000Z\r\n" in given
    assert re.search(r"UID:[0-9a-f]{32}@ksilkroad-tracker\r\n", made) and "DTSTAMP:20260102T030405Z\r\n" in made
    assert "SUMMARY:D" in last  # C was left out


def test_text_is_escaped_and_links_are_only_web_links():
    hostile = "Talks, at last; in C:\\path\r\nand\x00 \x1b[31mred\x7f — 한국어"
    event, other = parse_ics(feeds.ics_calendar([
        {"event_name": hostile, "event_date": "2024-06-12", "event_description": hostile, "event_location": "Astana, KZ",
         "event_url": "/tracker/effective_events/x", "event_status": "tentative"},
        {"event_name": "B", "event_date": "2024-06-12", "event_url": "javascript:alert(1)", "event_status": "maybe"},
    ], absolute=lambda path: "https://example.org" + path).encode())
    assert event["SUMMARY"][1] == "Talks, at last; in C:\\path\nand [31mred — 한국어"
    assert event["LOCATION"][1] == "Astana, KZ"
    assert event["URL"][1] == "https://example.org/tracker/effective_events/x"
    assert event["STATUS"][1] == "TENTATIVE"
    assert "URL" not in other and "STATUS" not in other
    assert feeds.escape_text("a,b;c\\d\ne") == "a\\,b\\;c\\\\d\\ne"


@pytest.mark.parametrize("text", ["x" * 200, "é" * 100, "한" * 90, "a" + "𝄞" * 50, "x" * 75, "x" * 76])
def test_long_lines_are_folded_at_75_octets_between_characters(text):
    line = "DESCRIPTION:" + text
    folded = feeds.fold(line)
    parts = folded.split("\r\n")
    assert all(len(p.encode("utf-8")) <= 75 for p in parts)
    assert all(p.startswith(" ") for p in parts[1:])
    assert parts[0] + "".join(p[1:] for p in parts[1:]) == line


# --- the site's feeds on the bundled record -----------------------------------------------------


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The bundled record, recorded on 1 February 2025, one event of it corrected on 1 March,
    plus the publishing tests' hostile events; built, and served as a snapshot."""
    work = tmp_path_factory.mktemp("feeds")
    with EventStore(work / "tracker.db") as store:
        store.append(read_jsonl(record_path()), recorded_at=RECORDED)
        store.append([CORRECTION], recorded_at=CORRECTED)
        store.append([HOSTILE, HOSTILE_SUMMIT], recorded_at="2025-03-02T00:00:00.000000Z")
        catch_up(store)
        rows = store.conn.execute("SELECT id, occurred, occurred_start, occurred_end FROM effective_events").fetchall()
    build(work / "tracker.db", work / "site.db")
    return datasette_for(work / "site.db", immutable=True, live=False), rows


def local(url: str) -> str:
    """A URL the site made, as a path its test client can ask for."""
    parts = urllib.parse.urlsplit(url)
    assert parts.scheme == "http" and parts.netloc == "localhost", url
    return parts.path + (f"?{parts.query}" if parts.query else "")


def test_the_calendar_validates_with_summit_months_and_the_planned_year(site):
    ds, _ = site
    page = get(ds, "/tracker/calendar.ics")
    assert page.status_code == 200 and page.headers["content-type"] == "text/calendar; charset=utf-8"
    events = {e["UID"][1]: e for e in parse_ics(page.content)}
    proposed = events["summit-2024-06-korea-central-asia-summit-proposed@ksilkroad-tracker"]
    assert all_day(proposed) == ("2024-06-01", "2024-07-01")  # entered as 2024-06: month-long
    assert proposed["SUMMARY"][1] == "First Korea-Central Asia summit: proposed"
    agreed = events["summit-2024-11-korea-central-asia-summit-agreed@ksilkroad-tracker"]
    assert all_day(agreed) == ("2024-11-01", "2024-12-01")
    assert all_day(events["summit-hostile-summit-step@ksilkroad-tracker"]) == ("2024-07-01", "2024-07-02")  # a day
    planned = events["planned-korea-central-asia-summit@ksilkroad-tracker"]
    assert all_day(planned) == ("2025-01-01", "2026-01-01")  # planned for 2025: year-long
    assert planned["STATUS"][1] == "TENTATIVE" and planned["LOCATION"][1] == "Seoul, Republic of Korea"
    assert proposed["DTSTAMP"][1] == "20250201T090000Z"  # when it was recorded
    for event in events.values():
        assert not re.search(r"[a-z]+-[a-z]+-[a-z]+", event["SUMMARY"][1]), event["SUMMARY"]  # words, not slugs
        assert get(ds, local(event["URL"][1])).status_code == 200, event["URL"]
    assert re.search(rb"\r\n [^\r\n]", page.content), "the long descriptions are folded"
    hostile = events["summit-hostile-summit-step@ksilkroad-tracker"]
    assert "&lt;script&gt;" not in page.text and "<script>" in hostile["DESCRIPTION"][1]  # plain text, as given


def test_every_event_of_the_record_is_an_all_day_entry_of_its_precision(site):
    ds, rows = site
    sql = ("SELECT id AS event_uid, summary AS event_name, occurred AS event_date, recorded_at AS event_dtstamp"
           " FROM effective_events ORDER BY seq")
    page = get(ds, "/tracker.ics?" + urllib.parse.urlencode({"sql": sql}))
    assert page.status_code == 200
    events = {e["UID"][1]: e for e in parse_ics(page.content)}
    assert set(events) == {id for id, *_ in rows}
    seen = set()
    for id, occurred, start, end in rows:
        span = parse_occurred(occurred)
        seen.add("interval" if span.interval else span.precision)
        if span.qualifier:
            seen.add(span.qualifier)
        after = (dt.date.fromisoformat(end) + dt.timedelta(days=1)).isoformat()
        assert all_day(events[id]) == (start, after), (id, occurred)
    assert {"day", "month", "year", "interval", "uncertain", "approximate"} <= seen  # the record has each


def test_an_ics_query_escapes_what_it_is_given(site):
    ds, _ = site
    sql = "SELECT 'x' AS event_uid, 'a, b; c \\ d' || char(13) || char(10) || 'e' AS event_name, '2024-06-12' AS event_date"
    page = get(ds, "/tracker.ics?" + urllib.parse.urlencode({"sql": sql}))
    assert b"SUMMARY:a\\, b\\; c \\\\ d\\ne\r\n" in page.content
    event, = parse_ics(page.content)
    assert event["SUMMARY"][1] == "a, b; c \\ d\ne"
    wrong = get(ds, "/tracker.ics?" + urllib.parse.urlencode({"sql": "SELECT 1 AS x"}))
    assert wrong.status_code == 400


def test_atom_entries_have_a_link_an_author_and_their_own_updated_time(site):
    ds, rows = site
    page = get(ds, "/tracker/recent_events.atom")
    assert page.status_code == 200 and page.headers["content-type"] == "application/atom+xml; charset=utf-8"
    feed = ET.fromstring(page.content)
    assert feed.find(f"{ATOM}author/{ATOM}name").text == "K-Silk Road Tracker"
    assert feed.find(f"{ATOM}link[@rel='self']").get("href") == "http://localhost/tracker/recent_events.atom"
    entries = feed.findall(f"{ATOM}entry")
    assert len(entries) == 50
    for entry in entries:
        assert entry.find(f"{ATOM}author/{ATOM}name").text == "K-Silk Road Tracker"
        assert entry.find(f"{ATOM}content").get("type") == "text"
        link = entry.find(f"{ATOM}link[@rel='alternate']").get("href")
        id = entry.find(f"{ATOM}id").text.rsplit(":", 1)[1]
        assert local(link) == f"/event/{id}"
        event_page = get(ds, local(link))
        assert event_page.status_code == 200 and id in event_page.text
        title = entry.find(f"{ATOM}title").text
        assert re.fullmatch(r"(MoU|[A-Z][a-z]+) \([0-9?~/-]+\): .+", title), title
        assert "_" not in title and id not in title, title  # words, not slugs
        for tag in ("updated", "published"):
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", entry.find(f"{ATOM}{tag}").text)
    updated = {e.find(f"{ATOM}id").text.rsplit(":", 1)[1]: e.find(f"{ATOM}updated").text for e in entries}
    published = {e.find(f"{ATOM}id").text.rsplit(":", 1)[1]: e.find(f"{ATOM}published").text for e in entries}
    # the corrected event is updated when it was corrected, and comes first with the events recorded since
    assert updated[TRAINS] == "2025-03-01T10:00:00Z" and published[TRAINS] == "2025-02-01T09:00:00Z"
    assert list(updated)[:3] == ["hostile-summit-step", "hostile-test-event", TRAINS]
    assert updated["2024-12-03-yoon-martial-law"] == "2025-02-01T09:00:00Z"
    assert feed.find(f"{ATOM}updated").text == max(updated.values())
    trains = next(e for e in entries if e.find(f"{ATOM}id").text.endswith(TRAINS))
    assert "six high-speed trains" in trains.find(f"{ATOM}content").text
    assert 'Yonhap, "Six trainsets" (2024-06-14)' in trains.find(f"{ATOM}content").text


def test_an_empty_record_gives_empty_feeds_that_still_validate(site, tmp_path):
    work = tmp_path
    with EventStore(work / "tracker.db") as store:
        store.append(read_jsonl(record_path()), recorded_at=RECORDED)
        catch_up(store)
    build(work / "tracker.db", work / "empty.db", known_at="2025-01-01T00:00:00Z")
    ds = datasette_for(work / "empty.db", immutable=True, live=False)
    assert parse_ics(get(ds, "/tracker/calendar.ics").content) == []
    page = get(ds, "/tracker/recent_events.atom")
    assert page.status_code == 200
    feed = ET.fromstring(page.content)
    assert feed.findall(f"{ATOM}entry") == [] and feed.find(f"{ATOM}updated").text
    assert feed.find(f"{ATOM}author/{ATOM}name").text


def test_atom_text_is_never_markup_and_never_invalid_xml():
    body = feeds.atom_feed(
        [{"atom_id": "a", "atom_title": "<b>bold</b>\x00\x1b", "atom_updated": "2024-06-12",
          "atom_content_html": "<script>alert(1)</script>", "atom_link": "javascript:alert(1)"}],
        title="T", feed_id="urn:x", self_url="https://example.org/f.atom", author="Me",
    )
    entry = ET.fromstring(body).find(f"{ATOM}entry")
    assert entry.find(f"{ATOM}title").text == "<b>bold</b>"
    assert entry.find(f"{ATOM}content").get("type") == "text"
    assert entry.find(f"{ATOM}link") is None
    assert entry.find(f"{ATOM}updated").text == "2024-06-12T00:00:00Z"
    assert b"<script>" not in body
