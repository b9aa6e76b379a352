"""Turning what a person types into event fields, driven by the models' own field types.

`tracker log KIND` options, their help, the prompts for missing fields and the
values of `tracker correct --set FIELD=VALUE` all come from here, so the command
line never restates what a field is: the pydantic model says it.
"""

from __future__ import annotations

import re
import typing
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from typing import Any, Literal

import orjson
from pydantic import TypeAdapter, ValidationError
from pydantic.fields import FieldInfo

from events.codes import visible
from events.identity import NestingError, duplicate_key
from events.models import Amount, Location, Source, Value, inner_type, shown
from events.problems import problems

SOURCE_FORM = "'PUBLISHER | TITLE | YYYY[-MM[-DD]] [| URL [| AUTHOR]]'"
VALUE_FORM = "'AMOUNT CURRENCY', e.g. '196000000 USD' or '1.5e9 USD'"
LOCATION_FORM = "'PLACE @ LAT, LON', e.g. 'Astana @ 51.1694, 71.4491'"

#: Option names the contract fixes where they differ from the field name.
OPTION_NAMES = {"occurred": "date", "countries": "country", "sources": "source"}

#: How messages name the parts of a typed source, value or location, in the order they are typed.
SOURCE_PARTS = {"publisher": "the publisher", "title": "the title", "published": "the date",
                "url": "the URL", "author": "the author"}
VALUE_PARTS = {"amount": "the amount", "currency": "the currency"}
LOCATION_PARTS = {"name": "the place", "lat": "the latitude", "lon": "the longitude"}


class InputError(ValueError):
    """Typed text that does not fit the field it was given for: every problem found, each in a sentence."""

    def __init__(self, *problems: str):
        self.problems = problems
        super().__init__("; ".join(problems))


def parse_source(text: str) -> dict[str, Any]:
    """A source typed as PUBLISHER | TITLE | DATE | URL | AUTHOR: its fields read by position.

    Position, not appearance, says which field is which, so that a mistyped address
    (`www.site.org/x`, `javascript:...`) is refused rather than stored as the author;
    an author without a URL leaves the URL empty (`P | T | 2024-06-12 | | M. Kim`).
    """
    parts = [part.strip() for part in text.split("|")]
    if len(parts) < 3 or not all(parts[:3]):
        raise InputError(f"{shown(text)} is not a source: use {SOURCE_FORM}")
    if len(parts) > 5:
        raise InputError(f"{shown(text)} has {len(parts)} fields: a source has at most five, {SOURCE_FORM}")
    publisher, title, published, url, author = parts + [""] * (5 - len(parts))
    if url and not re.match(r"https?://", url, re.IGNORECASE):
        raise InputError(
            f"{shown(text)}: the fourth field is the URL and must start with http:// or https://"
            + _meant(parts, url)
        )
    source = {"publisher": publisher, "title": title, "published": published}
    if url:
        source["url"] = url
    if author:
        source["author"] = author
    return source


def _meant(parts: list[str], url: str) -> str:
    """The likely fix for a fourth field that is not a URL: the address with its scheme, or an
    author. Quoted whole (escaped, never cut short), so it can be copied and used."""
    def whole(text: str) -> str:
        return "'" + visible(text) + "'"

    if re.fullmatch(r"[\w-]+(\.[\w-]+)+(/\S*)?", url):  # an address without http(s)://
        return f": did you mean {whole('https://' + url)}?"
    if len(parts) == 5 and re.match(r"https?://", parts[4], re.IGNORECASE):  # the author, then the URL
        return f": did you mean {whole(' | '.join(parts[:3] + [parts[4], url]))}?"
    if ":" not in url and len(parts) == 4:  # a name, typed where the URL goes
        return f"; for an author without a URL, leave the URL empty: {whole(' | '.join(parts[:3]) + ' | | ' + url)}"
    return ""


@lru_cache(maxsize=1)
def _amount_rule() -> TypeAdapter:
    """The models' Amount on its own: a typed amount is read by the very rule `import` applies."""
    return TypeAdapter(Amount)


def read_amount(text: str) -> str:
    """An amount as the models take it (`1.5e9`, `0.25`, `196,000,000`), written as they store it."""
    amount = text.strip()
    if re.fullmatch(r"[0-9]{1,3}(,[0-9]{3})+(\.[0-9]*)?", amount):  # thousands, as people write them
        amount = amount.replace(",", "")
    rule = _amount_rule()
    try:
        return rule.dump_python(rule.validate_python(amount), mode="json")
    except ValidationError as e:
        raise InputError(problems(e)[0].reason) from None


def parse_value(text: str) -> dict[str, Any]:
    """'AMOUNT CURRENCY': the amount read by the models' rule, the currency upper-cased."""
    words = text.split()
    if len(words) != 2:
        raise InputError(f"{shown(text)} is not a value: use {VALUE_FORM}")
    amount, currency = words
    try:
        amount = read_amount(amount)
    except InputError as e:
        raise InputError(f"{shown(text)}: the amount {e}") from None
    return {"amount": amount, "currency": currency.upper()}


def parse_location(text: str) -> dict[str, Any]:
    name, at, coordinates = text.rpartition("@")
    number = r"(-?[0-9]+(?:\.[0-9]+)?)"
    match = re.fullmatch(rf"\s*{number}\s*,\s*{number}\s*", coordinates, re.ASCII)
    if not at or not name.strip() or not match:
        raise InputError(f"{shown(text)} is not a location: use {LOCATION_FORM}")
    return {"name": name.strip(), "lat": float(match.group(1)), "lon": float(match.group(2))}


@dataclass(frozen=True)
class FieldInput:
    """How one model field is typed on the command line."""

    name: str
    option: str
    multiple: bool
    required: bool
    help: str
    #: What a prompt asks for it (the help, without how to repeat an option).
    question: str
    choices: tuple[str, ...] | None
    parse: typing.Callable[[str], Any]
    metavar: str
    #: For a source, value or location: how messages name its parts.
    parts: dict[str, str] = field(default_factory=dict)

    def convert(self, raw: str) -> Any:
        """The field's value from the text typed for it; InputError names the option."""
        try:
            return self.parse(raw)
        except InputError as e:
            raise InputError(*(f"{self.option} {problem}" for problem in e.problems)) from None


def _as_text(raw: str) -> str:
    return raw


def _as_int(raw: str) -> int:
    # ASCII digits only: int() alone would also read other scripts' digits.
    if not re.fullmatch(r"\s*-?[0-9][0-9,_]*\s*", raw, re.ASCII):
        raise InputError(f"{shown(raw)} is not a whole number")
    return int(raw.replace(",", "").replace("_", ""))


def _as_country(raw: str) -> str:
    """Codes in any case (`kz`); anything longer is left as typed, for the message to quote."""
    code = raw.strip()
    return code.upper() if len(code) == 2 else code


def field_input(name: str, info: FieldInfo) -> FieldInput:
    inner, multiple = inner_type(info.annotation)
    choices = None
    parse: typing.Callable[[str], Any] = _as_text
    metavar = "TEXT"
    parts: dict[str, str] = {}
    if name == "countries" or name.endswith("_country"):
        parse, metavar = _as_country, "CC"
    elif inner is Source:
        parse, metavar, parts = parse_source, "SOURCE", SOURCE_PARTS
    elif inner is Value:
        parse, metavar, parts = parse_value, "'AMOUNT CUR'", VALUE_PARTS
    elif inner is Location:
        parse, metavar, parts = parse_location, "'PLACE @ LAT, LON'", LOCATION_PARTS
    elif inner is int:
        parse, metavar = _as_int, "N"
    elif inner is Decimal:
        parse, metavar = read_amount, "NUMBER"
    elif typing.get_origin(inner) is Literal:
        choices = tuple(typing.get_args(inner))
        metavar = name.upper()  # the choices go in the help: as a metavar they crowd out every option's help
    elif name in ("occurred", "planned_for", "period"):
        metavar = "DATE"
    help_text = info.description or name
    if inner is Source:
        help_text += f": {SOURCE_FORM}, the URL left empty for an author without one"
    if choices and not all(choice in help_text for choice in choices):
        help_text += f": {', '.join(choices)}"
    question = help_text + (" (comma-separated)" if name == "countries" else "")
    if multiple:
        help_text += " (repeat for more)" if name != "countries" else " (repeat, or comma-separate)"
    return FieldInput(
        name=name,
        option="--" + OPTION_NAMES.get(name, name).replace("_", "-"),
        multiple=multiple,
        required=info.is_required(),
        help=help_text,
        question=question,
        choices=choices,
        parse=parse,
        metavar=metavar,
        parts=parts,
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
