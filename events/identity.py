"""Canonical JSON and content-derived ids: how an event is written down exactly once.

Two events with the same content must produce the same bytes, so that hashing is
reproducible and importing the same file twice recognises what it already has.
"""

from __future__ import annotations

import hashlib
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
    serialising once: the id is spliced into the canonical bytes of the rest, in
    front of the key that sorts after "id". A large import does this per event.
    `key_ordered` says every dict in the record already has its keys in sorted order
    (see `events.models.key_ordered_kinds`), so they need no sorting.
    """
    dump = orjson.dumps if key_ordered else canonical_json
    if "id" in record:
        return record["id"], dump(record)
    rest = dump(record)
    occurred = record.get("occurred")
    prefix = iso_span(occurred)[0] if occurred else str(record.get("target", "amendment"))[:80]
    event_id = f"{prefix}-{record['kind']}-{hashlib.sha256(rest).hexdigest()[:12]}"
    following = None
    if key_ordered:
        for key in record:
            if key > "id":
                following = key
                break
    else:
        following = min((key for key in record if key > "id"), default=None)
    if following is not None:
        # `"key":` with its quotes unescaped is always a key; with no "{" before it
        # (other than the outer one) no nested object is open, so it is top-level.
        at = rest.find(_key_text(following))
        if at > 0 and rest.find(b"{", 1, at) < 0:
            return event_id, b"".join((rest[:at], b'"id":', orjson.dumps(event_id), b",", rest[at:]))
    return event_id, canonical_json({**record, "id": event_id})
