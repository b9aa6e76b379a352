"""The event vocabulary: one pydantic model per kind of event.

These models are the single source of truth for what an event is. The import
validator, the `tracker log KIND` options and their --help, the README's field
table and the error messages all come from them, so a field is defined once.

Annotations are evaluated as the classes are made (no `from __future__ import
annotations`): pydantic then need not evaluate each one from text, and every
`tracker` command imports this module.
"""

import datetime as dt
from decimal import Context, Decimal
from functools import lru_cache
from operator import countOf
from types import UnionType
from typing import Annotated, Any, ClassVar, Literal, NamedTuple, Union, get_args, get_origin

from pydantic import (
    AfterValidator,
    BeforeValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_core import SchemaValidator

from .codes import (
    UNSAFE_CLASS_RUST,
    code_named,
    code_point,
    country_names,
    currency_names,
    first_unsafe,
    unsafe_kind,
    visible,
)
from .dates import ACCEPTED, DateError, parse_occurred

STATUSES = (
    "proposed",
    "negotiating",
    "agreed",
    "committed",
    "in_progress",
    "completed",
    "suspended",
    "cancelled",
)
Status = Literal[
    "proposed",
    "negotiating",
    "agreed",
    "committed",
    "in_progress",
    "completed",
    "suspended",
    "cancelled",
]

ID_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,127}$"

# Input limits ------------------------------------------------------------------------
#
# Every field is bounded, so that no line of input can crash the tracker or turn into
# a much larger stored event, and no text can drive a terminal (see events/codes.py).

#: Amounts have at most this many digits before the decimal point ...
AMOUNT_WHOLE_DIGITS = 20
#: ... and at most this many after it, once trailing zeros are dropped.
AMOUNT_DECIMAL_PLACES = 10
#: The largest whole number a count (quantity, attendance, edition, agreement_count) takes.
MAX_COUNT = 10**12
TEXT_MAX, NAME_MAX, URL_MAX = 2000, 300, 2000
#: Most items in a list of names (parties, participants) and in `sources`.
MAX_NAMES, MAX_SOURCES = 100, 20
#: Most fields one correction changes.
MAX_CHANGES = 50
#: Free text: no control characters (tab and line feed included), no line or paragraph
#: separators, no bidirectional formatting characters.
TEXT_PATTERN = rf"^[^{UNSAFE_CLASS_RUST}]*$"


@lru_cache(maxsize=65536)
def _edtf(text: str) -> str:
    try:
        parse_occurred(text)
    except DateError as e:
        raise ValueError(str(e)) from None
    return text


@lru_cache(maxsize=65536)
def _calendar_date(text: str) -> str:
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"'{text}' is not a calendar date (YYYY-MM-DD)") from None
    return text


#: Enough precision to normalise any accepted amount exactly (the default context's 28
#: digits would round a 30-digit amount).
_EXACT = Context(prec=AMOUNT_WHOLE_DIGITS + AMOUNT_DECIMAL_PLACES + 10)


def _plain_decimal(d: Decimal) -> str:
    """Decimals are written without exponent or trailing zeros, so equal amounts hash equally.

    Every zero (`-0`, `0.00`, `0E+9`) is written `0`.
    """
    if not d:
        return "0"
    return format(d.normalize(_EXACT), "f")


Text = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=TEXT_MAX, pattern=TEXT_PATTERN)
]
Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=NAME_MAX, pattern=TEXT_PATTERN)
]
Slug = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
EventId = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
# Codes and URLs are checked inside pydantic-core (a Literal, a pattern) rather than by
# Python callbacks: that halves validation time on large imports. `explain` turns
# the resulting errors back into plain messages.
CountryCode = Literal[tuple(country_names())]  # type: ignore[valid-type]
CurrencyCode = Literal[tuple(currency_names())]  # type: ignore[valid-type]
URL_PATTERN = rf"^(?i)https?://[^\s/$.?#{UNSAFE_CLASS_RUST}][^\s{UNSAFE_CLASS_RUST}]*$"
EDTFDate = Annotated[str, AfterValidator(_edtf)]
# ASCII digits: in pydantic-core's patterns, as in Python's, \d matches any script's digits.
CalendarDate = Annotated[
    str, StringConstraints(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"), AfterValidator(_calendar_date)
]
WebUrl = Annotated[str, StringConstraints(max_length=URL_MAX, pattern=URL_PATTERN)]
def _ascii_amount(value: Any) -> Any:
    """Amounts are written with the digits 0-9, as dates are: Decimal alone would read '١٢' as 12."""
    if isinstance(value, str) and not value.isascii():
        raise ValueError(f"{shown(value)} is not an amount: write it with the digits 0-9")
    return value


Amount = Annotated[
    Decimal,
    Field(
        ge=0,
        allow_inf_nan=False,
        max_digits=AMOUNT_WHOLE_DIGITS + AMOUNT_DECIMAL_PLACES,
        decimal_places=AMOUNT_DECIMAL_PLACES,
    ),
    BeforeValidator(_ascii_amount),
    PlainSerializer(_plain_decimal, return_type=str),
]
# Whole numbers are JSON integers: strict, so true, 7.0 and "7" are refused, not taken as 1 and 7.
Count = Annotated[int, Field(ge=0, le=MAX_COUNT, strict=True)]
Ordinal = Annotated[int, Field(ge=1, le=MAX_COUNT, strict=True)]
#: A key of a correction's `changes`: a field name.
FieldName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]


class Strict(BaseModel):
    """Unknown fields are errors: a typo must not silently drop data."""

    model_config = ConfigDict(extra="forbid", defer_build=True, str_strip_whitespace=True)


class Source(Strict):
    """Where a fact was reported."""

    publisher: Name = Field(description="who published it")
    title: Name = Field(description="the article's title")
    published: CalendarDate = Field(description="publication date, YYYY-MM-DD")
    url: WebUrl | None = Field(None, description="http(s) address, if any")
    author: Name | None = Field(None, description="author, if named")


class Value(Strict):
    """A sum of money in one currency."""

    amount: Amount = Field(description="non-negative decimal")
    currency: CurrencyCode = Field(description="ISO 4217 code, e.g. USD")


class Location(Strict):
    """Where something happened, for maps."""

    name: Name = Field(description="place name")
    lat: float = Field(ge=-90, le=90, strict=True, description="latitude")
    lon: float = Field(ge=-180, le=180, strict=True, description="longitude")


class Envelope(Strict):
    """Fields every event has."""

    plural: ClassVar[str]
    default_status: ClassVar[str | None] = None
    about: ClassVar[str]
    #: What the derived tables and projections need to know of a kind, said by the kind:
    #: the field that titles it in a listing (effective events' `title`),
    title_field: ClassVar[str | None] = None
    #: the fields whose names are its parties (`parties`), in order,
    party_fields: ClassVar[tuple[str, ...]] = ()
    #: whether its value is an order's value (country tallies' `order_value_usd`),
    counts_as_order_value: ClassVar[bool] = False
    #: and whether it is a visit a country hosts or makes (`visits_hosted`, `visits_made`).
    counts_as_visit: ClassVar[bool] = False

    @classmethod
    def agreements_in(cls, event: dict[str, Any]) -> int:
        """How many agreements an event of this kind records (country tallies' `agreements`)."""
        return 0

    @classmethod
    def parties_of(cls, event: dict[str, Any]) -> str | None:
        """The event's parties as one line, from `party_fields`; None for a kind without parties."""
        if not cls.party_fields:
            return None
        names = []
        for name in cls.party_fields:
            value = event.get(name)
            names.extend(value or () if isinstance(value, list) else [value])
        return ", ".join(str(name) for name in names)

    id: EventId | None = Field(
        None, description="stable id; derived from the content when not given"
    )
    occurred: EDTFDate = Field(description=f"when it happened: {ACCEPTED}")
    countries: list[CountryCode] = Field(
        min_length=1, description="ISO 3166-1 alpha-2 codes of the countries involved"
    )
    summary: Text = Field(description="one or two sentences in the tracker's own words")
    project: Slug | None = Field(
        None, description="slug of the project, programme or summit it is about"
    )
    status: Status | None = Field(
        None, description="the lifecycle status this event puts its project in"
    )
    sources: list[Source] = Field(min_length=1, max_length=MAX_SOURCES, description="where it was reported")
    project_name: Name | None = Field(None, description="the project's human name")
    location: Location | None = Field(None, description="where it happened")
    note: Text | None = Field(None, description="an analyst's note, e.g. where sources disagree")

    @model_validator(mode="after")
    def _consistent(self):
        if len(set(self.countries)) != len(self.countries):
            raise ValueError("countries lists a country twice")
        if self.project is None and self.status is not None:
            raise ValueError("status needs a project to apply to")
        if self.project is None and self.project_name is not None:
            raise ValueError("project_name needs a project to name")
        return self


class Visit(Envelope):
    plural = "visits"
    about = "a visit by a leader or official to another country"
    title_field = "visitor"
    counts_as_visit = True
    kind: Literal["visit"]
    visitor: Name = Field(description="who visited")
    visitor_country: CountryCode = Field(description="the visitor's country")
    host_country: CountryCode = Field(description="the country visited")
    level: Literal["state", "official", "working"] | None = Field(
        None, description="state, official or working"
    )


class Signing(Envelope):
    plural = "signings"
    default_status = "committed"
    about = "agreements signed (one event may record several)"
    title_field = "title"
    party_fields = ("parties",)
    kind: Literal["signing"]
    parties: list[Name] = Field(min_length=1, max_length=MAX_NAMES, description="who signed")
    title: Name = Field(description="what was signed")
    agreement_count: Ordinal = Field(1, description="how many agreements were signed")
    value: Value | None = Field(None, description="value, e.g. '1.5e9 USD'")

    @classmethod
    def agreements_in(cls, event: dict[str, Any]) -> int:
        return event.get("agreement_count") or 1


class Mou(Envelope):
    plural = "mous"
    default_status = "agreed"
    about = "a memorandum of understanding"
    title_field = "subject"
    party_fields = ("parties",)
    kind: Literal["mou"]
    parties: list[Name] = Field(min_length=1, max_length=MAX_NAMES, description="who signed it")
    subject: Name = Field(description="what it is about")

    @classmethod
    def agreements_in(cls, event: dict[str, Any]) -> int:
        return 1


class Order(Envelope):
    plural = "orders"
    default_status = "committed"
    about = "an order or supply contract"
    title_field = "item"
    party_fields = ("buyer", "supplier")
    counts_as_order_value = True
    kind: Literal["order"]
    buyer: Name = Field(description="who ordered")
    supplier: Name = Field(description="who supplies")
    item: Name = Field(description="what was ordered")
    quantity: Count | None = Field(None, description="how many")
    value: Value | None = Field(None, description="value, e.g. '196000000 USD'")


class Forum(Envelope):
    plural = "forums"
    about = "a forum, conference or business council"
    title_field = "name"
    kind: Literal["forum"]
    name: Name = Field(description="the forum's name")
    edition: Ordinal | None = Field(None, description="which edition (17 for the 17th)")
    host_country: CountryCode | None = Field(None, description="the host country")
    attendance: Count | None = Field(None, description="how many attended")


class Meeting(Envelope):
    plural = "meetings"
    about = "talks, a meeting or a roundtable"
    title_field = "topic"
    party_fields = ("participants",)
    kind: Literal["meeting"]
    participants: list[Name] = Field(min_length=1, max_length=MAX_NAMES, description="who took part")
    topic: Name = Field(description="what was discussed")


class Summit(Envelope):
    plural = "summits"
    about = "a step in a summit's life; project names the summit"
    title_field = "name"
    kind: Literal["summit"]
    name: Name = Field(description="the summit's name")
    planned_for: EDTFDate | None = Field(None, description=f"when it is planned: {ACCEPTED}")


class Announcement(Envelope):
    plural = "announcements"
    about = "a plan or intention announced by a government or company"
    title_field = "subject"
    party_fields = ("announcer",)
    kind: Literal["announcement"]
    announcer: Name = Field(description="who announced it")
    subject: Name = Field(description="what was announced")


class Milestone(Envelope):
    plural = "milestones"
    about = "a change of a project's status"
    kind: Literal["milestone"]
    project: Slug = Field(description="slug of the project whose status changes")
    status: Status = Field(description="the project's new status")


class Figure(Envelope):
    plural = "figures"
    about = "a reported figure: trade, investment, quotas, counts"
    title_field = "metric"
    kind: Literal["figure"]
    metric: Slug = Field(description="what is measured, e.g. bilateral_trade")
    amount: Amount = Field(description="the number reported")
    unit: Name = Field(description="its unit, e.g. USD or companies")
    period: EDTFDate | None = Field(None, description=f"the period it covers: {ACCEPTED}")


class _Amendment(Envelope):
    """Corrections and retractions are about another event, not about the world.

    Their date, countries, summary and sources are optional: the command line fills
    in the target's countries and a summary saying what changed.
    """

    occurred: EDTFDate | None = Field(None, description="when the amendment was made")
    countries: list[CountryCode] = Field(default_factory=list, description="countries concerned")
    summary: Text | None = Field(None, description="what was amended and why")
    sources: list[Source] = Field(
        default_factory=list, max_length=MAX_SOURCES, description="where the fix was reported"
    )
    target: EventId = Field(description="id of the event amended")
    reason: Text = Field(description="why")

    @model_validator(mode="after")
    def _about_an_event(self):
        if self.project is not None or self.status is not None or self.project_name is not None:
            raise ValueError(
                f"a {self.kind} has no project or status of its own: "
                "correct the target's project or status instead"
            )
        return self


#: Fields a correction may not change: who an event is, not what it says.
IMMUTABLE_FIELDS = frozenset({"id", "kind"})


class Correction(_Amendment):
    plural = "corrections"
    about = "new values for fields of an earlier event"
    kind: Literal["correction"]
    changes: dict[FieldName, Any] = Field(
        min_length=1,
        max_length=MAX_CHANGES,
        description="field → new value (null removes an optional field)",
    )

    @model_validator(mode="after")
    def _changeable(self):
        fixed = sorted(IMMUTABLE_FIELDS & self.changes.keys())
        if fixed:
            raise ValueError(f"a correction cannot change {', '.join(fixed)}")
        return self


class Retraction(_Amendment):
    plural = "retractions"
    about = "withdraws an earlier event (or correction) from every count"
    kind: Literal["retraction"]


EVENT_MODELS: tuple[type[Envelope], ...] = (
    Visit,
    Signing,
    Mou,
    Order,
    Forum,
    Meeting,
    Summit,
    Announcement,
    Milestone,
    Figure,
    Correction,
    Retraction,
)


def kind_of(model: type[Envelope]) -> str:
    """The `kind` tag of a model, read from its Literal annotation."""
    return model.model_fields["kind"].annotation.__args__[0]  # type: ignore[union-attr]


MODELS: dict[str, type[Envelope]] = {kind_of(m): m for m in EVENT_MODELS}
KINDS: tuple[str, ...] = tuple(MODELS)
#: Kinds that state something about the world, as opposed to amending the log.
WORLD_KINDS: tuple[str, ...] = tuple(k for k in KINDS if k not in ("correction", "retraction"))
AMENDMENT_KINDS = ("correction", "retraction")

#: Every model by class name: the name a ValidationError gives (its title) or expects (`class_name`).
_NAMED: dict[str, type[BaseModel]] = {m.__name__: m for m in (*EVENT_MODELS, Source, Value, Location)}

Event = Annotated[Union[EVENT_MODELS], Field(discriminator="kind")]  # type: ignore[valid-type]


@lru_cache(maxsize=1)
def event_adapter() -> TypeAdapter:
    """The validator for any event; built on first use, not at import (it costs ~0.3 s)."""
    return TypeAdapter(Event)


def validate_event(data: Any) -> Envelope:
    """Validate one event given as a dict. Raises ValidationError."""
    kind = data.get("kind") if isinstance(data, dict) else None
    model = MODELS.get(kind) if isinstance(kind, str) else None
    if model is not None:
        # Validating against the one model is faster, and its errors need no tag.
        return model.model_validate(data)
    return event_adapter().validate_python(data)


#: Top-level fields a record shows even when they are null (see `to_record`).
ALWAYS_SHOWN = ("project", "status")


def to_record(event: Envelope) -> dict[str, Any]:
    """The event as a JSON-ready dict: the form that is stored, hashed and exported.

    Optional fields that are unset are left out, except `project` and `status`,
    which the contract always shows (as null when there is none).
    """
    data = event.model_dump(mode="json")
    return {
        key: value
        for key, value in data.items()
        if value is not None or key in ALWAYS_SHOWN
    }


#: What the one-line messages say about limits, in one place.
AMOUNT_RULE = (
    f"amounts are non-negative decimals with at most {AMOUNT_WHOLE_DIGITS} digits before the "
    f"decimal point and {AMOUNT_DECIMAL_PLACES} after it"
)
TEXT_RULE = (
    "text may not hold control characters (tabs and line breaks included), line or paragraph "
    "separators, or bidirectional formatting characters"
)
ID_RULE = "use lower-case letters a-z, digits 0-9, '.', '_' and '-', beginning with a letter or digit"
_SHOWN = 60


def shown(value: Any) -> str:
    """A given value as a message quotes it: one line, escaped, at most about 60 characters."""
    if isinstance(value, str):
        text = repr(value[:_SHOWN])
        return text if len(text) <= _SHOWN + 2 and len(value) <= _SHOWN else text[: _SHOWN + 1] + "…"
    if value is None or isinstance(value, bool):
        text = {None: "null", True: "true", False: "false"}[value]
    elif isinstance(value, (int, float)):
        text = repr(value)
    elif isinstance(value, dict):
        text = "an object"
    elif isinstance(value, list):
        text = "a list"
    else:
        text = repr(value)
    return text[:_SHOWN] + ("…" if len(text) > _SHOWN else "")


def inner_type(annotation: Any) -> tuple[Any, bool]:
    """(the type inside Optional, Annotated and list, whether it is a list): what a field holds."""
    is_list = False
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, UnionType):
            annotation = next(a for a in get_args(annotation) if a is not type(None))
        elif origin is list:
            annotation, is_list = get_args(annotation)[0], True
        else:
            return annotation, is_list


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
        return f"{shown(given)} is not a calendar date (YYYY-MM-DD, digits 0-9)"
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


# Validating many events at once ------------------------------------------------------
#
# A large import validates events by the million. Building a model instance per event
# and dumping it back to a dict costs more than the checks themselves, so the import
# validates with a second pydantic-core schema derived from the models above: the same
# fields, constraints and validators, producing the stored record (`to_record`'s dict)
# directly. It is derived, not written, so a field is still defined once. Its errors
# are not meant for people: on failure, validate the events one by one with
# `validate_event` to find the first bad one and `explain` it.

class _Fields:
    """Attribute access to a validated dict, so model validators written for instances run on it.

    Optional fields left out of the dict read as None through class attributes, as
    they would on the model.
    """

    __slots__ = ("__dict__",)


def _after_model(check, view: type[_Fields]):
    """A model validator (mode="after") run on the dict the derived schema produces."""

    def run(data: dict[str, Any]) -> dict[str, Any]:
        fields = view()
        fields.__dict__ = data
        if check(fields) is not fields:
            raise ValueError("a model validator replaced the event")  # not supported: use the models
        return data

    return run


def _model_chain(node: dict[str, Any]) -> bool:
    """Whether a schema node is a model, possibly under its after-validators."""
    while node.get("type") == "function-after":
        node = node["schema"]
    return node.get("type") == "model"


def _as_record_fields(node: dict[str, Any], event: bool) -> tuple[dict[str, Any], type[_Fields]]:
    """A model's schema as a typed-dict schema, plus the view its validators read it through.

    For an event (not a nested Source, Value or Location) optional fields that default
    to None are simply left out when absent, as `to_record` leaves them out.
    """
    inner = node["schema"]
    if (
        inner.get("type") != "model-fields"
        or inner.get("computed_fields")
        or node.get("custom_init")
        or node.get("post_init")
        or node.get("root_model")
    ):
        raise NotImplementedError(f"cannot derive a record schema from {node.get('cls')}")
    fields: dict[str, Any] = {}
    omitted: dict[str, None] = {}
    # Fields in sorted order, so records come out with their keys in canonical order.
    for name, field in sorted(inner["fields"].items()):
        if field.get("type") != "model-field" or set(field) - {"type", "schema", "metadata"}:
            raise NotImplementedError(f"cannot derive a record schema for field {name!r}")
        schema = field["schema"]
        optional = schema.get("type") == "default"
        if event and optional and name not in ALWAYS_SHOWN and "default" in schema and schema["default"] is None:
            schema = schema["schema"]
            omitted[name] = None
        fields[name] = {
            "type": "typed-dict-field",
            "schema": _record_schema(schema, False),
            "required": not optional,
        }
    config = node.get("config", {})
    derived = {
        "type": "typed-dict",
        "fields": fields,
        "config": config,
        "extra_behavior": config.get("extra_fields_behavior", "ignore"),
    }
    if "ref" in node:
        derived["ref"] = node["ref"]
    return derived, type("Fields", (_Fields,), {"__slots__": (), **omitted})


def _record_schema(node: Any, event: bool) -> Any:
    """The record-producing counterpart of a core schema node (see above)."""
    if isinstance(node, list):
        return [_record_schema(item, event) for item in node]
    if not isinstance(node, dict):
        return node
    kind = node.get("type")
    if kind in ("model", "function-after") and _model_chain(node):
        checks = []
        while node["type"] == "function-after":
            if node["function"].get("type") != "no-info":
                raise NotImplementedError("model validators that take info are not supported")
            checks.append((node["function"]["function"], node.get("ref")))
            node = node["schema"]
        derived, view = _as_record_fields(node, event)
        for check, ref in reversed(checks):
            derived = {"type": "function-after", "function": {"type": "no-info", "function": _after_model(check, view)}, "schema": derived}
            if ref is not None:
                derived["ref"] = ref
        return derived
    if isinstance(kind, str) and kind.startswith("function-") and _contains_model(node):
        raise NotImplementedError(f"{kind} validators around a model are not supported")
    if kind == "tagged-union":
        out = {key: value for key, value in node.items() if key not in ("metadata", "serialization", "choices")}
        out["choices"] = {tag: _record_schema(choice, True) for tag, choice in node["choices"].items()}
        return out
    out = {key: _record_schema(value, False) for key, value in node.items() if key not in ("metadata", "serialization")}
    serializer = node.get("serialization")
    if serializer is not None:
        # What model_dump(mode="json") would write, e.g. an amount as a normalised string.
        if (
            serializer.get("type") != "function-plain"
            or serializer.get("info_arg")
            or serializer.get("when_used", "always") != "always"
        ):
            raise NotImplementedError(f"serializer {serializer.get('type')} is not supported")
        out = {"type": "function-after", "function": {"type": "no-info", "function": serializer["function"]}, "schema": out}
    return out


def _contains_model(node: Any) -> bool:
    if isinstance(node, list):
        return any(_contains_model(item) for item in node)
    if isinstance(node, dict):
        return node.get("type") == "model" or any(_contains_model(v) for v in node.values())
    return False


def _free_form(node: Any, definitions: dict[str, Any], seen: set[str]) -> bool:
    """Whether a schema can produce a dict whose keys are not in sorted order (dict, any)."""
    if isinstance(node, list):
        return any(_free_form(item, definitions, seen) for item in node)
    if not isinstance(node, dict):
        return False
    if node.get("type") in ("dict", "any"):
        return True
    if node.get("type") == "definition-ref":
        ref = node["schema_ref"]
        if ref in seen:
            return False
        seen.add(ref)
        return _free_form(definitions[ref], definitions, seen)
    return any(_free_form(value, definitions, seen) for key, value in node.items() if key != "metadata")


@lru_cache(maxsize=4)
def _records_validator(passthrough: tuple[str, ...]) -> SchemaValidator:
    schema = _record_schema(event_adapter().core_schema, False)
    if passthrough:
        union = schema["schema"] if schema.get("type") == "definitions" else schema
        for choice in union["choices"].values():
            while choice["type"] == "function-after":
                choice = choice["schema"]
            extra = {name: {"type": "typed-dict-field", "schema": {"type": "any"}, "required": False} for name in passthrough}
            choice["fields"] = dict(sorted({**choice["fields"], **extra}.items()))
    return SchemaValidator({"type": "list", "items_schema": schema})


@lru_cache(maxsize=1)
def key_ordered_kinds() -> frozenset[str]:
    """Kinds whose records `validate_records` returns with every key in sorted order.

    Their canonical JSON needs no key sorting (sorting is most of what it costs);
    kinds with free-form dicts, such as a correction's `changes`, still need it.
    """
    schema = event_adapter().core_schema
    definitions = {d["ref"]: d for d in schema.get("definitions", [])}
    union = schema["schema"] if schema.get("type") == "definitions" else schema
    if union.get("type") != "tagged-union":
        return frozenset()
    return frozenset(
        tag for tag, choice in union["choices"].items() if not _free_form(choice, definitions, set())
    )


def validate_records(items: list[Any], passthrough: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Validate many events (dicts) in one call: the same as `to_record(validate_event(item))` for each.

    Fields named in `passthrough` are let through unchecked, whatever their value,
    for the caller to take out (the log's own fields in an exported file). Raises
    ValidationError when any item is not a valid event; its message is not meant for
    people (see above).
    """
    records = _records_validator(passthrough).validate_python(items)
    for position, record in enumerate(records):
        if countOf(record.values(), None) > (record["project"] is None) + (record["status"] is None):
            records[position] = {
                key: value
                for key, value in record.items()
                if value is not None or key in ALWAYS_SHOWN or key in passthrough
            }
    return records
