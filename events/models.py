"""The event vocabulary: one pydantic model per kind of event.

These models are the single source of truth for what an event is. The import
validator, the `tracker log KIND` options and their --help, the README's field
table and the error messages all come from them, so a field is defined once.

Annotations are evaluated as the classes are made (no `from __future__ import
annotations`): pydantic then need not evaluate each one from text, and every
`tracker` command imports this module.
"""

from decimal import Context, Decimal
from functools import lru_cache
from types import UnionType
from typing import Annotated, Any, ClassVar, Literal, Union, get_args, get_origin

from pydantic import (
    AfterValidator,
    BeforeValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    TypeAdapter,
    model_validator,
)

from .codes import (
    UNSAFE_CLASS_RUST,
    country_names,
    currency_names,
)
from .dates import ACCEPTED, PUBLISHED_ACCEPTED, PUBLISHED_PATTERN, DateError, parse_occurred, parse_published
from .metrics import listed_metric

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

#: Kinds whose `planned_for` is not refused for want of a project: a summit carried one
#: before every kind did, with or without a project, and such events stay valid (the date
#: counts only once the event names its summit); an amendment refuses it outright.
PLANNED_WITHOUT_PROJECT = frozenset({"summit", "correction", "retraction"})

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
def _published(text: str) -> str:
    try:
        parse_published(text)
    except DateError as e:
        raise ValueError(str(e)) from None
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
# The pattern is checked inside pydantic-core (a form that is wrong, or a character text may
# not hold, is worded by `events.problems`); the validator then refuses days and months
# that do not exist. The text is kept as entered: a month stays a month.
PublishedDate = Annotated[str, StringConstraints(pattern=PUBLISHED_PATTERN), AfterValidator(_published)]
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
    published: PublishedDate = Field(description=f"publication date: {PUBLISHED_ACCEPTED}")
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
    planned_for: EDTFDate | None = Field(
        None, description=f"when its project is planned to happen or be finished, as this event reports: {ACCEPTED}"
    )
    note: Text | None = Field(None, description="an analyst's note, e.g. where sources disagree")

    @model_validator(mode="after")
    def _consistent(self):
        if len(set(self.countries)) != len(self.countries):
            raise ValueError("countries lists a country twice")
        if self.project is None and self.status is not None:
            raise ValueError("status needs a project to apply to")
        if self.project is None and self.project_name is not None:
            raise ValueError("project_name needs a project to name")
        planned_alone = self.project is None and self.planned_for is not None
        if planned_alone and getattr(self, "kind", None) not in PLANNED_WITHOUT_PROJECT:
            raise ValueError("planned_for needs a project to apply to")
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
    metric: Annotated[Slug, AfterValidator(listed_metric)] = Field(
        description="what is measured, e.g. bilateral_trade: a metric listed in events/data/metrics.csv"
        " or in the file TRACKER_METRICS names"
    )
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
        if self.planned_for is not None:
            raise ValueError(f"a {self.kind} has no planned date of its own: correct the target's planned_for instead")
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
