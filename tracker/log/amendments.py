"""Corrections and retractions: the effective form of an event, as known at a moment.

The log never changes; what changes is what an event is taken to say. The
effective form of an event is the original with every live correction applied in
log order. A retraction makes an event (or a correction) count nowhere from the
moment the retraction is recorded.

A correction is reported somewhere too, so its own `sources` join the effective
form's provenance (see `effective_form`): what the tracker takes an event to say
rests on the event's sources and on those of every correction that changed it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from events.models import MODELS
from events.problems import explain


@dataclass(frozen=True)
class Amendment:
    id: str
    kind: str  # "correction" or "retraction"
    target: str
    seq: int | None
    recorded_at: str | None
    changes: dict[str, Any]
    #: Why it was made, and where it was reported (the amendment's own sources, as logged).
    reason: str | None = None
    sources: tuple[dict[str, Any], ...] = ()

    @classmethod
    def from_record(
        cls, record: dict[str, Any], seq: int | None, recorded_at: str | None = None
    ) -> Amendment:
        return cls(
            record["id"],
            record["kind"],
            record["target"],
            seq,
            recorded_at,
            record.get("changes") or {},
            record.get("reason"),
            tuple(record.get("sources") or ()),
        )


def apply_corrections(record: dict[str, Any], changes_in_order: list[dict[str, Any]]) -> dict[str, Any]:
    """The record with each set of changes applied in turn; a null value removes a field.

    Only the changes: the result is the event as its corrections say it, valid (or not)
    by the event's own model, with none of the provenance `effective_form` adds.
    """
    result = dict(record)
    for changes in changes_in_order:
        for key, value in changes.items():
            if value is None and key not in ("project", "status"):
                result.pop(key, None)
            else:
                result[key] = value
    return result


def live_corrections(
    event_id: str, amendments: list[Amendment], known_at: str | None = None
) -> list[Amendment] | None:
    """The corrections of `event_id` that count at `known_at` (None: now), in log order;
    None if the event itself is retracted then. `amendments` are as for `effective_form`."""
    known = [a for a in amendments if known_at is None or (a.recorded_at or "") <= known_at]
    retracted = {a.target for a in known if a.kind == "retraction"}
    if event_id in retracted:
        return None
    return [a for a in known if a.kind == "correction" and a.id not in retracted]


def with_provenance(form: dict[str, Any], corrections: list[Amendment]) -> dict[str, Any]:
    """`form` (corrections applied) with those corrections' sources and an account of each.

    - `sources` lists the event's own sources (as corrected, should a correction
      replace them), then each correction's sources in log order, each source once;
      it stays a plain list of source objects.
    - `amended_by` lists the corrections, in log order, as
      `{"id", "fields", "reason", "sources"}`: the correction's id, the fields it
      changed (as its `changes` names them), why, and its own sources (possibly none).
      It says which source supports which change.
    """
    sources = list(form.get("sources") or ())
    amended_by = []
    for correction in corrections:
        for source in correction.sources:
            if source not in sources:
                sources.append(source)
        amended_by.append({
            "id": correction.id,
            "fields": list(correction.changes),
            "reason": correction.reason,
            "sources": list(correction.sources),
        })
    return {**form, "sources": sources, "amended_by": amended_by}


def changes_made(record: dict[str, Any], corrections: list[Amendment]) -> list[dict[str, Any]]:
    """What each of `corrections` (live, in log order) changed in `record`, field by field.

    One dict per correction: `{"id", "recorded_at", "reason", "sources", "changes"}`,
    its `changes` a list of `{"field", "old", "new"}` in the order the correction
    names them. `old` is the value just before this correction (after the ones before
    it), `new` the value it sets; null stands for no value (a field absent, or removed).
    """
    account = []
    current = record
    for correction in corrections:
        account.append({
            "id": correction.id,
            "recorded_at": correction.recorded_at,
            "reason": correction.reason,
            "sources": list(correction.sources),
            "changes": [
                {"field": name, "old": current.get(name), "new": value}
                for name, value in correction.changes.items()
            ],
        })
        current = apply_corrections(current, [correction.changes])
    return account


def effective_form(
    record: dict[str, Any], amendments: list[Amendment], known_at: str | None = None
) -> dict[str, Any] | None:
    """What the tracker took `record` to say at `known_at` (None: now), or None if retracted then.

    `amendments` are the event's corrections and retractions and the retractions of
    those corrections, each with its recorded_at, in log order.

    With no live correction the result is `record` itself (the same object). Otherwise
    it is a new dict: the live corrections applied in log order (`apply_corrections`),
    with their provenance (`with_provenance`): `sources` gains each live correction's
    sources, and `amended_by` lists each live correction's id, the fields it changed,
    its reason and its sources. A retracted correction is in neither, so its sources
    leave the effective form again. The form stays plain JSON: `effective_events.body`
    stores it, and `list --json` prints it.
    """
    live = live_corrections(record["id"], amendments, known_at)
    if live is None:
        return None
    if not live:
        return record
    return with_provenance(apply_corrections(record, [a.changes for a in live]), live)


def amendment_problem(record: dict[str, Any], target: dict[str, Any], history: list[Amendment]) -> str | None:
    """Why the log refuses the correction or retraction `record` of `target`, or None.

    `history` is the target's amendments so far. A retraction cannot be amended, a
    correction is not corrected (retract it and record a new one), nothing is retracted
    twice, and a correction must leave its target a valid event of its kind.
    """
    target_id = record["target"]
    if target["kind"] == "retraction":
        return f"'{target_id}' is a retraction; a retraction cannot be amended"
    if target["kind"] == "correction" and record["kind"] == "correction":
        return f"'{target_id}' is a correction; correct its target instead, or retract it and record a new one"
    live = live_corrections(target_id, history)
    if live is None:
        return f"'{target_id}' was already retracted"
    if record["kind"] == "correction":
        corrected = apply_corrections(target, [a.changes for a in live] + [record["changes"]])
        try:
            MODELS[target["kind"]].model_validate(corrected)
        except ValidationError as e:
            return f"the correction would make '{target_id}' invalid: {explain(e)}"
    return None
