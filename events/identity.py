"""Canonical JSON and content-derived ids: how an event is written down exactly once.

Two events with the same content must produce the same bytes, so that hashing is
reproducible and importing the same file twice recognises what it already has.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_right
from collections.abc import Container
from functools import lru_cache
from typing import Any

import orjson

from .dates import iso_span


def canonical_json(data: Any) -> bytes:
    """Sorted keys, no insignificant whitespace, UTF-8 (non-ASCII kept as is)."""
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
    `events.models.key_ordered_kinds`) have every dict's keys in sorted order
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
