"""Canonical JSON and content-derived ids: how an event is written down exactly once.

Two events with the same content must produce the same bytes, so that hashing is
reproducible and importing the same file twice recognises what it already has.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from .dates import parse_occurred


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
        prefix = parse_occurred(record["occurred"]).start.isoformat()
    else:
        prefix = str(record.get("target", "amendment"))[:80]
    return f"{prefix}-{record['kind']}-{digest}"
