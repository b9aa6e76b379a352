"""Canonical JSON and the hash chain, pinned to the byte: what an outside verifier recomputes.

The README (The log, "Tamper-evident") states the rule. These examples hold the tracker
to it, and show that Python's standard `json` module, which shares no code with the
orjson the tracker writes with, gets the same bytes and therefore the same hashes.
"""

from __future__ import annotations

import hashlib
import json

import pytest

from events.identity import canonical_json
from tracker.log.bundled import record_path
from tracker.log.importing import import_file
from tracker.log.preparing import GENESIS, prepare, prepare_batch
from tracker.log.tuning import TOGETHER_FROM

RECORDED_AT = "2025-01-31T09:00:00.000000Z"

#: Non-ASCII text (Hangul, Kazakh Cyrillic, guillemets), a nested source with a null, and
#: a location with fractional coordinates.
VISIT = {
    "kind": "visit",
    "occurred": "2024-06-12",
    "countries": ["KR", "KZ"],
    "summary": "Yoon Suk-yeol (윤석열) met Kassym-Jomart Tokayev (Қасым-Жомарт Тоқаев) in Astana.",
    "sources": [
        {
            "publisher": "Central Asian Light",
            "title": "Yoon in Astana: «a new chapter»",
            "published": "2024-06-12",
            "url": "https://example.org/news?id=7&lang=kk",
            "author": None,
        }
    ],
    "location": {"name": "Astana", "lat": 51.1694, "lon": 71.4491},
    "visitor": "Yoon Suk-yeol",
    "visitor_country": "KR",
    "host_country": "KZ",
    "level": "state",
}

#: An amount given with an exponent, a whole-number latitude, a source with no url.
SIGNING = {
    "kind": "signing",
    "occurred": "2024-06-14",
    "countries": ["KR", "UZ"],
    "summary": "Korea and Uzbekistan signed agreements worth about 1.5 billion dollars in Tashkent.",
    "sources": [
        {
            "publisher": "Caspian Policy Center",
            "title": "Implementing the K-Silk Road",
            "published": "2025-01-31",
            "author": "Maia Kiniyalocts",
        }
    ],
    "project": "kr-uz-tashkent-agreements",
    "parties": ["Korea", "Uzbekistan"],
    "title": "Seventeen agreements",
    "agreement_count": 17,
    "value": {"amount": "1.5e9", "currency": "USD"},
    "location": {"name": "Tashkent", "lat": 41, "lon": 69.2401},
}

#: An amendment: no date of its own, its id starts with its target's.
CORRECTION = {
    "kind": "correction",
    "target": "2024-06-14-signing-692c19a235f9",
    "changes": {"agreement_count": 16, "title": "Sixteen agreements"},
    "reason": "The ministry’s list has sixteen.",
    "sources": [
        {"publisher": "Caspian Policy Center", "title": "Implementing the K-Silk Road", "published": "2025-01-31"}
    ],
}

#: (event, its id, its canonical JSON, its hash when logged third after the others at RECORDED_AT)
PINNED = [
    (
        VISIT,
        "2024-06-12-visit-2af37f68a617",
        '{"countries":["KR","KZ"],"host_country":"KZ","id":"2024-06-12-visit-2af37f68a617",'
        '"kind":"visit","level":"state","location":{"lat":51.1694,"lon":71.4491,"name":"Astana"},'
        '"occurred":"2024-06-12","project":null,"sources":[{"author":null,"published":"2024-06-12",'
        '"publisher":"Central Asian Light","title":"Yoon in Astana: «a new chapter»",'
        '"url":"https://example.org/news?id=7&lang=kk"}],"status":null,'
        '"summary":"Yoon Suk-yeol (윤석열) met Kassym-Jomart Tokayev (Қасым-Жомарт Тоқаев) in Astana.",'
        '"visitor":"Yoon Suk-yeol","visitor_country":"KR"}',
        "8327067aebfe0a6f4cece06bce8df610f083ed45436ed1ad66d7d19f293abc8c",
    ),
    (
        SIGNING,
        "2024-06-14-signing-692c19a235f9",
        '{"agreement_count":17,"countries":["KR","UZ"],"id":"2024-06-14-signing-692c19a235f9",'
        '"kind":"signing","location":{"lat":41.0,"lon":69.2401,"name":"Tashkent"},'
        '"occurred":"2024-06-14","parties":["Korea","Uzbekistan"],"project":"kr-uz-tashkent-agreements",'
        '"sources":[{"author":"Maia Kiniyalocts","published":"2025-01-31",'
        '"publisher":"Caspian Policy Center","title":"Implementing the K-Silk Road","url":null}],'
        '"status":null,'
        '"summary":"Korea and Uzbekistan signed agreements worth about 1.5 billion dollars in Tashkent.",'
        '"title":"Seventeen agreements","value":{"amount":"1500000000","currency":"USD"}}',
        "ed49ad87810ecd294887444d207a9cb1cb8ca230640a9f1916c33e3a8b6bbe29",
    ),
    (
        CORRECTION,
        "2024-06-14-signing-692c19a235f9-correction-0773e52f7aab",
        '{"changes":{"agreement_count":16,"title":"Sixteen agreements"},"countries":[],'
        '"id":"2024-06-14-signing-692c19a235f9-correction-0773e52f7aab","kind":"correction",'
        '"project":null,"reason":"The ministry’s list has sixteen.","sources":[{"author":null,'
        '"published":"2025-01-31","publisher":"Caspian Policy Center",'
        '"title":"Implementing the K-Silk Road","url":null}],"status":null,'
        '"target":"2024-06-14-signing-692c19a235f9"}',
        "6d1b333bec5574b86c833562638ab99db38d8df738c259b55ef62f3ff8ed29bd",
    ),
]
EVENTS = [event for event, *_ in PINNED]
NAMES = ["visit", "signing", "correction"]


def stdlib_canonical(data) -> bytes:
    """Canonical JSON as the README tells an outside verifier to write it, in Python's standard library."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def stdlib_chain_hash(prev_hash: str, recorded_at: str, body: bytes) -> str:
    return hashlib.sha256(f"{prev_hash}\n{recorded_at}\n".encode() + body).hexdigest()


@pytest.mark.parametrize(("event", "event_id", "body", "_"), PINNED, ids=NAMES)
def test_an_event_is_written_down_as_exactly_these_bytes(event, event_id, body, _):
    prepared = prepare(event)
    assert prepared.id == event_id
    assert prepared.body == body.encode()


def test_a_large_import_writes_the_same_bytes():
    # Enough events for the import's batch validator, which writes bodies its own way.
    items = [(None, event) for event in EVENTS * (TOGETHER_FROM // len(EVENTS) + 1)]
    batch = prepare_batch(items)
    assert batch.bodies.split("\n")[: len(PINNED)] == [body for _, _, body, _ in PINNED]


def test_the_chain_hashes_are_exactly_these(store):
    store.append(EVENTS, recorded_at=RECORDED_AT)
    logged = list(store.iter_events())
    assert [event.hash for event in logged] == [digest for *_, digest in PINNED]
    assert [event.prev_hash for event in logged] == [GENESIS] + [digest for *_, digest in PINNED[:-1]]


@pytest.mark.parametrize(("event", "event_id", "body", "_"), PINNED, ids=NAMES)
def test_the_standard_library_writes_the_same_canonical_json(event, event_id, body, _):
    assert stdlib_canonical(json.loads(body)) == body.encode()


def test_the_standard_library_recomputes_every_hash_of_an_export(store):
    """An outside verifier's whole job: drop the four log fields from each exported line,
    write the rest canonically, and chain SHA-256 over prev_hash, recorded_at and that."""
    import_file(store, str(record_path()), show_progress=False)
    store.append(EVENTS, recorded_at="2999-01-01T00:00:00.000000Z")
    prev_hash = GENESIS
    for line in store.export_lines():
        event = json.loads(line)
        seq, recorded_at, claimed_prev, claimed = (event.pop(key) for key in ("seq", "recorded_at", "prev_hash", "hash"))
        assert claimed_prev == prev_hash, seq
        assert stdlib_chain_hash(prev_hash, recorded_at, stdlib_canonical(event)) == claimed, seq
        prev_hash = claimed
    assert prev_hash == store.head()[1]


@pytest.mark.parametrize(
    ("coordinate", "tracker", "stdlib"),
    [
        (51.1694, "51.1694", "51.1694"),
        (41.0, "41.0", "41.0"),
        (-0.0, "-0.0", "-0.0"),
        (0.0001, "0.0001", "0.0001"),
        # Below 0.0001 the standard library switches to an exponent with two digits;
        # the log keeps positional notation down to 0.00001, then a bare exponent.
        (0.00001, "0.00001", "1e-05"),
        (-0.000025, "-0.000025", "-2.5e-05"),
        (0.0000001, "1e-7", "1e-07"),
        (1.5e-9, "1.5e-9", "1.5e-09"),
    ],
)
def test_coordinates_are_written_as_the_readme_says(coordinate, tracker, stdlib):
    location = {"lat": coordinate}
    assert canonical_json(location) == b'{"lat":%s}' % tracker.encode()
    assert stdlib_canonical(location) == b'{"lat":%s}' % stdlib.encode()
