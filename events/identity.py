"""Canonical JSON and content-derived ids: how an event is written down exactly once.

Two events with the same content must produce the same bytes, so that hashing is
reproducible and importing the same file twice recognises what it already has.
"""

from __future__ import annotations

import hashlib
import json
from bisect import bisect_right
from collections.abc import Container
from functools import lru_cache
from typing import Any

import orjson

from .dates import iso_span


def canonical_json(data: Any) -> bytes:
    """The one way an event is written down: the bytes its hash and content id are taken over.

    orjson with sorted keys: every object's keys in code-point order, no whitespace,
    UTF-8 with only `"`, `\\` and control characters escaped, whole numbers in decimal,
    and floats (a location's lat and lon, nothing else) in the shortest digits that read
    back as the same float, with a decimal point, and an exponent below 1e-5 in size
    (`1e-7`). The README ("The log") states this for verifiers written in other
    languages, and tests/test_canonical_json.py pins it to the byte. orjson 3.11.7 began
    writing positive exponents with a `+`; no event holds a number large enough for one.
    """
    return orjson.dumps(data, option=orjson.OPT_SORT_KEYS)


def content_id(record: dict[str, Any]) -> str:
    """An id derived from an event's content: `2024-06-12-visit-1f3a9c0b7d2e`.

    It starts with the event's first possible day, so ids read well, sort roughly
    in world-time order and keep the UNIQUE index's inserts local (random ids
    thrash SQLite's page cache on large imports). Amendments start with their
    target instead, so a correction files next to what it corrects.
    """
    body = {key: value for key, value in record.items() if key != "id"} if "id" in record else record
    digest = hashlib.sha256(canonical_json(body)).hexdigest()[:12]
    if record.get("occurred"):
        prefix = iso_span(record["occurred"])[0]
    else:
        prefix = str(record.get("target", "amendment"))[:80]
    return f"{prefix}-{record['kind']}-{digest}"


@lru_cache(maxsize=1024)
def _key_text(key: str) -> bytes:
    """How a key starts its member in JSON: `"key":`."""
    return orjson.dumps(key) + b":"


def identified(record: dict[str, Any], *, key_ordered: bool = False) -> tuple[str, bytes]:
    """(id, canonical JSON with that id) of a record: its own id, else its content id.

    The same as `content_id` and then `canonical_json` of the record with the id, but
    serialising once (see `identify_all`). `key_ordered` says every dict in the
    record already has its keys in sorted order, so they need no sorting.
    """
    ids, bodies = identify_all([record], (record["kind"],) if key_ordered else ())
    return ids[0], bodies[0]


def identify_all(records: list[dict[str, Any]], key_ordered: Container[str] = ()) -> tuple[list[str], list[bytes]]:
    """(ids, canonical JSON bodies with those ids) of records, each as `identified` gives it.

    A large import does this for every event, so the id is spliced into the
    canonical bytes of the rest, in front of the key that sorts after "id", rather
    than written a second time. Records whose kind is in `key_ordered` (see
    `events.batch.key_ordered_kinds`) have every dict's keys in sorted order
    already, and are written without sorting.
    """
    ids, bodies = [], []
    sha256, dumps = hashlib.sha256, orjson.dumps
    for record in records:
        ordered = record["kind"] in key_ordered
        rest = dumps(record) if ordered else canonical_json(record)
        if "id" in record:
            ids.append(record["id"])
            bodies.append(rest)
            continue
        occurred = record.get("occurred")
        prefix = iso_span(occurred)[0] if occurred else str(record.get("target", "amendment"))[:80]
        event_id = f"{prefix}-{record['kind']}-{sha256(rest).hexdigest()[:12]}"
        keys = list(record) if ordered else sorted(record)
        after = bisect_right(keys, "id")
        if after < len(keys):
            # `"key":` with its quotes unescaped is always a key; with no "{" before it
            # (other than the outer one) no nested object is open, so it is top-level.
            key = _key_text(keys[after])
            at = rest.find(key)
            if at > 0 and rest.find(b"{", 1, at) < 0:
                ids.append(event_id)
                bodies.append(rest.replace(key, b'"id":%b,%b' % (dumps(event_id), key), 1))
                continue
        ids.append(event_id)
        bodies.append(canonical_json({**record, "id": event_id}))
    return ids, bodies


# Duplicate keys ------------------------------------------------------------------------
#
# JSON parsers, orjson among them, keep the last of two members with the same key and
# drop the other without a word. An event that names a field twice is ambiguous, so
# input with a duplicate key anywhere is refused. orjson cannot say whether it dropped
# anything; the checks below can, cheaply enough for an import of millions of lines.


class _Doubled(Exception):
    def __init__(self, key: str):
        self.key = key


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _Doubled(key)
            seen.add(key)
    return result


_PAIRS = json.JSONDecoder(object_pairs_hook=_unique_pairs)


class NestingError(ValueError):
    """JSON nested too deeply to check (far deeper than any event)."""


def duplicate_key(text: bytes | str) -> str | None:
    """A key that some object in the JSON `text` has twice, or None if none has.

    Exact but slow (the standard library's parser, with a hook on every object): for
    text already known to be valid JSON. Raises NestingError for JSON nested too deeply
    for that parser.
    """
    try:
        _PAIRS.decode(text.decode() if isinstance(text, bytes) else text)
    except _Doubled as e:
        return e.key
    except RecursionError:
        raise NestingError("nested too deeply") from None
    return None


def may_repeat_a_key(text: bytes, parsed: Any) -> bool:
    """False when the JSON `text`, which orjson parsed into `parsed`, surely has no
    duplicate key; True when it may have one (then ask `duplicate_key`).

    `parsed` has no duplicate key (the parser kept one member of each), and neither has
    orjson's writing of it, so text that is exactly that writing (as every line of an
    export is) has none either. Other text is judged by counting colons. Outside
    strings, JSON has one colon per object member; inside strings, a colon is written
    as itself or escaped as \\u003a. orjson writes each member of `parsed` and each
    colon in its strings as one colon, so, without a \\u003a escape in `text`, the two
    counts are equal exactly when no member was dropped: when no key came twice.
    Costs a fifth to a half of what parsing the text cost.
    """
    try:
        written = orjson.dumps(parsed)
    except orjson.JSONEncodeError:  # nested deeper than orjson writes: let the exact check decide
        return True
    if written == text:
        return False
    if b"\\" in text and b"\\u003" in text:
        return True
    return text.count(b":") != written.count(b":")
