"""Turning what a person types into event fields, driven by the models' own field types.

`tracker log KIND` options, their help, the prompts for missing fields and the
values of `tracker correct --set FIELD=VALUE` all come from here, so the command
line never restates what a field is: the pydantic model says it.
"""

from __future__ import annotations

import re
import types
import typing
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal, Union

import orjson
from pydantic.fields import FieldInfo

from events.identity import NestingError, duplicate_key
from events.models import Location, Source, Value

SOURCE_FORM = "'PUBLISHER | TITLE | YYYY-MM-DD [| URL] [| AUTHOR]'"
VALUE_FORM = "'AMOUNT CURRENCY', e.g. '196000000 USD'"
LOCATION_FORM = "'PLACE @ LAT, LON', e.g. 'Astana @ 51.1694, 71.4491'"

#: Option names the contract fixes where they differ from the field name.
OPTION_NAMES = {"occurred": "date", "countries": "country", "sources": "source"}


class InputError(ValueError):
    """Typed text that does not fit the field it was given for."""


def parse_source(text: str) -> dict[str, Any]:
    parts = [part.strip() for part in text.split("|")]
    if len(parts) < 3 or not all(parts[:3]):
        raise InputError(f"--source '{text}': use {SOURCE_FORM}")
    source: dict[str, Any] = {"publisher": parts[0], "title": parts[1], "published": parts[2]}
    for extra in filter(None, parts[3:]):
        key = "url" if re.match(r"^https?://", extra, re.IGNORECASE) else "author"
        if key in source:
            raise InputError(f"--source '{text}': more than one {key}; use {SOURCE_FORM}")
        source[key] = extra
    return source


def parse_value(text: str) -> dict[str, Any]:
    match = re.fullmatch(r"\s*([0-9][0-9_,]*(?:\.[0-9]+)?)\s*([A-Za-z]{3})\s*", text)
    if not match:
        raise InputError(f"'{text}' is not a value: use {VALUE_FORM}")
    return {"amount": match.group(1).replace(",", "").replace("_", ""), "currency": match.group(2).upper()}


def parse_location(text: str) -> dict[str, Any]:
    name, at, coordinates = text.rpartition("@")
    number = r"(-?[0-9]+(?:\.[0-9]+)?)"
    match = re.fullmatch(rf"\s*{number}\s*,\s*{number}\s*", coordinates, re.ASCII)
    if not at or not name.strip() or not match:
        raise InputError(f"'{text}' is not a location: use {LOCATION_FORM}")
    return {"name": name.strip(), "lat": float(match.group(1)), "lon": float(match.group(2))}


@dataclass(frozen=True)
class FieldInput:
    """How one model field is typed on the command line."""

    name: str
    option: str
    multiple: bool
    required: bool
    help: str
    choices: tuple[str, ...] | None
    parse: typing.Callable[[str], Any]
    metavar: str

    def convert(self, raw: str) -> Any:
        return self.parse(raw)


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """(the inner type, whether it is a list), through Optional and Annotated."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            annotation = args[0]
        elif origin is list:
            inner, _ = _unwrap(typing.get_args(annotation)[0])
            return inner, True
        else:
            return annotation, False


def _as_text(raw: str) -> str:
    return raw


def _as_int(raw: str) -> int:
    # ASCII digits only: int() alone would also read other scripts' digits.
    if not re.fullmatch(r"\s*-?[0-9][0-9,_]*\s*", raw, re.ASCII):
        raise InputError(f"'{raw}' is not a whole number")
    return int(raw.replace(",", "").replace("_", ""))


def _as_country(raw: str) -> str:
    return raw.strip().upper()


def field_input(name: str, info: FieldInfo) -> FieldInput:
    inner, multiple = _unwrap(info.annotation)
    choices = None
    parse: typing.Callable[[str], Any] = _as_text
    metavar = "TEXT"
    if name == "countries" or name.endswith("_country"):
        parse, metavar = _as_country, "CC"
    elif inner is Source:
        parse, metavar = parse_source, "SOURCE"
    elif inner is Value:
        parse, metavar = parse_value, "'AMOUNT CUR'"
    elif inner is Location:
        parse, metavar = parse_location, "'PLACE @ LAT, LON'"
    elif inner is int:
        parse, metavar = _as_int, "N"
    elif inner is Decimal:
        metavar = "NUMBER"
    elif typing.get_origin(inner) is Literal:
        choices = tuple(typing.get_args(inner))
        metavar = "[" + "|".join(choices) + "]"
    elif name in ("occurred", "planned_for", "period"):
        metavar = "DATE"
    help_text = info.description or name
    if inner is Source:
        help_text += f": {SOURCE_FORM}"
    if multiple:
        help_text += " (repeat for more)" if name != "countries" else " (repeat, or comma-separate)"
    return FieldInput(
        name=name,
        option="--" + OPTION_NAMES.get(name, name).replace("_", "-"),
        multiple=multiple,
        required=info.is_required(),
        help=help_text,
        choices=choices,
        parse=parse,
        metavar=metavar,
    )


def parse_assignment(model_fields: dict[str, FieldInfo], assignment: str) -> tuple[str, Any]:
    """`FIELD=VALUE` for `tracker correct --set`, typed like the field's `tracker log` option.

    A list field takes comma-separated items (`countries=KZ,KR`); a VALUE that is
    JSON (`[...]`, `{...}`, `null`) is taken as JSON, for anything structured.
    """
    name, eq, raw = assignment.partition("=")
    name = name.strip().replace("-", "_")
    name = {"date": "occurred", "country": "countries", "source": "sources"}.get(name, name)
    if not eq or not name:
        raise InputError(f"--set '{assignment}': use FIELD=VALUE")
    if name not in model_fields:
        raise InputError(f"--set '{assignment}': '{name}' is not a field of this kind of event")
    stripped = raw.strip()
    if stripped == "null" or stripped[:1] in "[{":
        try:
            value = orjson.loads(stripped)
            doubled = duplicate_key(stripped)
        except (orjson.JSONDecodeError, NestingError):
            raise InputError(f"--set '{assignment}': the value is not valid JSON") from None
        if doubled is not None:
            raise InputError(f"--set '{assignment}': the key {doubled!r} appears twice; give each key once")
        return name, value
    spec = field_input(name, model_fields[name])
    if spec.multiple:
        items = [item.strip() for item in raw.split("," if spec.parse is not parse_source else ";")]
        return name, [spec.parse(item) for item in items if item]
    return name, spec.parse(raw)
