"""Synthetic events for benchmarks: every kind, realistic sizes, content-derived ids.

Deterministic for a given seed. World time runs forward through the log, but a
share of events are recorded late (dated up to a year back) and a share are
corrections or retractions of earlier events, like a real tracker's log. A fifth
of the events about a project report when it is planned to happen (a year, a month
or a day, up to four years ahead, sometimes later than the last plan: a slip), and
about a tenth are figures of listed metrics.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from typing import Any

from events.identity import content_id
from events.models import to_record, validate_event

CENTRAL_ASIA = ["KZ", "UZ", "TM", "KG", "TJ"]
OTHERS = ["CN", "RU", "JP", "TR", "AF", "IR"]
STATUSES = ["proposed", "negotiating", "agreed", "committed", "in_progress", "completed", "suspended", "cancelled"]
WORDS = (
    "railway rolling stock corridor lithium deposit refinery pipeline power plant grid solar wind "
    "hydro logistics hub port terminal shipyard fertiliser urea polyethylene cement textile "
    "agreement delegation ministry agency investment fund training programme university hospital "
    "digital platform customs tariff visa quota remittance workers export import feasibility study"
).split()
PUBLISHERS = [
    ("Caspian Policy Center", None),
    ("Central Asian Light", None),
    ("The Astana Times", "https://astanatimes.com/"),
    ("Gazeta.uz", "https://www.gazeta.uz/en/"),
    ("Yonhap News Agency", "https://en.yna.co.kr/"),
]


def _sentence(rng: random.Random, words: int) -> str:
    text = " ".join(rng.choice(WORDS) for _ in range(words))
    return text[0].upper() + text[1:] + "."


def _source(rng: random.Random, day: dt.date) -> dict[str, Any]:
    publisher, url = rng.choice(PUBLISHERS)
    return {
        "publisher": publisher,
        "title": _sentence(rng, rng.randint(5, 10)).rstrip("."),
        "published": (day + dt.timedelta(days=rng.randint(0, 90))).isoformat(),  # reports lag 0-90 days
        "url": f"{url}{rng.randrange(10**6)}" if url else None,
        "author": rng.choice([None, "Staff reporter", "A. Karimov", "J. Park"]),
    }


def _occurred(rng: random.Random, day: dt.date) -> str:
    roll = rng.random()
    if roll < 0.75:
        return day.isoformat()
    if roll < 0.9:
        return day.strftime("%Y-%m")
    if roll < 0.95:
        end = day + dt.timedelta(days=rng.randint(1, 4))
        return f"{day.isoformat()}/{end.isoformat()}"
    return f"{day.isoformat()}{rng.choice('?~')}"


def _planned(rng: random.Random, day: dt.date) -> str:
    """A planned date up to four years after `day`, at the precision plans are given in."""
    when = day + dt.timedelta(days=rng.randint(30, 4 * 365))
    roll = rng.random()
    if roll < 0.4:
        return str(when.year)
    if roll < 0.7:
        return when.strftime("%Y-%m")
    return when.isoformat()


def _value(rng: random.Random) -> dict[str, Any]:
    return {"amount": str(rng.randrange(1, 5000) * 10**rng.randint(4, 7)), "currency": rng.choice(["USD", "USD", "KRW", "EUR"])}


def _kind_fields(rng: random.Random, kind: str, countries: list[str]) -> dict[str, Any]:
    other = countries[-1]
    if kind == "visit":
        return {"visitor": "Minister " + rng.choice(["Kim", "Lee", "Park", "Choi"]), "visitor_country": "KR",
                "host_country": other, "level": rng.choice(["state", "official", "working", None])}
    if kind == "signing":
        return {"parties": ["Republic of Korea", other], "title": _sentence(rng, 6),
                "agreement_count": rng.randint(1, 12), **({"value": _value(rng)} if rng.random() < 0.3 else {})}
    if kind == "mou":
        return {"parties": ["KOICA", f"Ministry of Energy of {other}"], "subject": _sentence(rng, 5)}
    if kind == "order":
        return {"buyer": f"{other} Railways", "supplier": "Hyundai Rotem", "item": _sentence(rng, 3),
                "quantity": rng.randint(1, 50), "value": _value(rng)}
    if kind == "forum":
        return {"name": "Korea-Central Asia Cooperation Forum", "edition": rng.randint(1, 30),
                "host_country": rng.choice(countries), "attendance": rng.randint(50, 2000)}
    if kind == "meeting":
        return {"participants": ["Ministry of Trade of Korea", f"Ministry of Economy of {other}"], "topic": _sentence(rng, 5)}
    if kind == "summit":
        return {"name": "Korea-Central Asia Summit", "planned_for": str(rng.randint(2024, 2030))}
    if kind == "announcement":
        return {"announcer": rng.choice(["Samsung Electronics", "KT&G", "POSCO", "Doosan Enerbility"]), "subject": _sentence(rng, 6)}
    if kind == "figure":
        return {"metric": rng.choice(["bilateral_trade", "investment_stock", "joint_ventures", "remittances"]),
                "amount": str(rng.randrange(10**3, 10**10)), "unit": rng.choice(["USD", "companies"]), "period": str(rng.randint(2015, 2025))}
    return {}  # milestone: project and status carry it


KIND_WEIGHTS = {
    "visit": 10, "signing": 12, "mou": 12, "order": 10, "forum": 6, "meeting": 14,
    "summit": 3, "announcement": 14, "milestone": 8, "figure": 11,
}


def generate(
    n: int,
    *,
    seed: int = 7,
    late_share: float = 0.10,
    amendment_share: float = 0.01,
    planned_share: float = 0.20,
    projects: int | None = None,
    start: dt.date = dt.date(2005, 1, 1),
) -> Iterator[dict[str, Any]]:
    """`n` events as import dicts (no ids: the store derives them from the content).

    Every event carries an explicit, increasing `recorded_at`, so that knowledge
    time has a history to ask about. World time advances with the log; `late_share`
    of events are dated up to a year before the current world date, and
    `amendment_share` are corrections or retractions of recent events;
    `planned_share` of the events about a project carry a `planned_for`.
    """
    rng = random.Random(seed)
    project_count = projects or max(10, n // 50)
    kinds, weights = zip(*KIND_WEIGHTS.items())
    days = 365 * 20
    recorded = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    recent_ids: list[str] = []  # ids of recent world events, for amendments to target
    corrections: list[str] = []
    for i in range(n):
        recorded += dt.timedelta(microseconds=rng.randint(1, 5_000_000))
        stamp = recorded.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        today = start + dt.timedelta(days=int(days * i / max(n, 1)))
        if recent_ids and rng.random() < amendment_share:
            target = rng.choice(recent_ids)
            if corrections and rng.random() < 0.2:
                yield {"kind": "retraction", "target": corrections.pop(), "reason": _sentence(rng, 6), "recorded_at": stamp}
            elif rng.random() < 0.3:
                recent_ids.remove(target)
                yield {"kind": "retraction", "target": target, "reason": _sentence(rng, 6), "recorded_at": stamp}
            else:
                new_day = today - dt.timedelta(days=rng.randint(0, 60))
                event = {"kind": "correction", "target": target, "changes": {"occurred": new_day.isoformat()},
                         "reason": _sentence(rng, 6), "recorded_at": stamp}
                corrections.append(content_id(to_record(validate_event({k: v for k, v in event.items() if k != "recorded_at"}))))
                yield event
            continue
        day = today - dt.timedelta(days=rng.randint(1, 365)) if rng.random() < late_share else today
        kind = rng.choices(kinds, weights)[0]
        countries = ["KR", rng.choice(CENTRAL_ASIA)] + ([rng.choice(OTHERS)] if rng.random() < 0.1 else [])
        project = f"project-{rng.randrange(project_count)}" if kind == "milestone" or rng.random() < 0.6 else None
        event: dict[str, Any] = {
            "kind": kind,
            "occurred": _occurred(rng, day),
            "countries": countries,
            "summary": _sentence(rng, rng.randint(18, 40)),
            "project": project,
            "status": rng.choice(STATUSES) if kind == "milestone" or (project and rng.random() < 0.1) else None,
            "sources": [_source(rng, day) for _ in range(rng.choice([1, 1, 1, 2]))],
            **_kind_fields(rng, kind, countries),
        }
        if project and kind != "summit" and rng.random() < planned_share:
            event["planned_for"] = _planned(rng, day)
        if project and rng.random() < 0.2:
            event["project_name"] = f"Project {project.split('-')[1]} ({rng.choice(WORDS)})"
        if rng.random() < 0.3:
            event["location"] = {"name": "Tashkent", "lat": 41.2995, "lon": 69.2401}
        event = {k: v for k, v in event.items() if v is not None or k in ("project", "status")}
        if rng.random() < 0.05:  # keep a pool of targets for amendments
            recent_ids.append(content_id(to_record(validate_event(event))))
            if len(recent_ids) > 200:
                recent_ids.pop(0)
        yield {**event, "recorded_at": stamp}
