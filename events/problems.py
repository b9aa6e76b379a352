"""What is wrong with an event, in the tracker's own words: every problem a validation
finds, each naming its field, with a reason a person can act on. No pydantic phrasing
reaches a user; the command line and the import both speak through here."""

from __future__ import annotations

from typing import Any, NamedTuple

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from events.codes import code_named, code_point, country_names, first_unsafe, unsafe_kind, visible
from events.models import (
    _NAMED,
    AMOUNT_RULE,
    ID_PATTERN,
    ID_RULE,
    KINDS,
    TEXT_RULE,
    URL_PATTERN,
    CountryCode,
    CurrencyCode,
    Envelope,
    inner_type,
    shown,
)

class Problem(NamedTuple):
    """One thing wrong with an event: where (the path to the field), what sort of error, and why."""

    loc: tuple[str | int, ...]
    type: str
    reason: str


def problems(error: ValidationError) -> list[Problem]:
    """Every problem a validation found, each in the tracker's words rather than pydantic's.

    A reason does not name its field, so that each front end can say where in its
    own terms: `explain` by the JSON path, `tracker log` by the option as it was typed.
    """
    model = _NAMED.get(error.title)
    return [_problem(details, model) for details in error.errors(include_url=False)]


def explain(error: ValidationError) -> str:
    """One line naming every field in trouble and what is wrong with it, `; `-separated.

    The line is safe to print: any character text may not hold, even in a field's
    name, is shown as `<U+001B>`, and quoted values are cut short.
    """
    return visible("; ".join(
        f"field '{'.'.join(str(part) for part in p.loc)}': {p.reason}" if p.loc else p.reason
        for p in problems(error)
    ))


def _problem(details: Any, model: type[BaseModel] | None) -> Problem:
    """One pydantic error in the tracker's words: every rule the models enforce is worded here."""
    loc = tuple(details.get("loc", ()))
    error_type = details["type"]
    given = details.get("input")
    ctx = details.get("ctx") or {}
    if error_type == "union_tag_not_found":
        return Problem(("kind",), "missing", f"is required: one of {', '.join(KINDS)}")
    if error_type in ("union_tag_invalid", "model_attributes_type"):
        return Problem(("kind",), error_type, f"must be one of: {', '.join(KINDS)}")
    unsafe = first_unsafe(given) if isinstance(given, str) and error_type in _TEXT_ERRORS else None
    if unsafe is not None:
        reason = f"contains the {unsafe_kind(unsafe)} {code_point(unsafe)}: {TEXT_RULE}"
    elif error_type == "string_pattern_mismatch":
        reason = _pattern_reason(loc, given, ctx.get("pattern"))
    elif error_type == "literal_error":
        reason = _literal_reason(_walk(model, loc)[0], given, ctx.get("expected", ""))
    elif error_type == "extra_forbidden":
        holder = _walk(model, loc[:-1])[1]
        reason = (
            "is not a field of this kind of event" if holder is None or issubclass(holder, Envelope)
            else f"is not a field of {_a(holder)}: its fields are {', '.join(holder.model_fields)}"
        )
    elif error_type == "model_type":
        holder = _NAMED.get(ctx.get("class_name"))
        fields = f" with the fields {', '.join(holder.model_fields)}" if holder is not None else ""
        reason = f"must be an object{fields}, not {shown(given)}"
    elif error_type == "greater_than_equal" and ctx.get("ge") == 0:
        reason = f"{shown(given)} is negative: it must be 0 or more"
    elif error_type in ("greater_than_equal", "greater_than"):
        reason = f"{shown(given)} is less than {ctx.get('ge', ctx.get('gt'))}, the least allowed"
    elif error_type in ("less_than_equal", "less_than"):
        reason = f"{shown(given)} is more than {ctx.get('le', ctx.get('lt'))}, the most allowed"
    elif error_type == "too_short":
        least = ctx.get("min_length", 1)
        reason = "is empty: at least one is required" if least == 1 else f"must have at least {least} items"
    elif error_type == "too_long":
        reason = f"has {ctx.get('actual_length')} items: at most {ctx.get('max_length')} are allowed"
    elif error_type == "string_too_short":
        least = ctx.get("min_length", 1)
        reason = "must not be empty" if least == 1 else f"must be at least {least} characters long"
    elif error_type == "string_too_long":
        reason = f"is too long ({len(given):,} characters): at most {ctx.get('max_length'):,} are allowed"
    else:
        reason = _WORDING.get(error_type, "{msg}").format(
            given=shown(given), msg=details.get("msg", "is not valid").removeprefix("Value error, ")
        )
    return Problem(loc, error_type, reason)


#: The tracker's words for errors that need only the value given to explain them.
_WORDING = {
    "missing": "is required",
    "string_type": "must be text (a JSON string), not {given}",
    "string_unicode": "must be text, not {given}",
    "int_type": "must be a whole number (a JSON integer such as 7), not {given}",
    "int_parsing": "must be a whole number (a JSON integer such as 7), not {given}",
    "int_from_float": "must be a whole number (a JSON integer such as 7), not {given}",
    "float_type": "must be a number, not {given}",
    "float_parsing": "must be a number, not {given}",
    "finite_number": "{given} is not a finite number",
    "decimal_type": "must be a number, not {given}",
    "decimal_parsing": "{given} is not a number",
    "decimal_max_digits": f"{{given}} is out of range: {AMOUNT_RULE}",
    "decimal_max_places": f"{{given}} is out of range: {AMOUNT_RULE}",
    "decimal_whole_digits": f"{{given}} is out of range: {AMOUNT_RULE}",
    "list_type": "must be a list (a JSON array), not {given}",
    "dict_type": "must be an object (a JSON object), not {given}",
    # The models' own validators (dates, rules across fields) already speak the tracker's words.
    "value_error": "{msg}",
}
#: Errors that a character text may not hold can cause: they are explained by that character.
_TEXT_ERRORS = frozenset({"string_pattern_mismatch", "string_unicode"})


def _pattern_reason(loc: tuple, given: Any, pattern: str | None) -> str:
    last = str(loc[-1]) if loc else ""
    if pattern == URL_PATTERN:
        return f"{shown(given)} is not an http(s) URL: it must start with http:// or https:// and hold no spaces"
    if pattern == ID_PATTERN:
        return f"{shown(given)} is not {'an event id' if last in ('id', 'target') else 'a slug'}: {ID_RULE}"
    if last == "[key]":
        return f"{shown(given)} is not a field name: use lower-case letters a-z, digits 0-9 and '_'"
    if last == "published":
        # as precise as the source shows: a day, or only its month or year
        return f"{shown(given)} is not a calendar date (YYYY-MM-DD, digits 0-9), a month (YYYY-MM) or a year (YYYY)"
    return f"{shown(given)} is not in the form this field takes"


def _literal_reason(field: FieldInfo | None, given: Any, expected: str) -> str:
    holds = inner_type(field.annotation)[0] if field is not None else None
    if holds == CountryCode:
        hint = ""
        if isinstance(given, str) and given.upper() in country_names():
            hint = f" (codes are upper case: {given.upper()})"
        elif isinstance(given, str) and code_named(given):
            hint = f" ({given.strip()} is {code_named(given)})"
        return f"{shown(given)} is not an ISO 3166-1 alpha-2 country code{hint}"
    if holds == CurrencyCode:
        return f"{shown(given)} is not an ISO 4217 currency code"
    return f"{shown(given)} is not one of {expected}"


def _walk(model: type[BaseModel] | None, loc: tuple) -> tuple[FieldInfo | None, type[BaseModel] | None]:
    """Follow an error's path through the models: the last field on it, and the model it leads to.

    `('sources', 0)` leads to a Source; `('countries', 1)` ends in the `countries` field.
    """
    field = None
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part) if model is not None else None
        if field is None:
            return None, None
        holds = inner_type(field.annotation)[0]
        model = holds if isinstance(holds, type) and issubclass(holds, BaseModel) else None
    return field, model


def _a(model: type[BaseModel]) -> str:
    """'a source': how messages name a nested model."""
    return f"a {model.__name__.lower()}"
