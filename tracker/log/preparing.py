"""Preparing events for the log: validated, written down canonically, identified and
checked for the log's own fields, one at a time or a batch at once, and the hash that
chains them. Preparing needs no database, so a large import prepares lines in other
processes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterable, Iterator
from functools import lru_cache
from typing import Any, NamedTuple

from pydantic import ValidationError

from events.dates import iso_span
from events.identity import canonical_json, content_id, identify_all
from events.batch import key_ordered_kinds, validate_records
from events.models import to_record, validate_event
from events.problems import explain

from tracker.log.tuning import AUTOMATIC, Tuning

GENESIS = "0" * 64
DEFAULT_DB = "tracker.db"
#: Fields that exist only in the log, not in the event: `export` adds them, `import` checks them.
LOG_FIELDS = ("seq", "recorded_at", "prev_hash", "hash")
BATCH = 2000


class LogError(ValueError):
    """Bad input for the log: says where (file line, when there is one) and what."""

    def __init__(self, message: str, line: int | None = None):
        self.line = line
        self.message = message
        super().__init__(f"line {line}: {message}" if line is not None else message)


class Prepared(NamedTuple):
    """An event validated and written down canonically, ready to be chained and stored.

    Preparing needs no database, so a large import prepares lines in another process.
    """

    line: int | None
    id: str
    kind: str
    occurred: str | None
    occurred_start: str | None
    occurred_end: str | None
    body: bytes
    log_fields: dict[str, Any]


def prepare(item: dict[str, Any] | tuple[int | None, dict[str, Any]]) -> Prepared:
    """Validate one event (a dict, or a (line, dict) pair); raise LogError naming the line."""
    line, data = item if isinstance(item, tuple) else (None, item)
    if not isinstance(data, dict):
        raise LogError("an event must be a JSON object", line)
    log_fields = {key: data[key] for key in LOG_FIELDS if key in data}
    if log_fields:
        data = {key: value for key, value in data.items() if key not in LOG_FIELDS}
        if "recorded_at" in log_fields:
            try:
                _valid_timestamp(log_fields["recorded_at"])
            except ValueError as e:
                raise LogError(f"field 'recorded_at': {e}", line) from None
        if "hash" in log_fields and "recorded_at" not in log_fields:
            raise LogError("field 'recorded_at' is required to restore an exported event", line)
    try:
        event = validate_event(data)
    except ValidationError as e:
        raise LogError(explain(e), line) from None
    record = to_record(event)
    if "id" not in record:
        record["id"] = content_id(record)
    occurred = record.get("occurred")
    start, end = iso_span(occurred) if occurred else (None, None)
    return Prepared(
        line,
        record["id"],
        record["kind"],
        occurred,
        start,
        end,
        canonical_json(record),
        log_fields,
    )


class PreparedBatch(NamedTuple):
    """Events prepared as by `prepare`, column by column, ready to be chained and stored.

    Columns rather than one tuple per event: a large import's workers send these to
    the process that stores them, and a few lists pickle and unpickle far faster than
    thousands of small objects.
    """

    lines: list[int | None]  # line numbers (in the file, or within a block: see `first_line`)
    ids: list[str]
    kinds: list[str]
    occurred: list[str | None]
    starts: list[str | None]
    ends: list[str | None]
    # The canonical JSON of each event, one a line: text is the form the table stores,
    # and one string crosses between processes far faster than thousands.
    bodies: str
    recorded_at: list[str | None]  # as given in the input (an exported file), else None
    restores: dict[int, dict[str, Any]]  # position → log fields of an event with a hash to restore
    first_line: int = 0  # added to `lines`: a worker numbers the lines of its block from 1

    def line(self, position: int) -> int | None:
        """The file line of the event at `position`, for error messages."""
        line = self.lines[position]
        return line + self.first_line if line is not None else None


class _Unfit(Exception):
    """The batch needs the one-by-one path (which finds and names the bad line)."""


def prepare_batch(items: list[tuple[int | None, Any]], *, tuning: Tuning = AUTOMATIC) -> PreparedBatch:
    """Prepare (line, event) pairs as `prepare` does each; raise LogError naming the first bad line.

    Valid events, by far the common case, are validated in one call into
    pydantic-core (from TOGETHER_FROM events, unless `tuning` says otherwise); only a
    batch that fails is prepared one event at a time, so that the error is exactly
    the one `prepare` gives for the first bad line.
    """
    if tuning.prepares_together(len(items)):
        try:
            return _prepare_together(items)
        except Exception:  # any problem at all: the one-by-one path decides, and explains
            pass
    prepared = [prepare(item) for item in items]
    restores = {
        position: p.log_fields
        for position, p in enumerate(prepared)
        if "hash" in p.log_fields
    }
    return PreparedBatch(
        [p.line for p in prepared],
        [p.id for p in prepared],
        [p.kind for p in prepared],
        [p.occurred for p in prepared],
        [p.occurred_start for p in prepared],
        [p.occurred_end for p in prepared],
        _text([p.body for p in prepared]),
        [p.log_fields.get("recorded_at") for p in prepared],
        restores,
    )


def _prepare_together(items: list[tuple[int | None, Any]]) -> PreparedBatch:
    """`prepare_batch` for a batch with no bad event; raises on any problem, without explaining it."""
    records = validate_records([data for _, data in items], passthrough=LOG_FIELDS)
    stamps = [record.pop("recorded_at", _ABSENT) for record in records]
    restores: dict[int, dict[str, Any]] = {}
    exported = [p for p, record in enumerate(records) if "hash" in record or "prev_hash" in record or "seq" in record]
    for position in exported:
        # An exported event: its log fields are taken out, and it is restored if it has its hash.
        if stamps[position] is _ABSENT:
            raise _Unfit  # the one-by-one path says recorded_at is required
        record = records[position]
        restore = {"recorded_at": stamps[position], **{key: record.pop(key) for key in _RESTORE_FIELDS if key in record}}
        if "hash" in restore:
            restores[position] = restore
    _valid_timestamps([stamp for stamp in stamps if stamp is not _ABSENT])
    ids, bodies = identify_all(records, key_ordered_kinds())
    occurred = [record.get("occurred") for record in records]
    spans = [iso_span(when) if when else _NO_SPAN for when in occurred]
    return PreparedBatch(
        [line for line, _ in items],
        ids,
        [record["kind"] for record in records],
        occurred,
        [start for start, _ in spans],
        [end for _, end in spans],
        _text(bodies),
        [None if stamp is _ABSENT else stamp for stamp in stamps],
        restores,
    )


def _text(bodies: list[bytes]) -> str:
    """Canonical JSON bodies as one text, a line each (JSON escapes any newline within)."""
    return b"\n".join(bodies).decode()


def warm_up() -> None:
    """Build the validators now: done once before forking workers, they inherit them."""
    _prepare_together([])


_ABSENT = object()
#: The log fields an exported event carries besides recorded_at: it is being restored.
_RESTORE_FIELDS = tuple(key for key in LOG_FIELDS if key != "recorded_at")
_NO_SPAN = (None, None)


def utc_now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def chain_hash(prev_hash: str, recorded_at: str, body: bytes) -> str:
    """SHA-256 over the previous hash and the canonical JSON of the event with its recorded_at.

    `body` is the event's canonical JSON without recorded_at; splicing recorded_at in
    as its own sorted key would need a second serialisation, so the hashed bytes are
    defined as: prev_hash, a newline, recorded_at, a newline, body.
    """
    return hashlib.sha256(
        b"%s\n%s\n%s" % (prev_hash.encode(), recorded_at.encode(), body)
    ).hexdigest()


_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z", re.ASCII)


def _valid_timestamp(value: Any) -> str:
    """recorded_at must be exactly the log's own format, so that text order is time order."""
    if not isinstance(value, str) or not _TIMESTAMP.fullmatch(value):
        raise ValueError(
            f"recorded_at {value!r} is not UTC ISO 8601 with microseconds (YYYY-MM-DDTHH:MM:SS.ffffffZ)"
        )
    try:
        dt.datetime.fromisoformat(value[:-1])
    except ValueError:
        raise ValueError(f"recorded_at {value!r} is not a real moment") from None
    return value


#: Timestamps one a line, each a time of day that exists: ASCII digits only, 27 characters.
_TIMESTAMPS = re.compile(r"(?:\d{4}-\d{2}-\d{2}T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{6}Z\n)*", re.ASCII)


def _valid_timestamps(stamps: list[Any]) -> None:
    """`_valid_timestamp` for many at once, without saying which is bad: raises ValueError.

    One pattern over all of them checks the format and the time of day; each distinct
    day is then checked once to be a real date. That accepts exactly what
    `_valid_timestamp` accepts.
    """
    if not stamps:
        return
    if not all(type(stamp) is str for stamp in stamps):
        raise ValueError("recorded_at must be text")
    text = "\n".join(stamps) + "\n"
    if len(text) != 28 * len(stamps) or not _TIMESTAMPS.fullmatch(text):  # (a newline inside one, too)
        raise ValueError("a recorded_at is not in the log's format")
    for day in {stamp[:10] for stamp in stamps}:
        _real_day(day)


@lru_cache(maxsize=4096)
def _real_day(day: str) -> None:
    dt.date.fromisoformat(day)


def _batches(items: Iterable[Any], tuning: Tuning = AUTOMATIC) -> Iterator[PreparedBatch]:
    """Prepared batches of up to BATCH events, in order, from events or batches already prepared."""
    waiting: list[tuple[int | None, Any]] = []
    for item in items:
        if isinstance(item, PreparedBatch):
            if waiting:
                yield prepare_batch(waiting, tuning=tuning)
                waiting = []
            yield item
            continue
        waiting.append(item if isinstance(item, tuple) else (None, item))
        if len(waiting) == BATCH:
            yield prepare_batch(waiting, tuning=tuning)
            waiting = []
    if waiting:
        yield prepare_batch(waiting, tuning=tuning)


def check_restore(log_fields: dict, seq: int, head_hash: str, digest: str, line: int | None) -> None:
    """An exported line restores only where it continues the chain, and only unaltered."""
    if "seq" in log_fields and log_fields["seq"] != seq + 1:
        raise LogError(
            f"seq {log_fields['seq']} does not follow the log's last seq {seq}; "
            "an exported log restores only into the log it continues (or an empty one)",
            line,
        )
    if log_fields.get("prev_hash") != head_hash:
        raise LogError(
            "prev_hash does not continue this log's chain; an exported log restores only "
            "into the log it continues (or an empty one); drop the seq, recorded_at, "
            "prev_hash and hash fields to append its events as new ones",
            line,
        )
    if log_fields["hash"] != digest:
        raise LogError("hash does not match the event's content: the file was altered", line)
