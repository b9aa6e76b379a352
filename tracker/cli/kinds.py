"""`tracker log KIND`: one subcommand per kind of event, generated from its model.

Typer builds commands from Python signatures; these signatures are built from the
models' fields, so adding a field to a model adds its option. What is typed is
checked by the models too, and every problem is reported in the command line's own
terms: the option as it was typed, and what to type instead.
"""

from __future__ import annotations

import difflib
import inspect
import re
import sys
from typing import Annotated, Any, Optional

import typer
from pydantic import ValidationError

from events.models import MODELS, WORLD_KINDS, Envelope, shown
from events.problems import Problem
from events.problems import problems as worded

from tracker.cli.typed_input import FieldInput, InputError, field_input

#: Envelope fields listed after the kind's own fields in --help, in this order.
ENVELOPE_ORDER = (
    "occurred",
    "countries",
    "summary",
    "sources",
    "project",
    "project_name",
    "status",
    "location",
    "planned_for",
    "note",
    "id",
)

#: How --help marks a required option. Typer reads help text as rich markup, in which a
#: bare "[required]" is a style tag and vanishes; escaped, it is shown as written.
REQUIRED = " \\[required]" if typer.core.DEFAULT_MARKUP_MODE == "rich" else " [required]"


def kind_inputs(kind: str) -> list[FieldInput]:
    """The kind's own fields first (what makes it that kind), then the envelope's."""
    fields = {name: info for name, info in MODELS[kind].model_fields.items() if name != "kind"}
    own = [name for name in fields if name not in ENVELOPE_ORDER]
    return [field_input(name, fields[name]) for name in own + list(ENVELOPE_ORDER)]


def stdin_is_terminal() -> bool:
    """Prompts only make sense when a person is typing; piped input gets errors instead."""
    return sys.stdin.isatty()


class Draft:
    """An event being typed in: the values read so far, and the text each was typed as.

    The model is the one judge of a value: a field is checked by validating the
    event so far and keeping the problems found in that field, so a prompt can
    refuse a bad date at once, by exactly the rule `tracker import` applies.
    """

    def __init__(self, kind: str):
        self.kind = kind
        self.specs = {spec.name: spec for spec in kind_inputs(kind)}
        self.data: dict[str, Any] = {"kind": kind}
        #: (field, position in its list or None) → the text typed for it, for messages.
        self.typed: dict[tuple[str, int | None], str] = {}
        #: Fields whose text could not be read, with why.
        self.unread: dict[str, list[str]] = {}

    def take(self, spec: FieldInput, texts: list[str]) -> None:
        """Read the texts typed for a field (none: the field is not given)."""
        self.forget(spec.name)
        values, unread = [], []
        for text in texts:
            try:
                values.append(spec.convert(text))
            except InputError as e:
                unread += e.problems
                continue
            self.typed[(spec.name, len(values) - 1 if spec.multiple else None)] = text
        if unread:
            self.unread[spec.name] = unread
        if values:  # the items that could be read are still checked, so every problem is told at once
            self.data[spec.name] = values if spec.multiple else values[0]

    def forget(self, name: str) -> None:
        self.data.pop(name, None)
        self.unread.pop(name, None)

    def problems(self, *, missing: bool = True, only: str | None = None) -> list[str]:
        """Every problem with the event so far, in the command line's terms and the options' order.

        Without `missing`, fields not given yet are not problems (they will be asked
        for); with `only`, just that field's problems are reported.
        """
        by_field = {name: list(why) for name, why in self.unread.items()}
        across: list[str] = []
        try:
            MODELS[self.kind].model_validate(self.data)
        except ValidationError as e:
            for problem in worded(e):
                name = str(problem.loc[0]) if problem.loc else None
                if name is None:
                    across.append(self.in_option_terms(problem))
                elif name in self.unread and len(problem.loc) == 1:
                    continue  # "missing", when nothing typed for it could be read: that was said
                elif missing or problem.type != "missing":
                    by_field.setdefault(name, []).append(self.in_option_terms(problem))
        found = [why for name in self.specs if only in (None, name) for why in by_field.get(name, ())]
        return found + (across if only is None else [])

    def in_option_terms(self, problem: Problem) -> str:
        """`--date '2024-02-30': day 30 does not exist ...`: a problem named by its option."""
        if not problem.loc:
            return self.with_options(problem.reason)
        spec = self.specs[str(problem.loc[0])]
        rest = problem.loc[1:]
        position = rest[0] if rest and isinstance(rest[0], int) else None
        part = rest[1:] if position is not None else rest
        typed = shown(self.typed.get((spec.name, position), ""))
        if problem.type == "missing" and not rest:
            return f"{spec.option} is required: {spec.help}"
        if part:  # a field of a source, value or location: say which, in the text typed
            return f"{spec.option} {typed}: {spec.parts.get(str(part[0]), part[0])} {problem.reason}"
        if position is not None and not problem.reason.startswith(("'", '"')):
            return f"{spec.option} {typed}: {problem.reason}"  # which of the items typed
        return f"{spec.option} {problem.reason}"

    def with_options(self, reason: str) -> str:
        """A rule across fields (`status needs a project`), the envelope's fields named as options."""
        options = {name: self.specs[name].option for name in Envelope.model_fields if name in self.specs}
        names = re.compile(r"(?<![\w-])(" + "|".join(sorted(options, key=len, reverse=True)) + r")(?![\w-])")
        return names.sub(lambda m: options[m.group()], reason)


def typed_items(spec: FieldInput, raw: Any) -> list[str]:
    """The separate texts typed for a field: one per repeated option, countries split at commas."""
    values = raw if isinstance(raw, list) else [] if raw in (None, "") else [raw]
    if not spec.multiple:
        return values
    if spec.name == "countries":
        values = [item for value in values for item in value.split(",")]
    return [value.strip() for value in values if value.strip()]


def ask(draft: Draft, spec: FieldInput) -> None:
    """Prompt for a required field until the answer passes the field's own rule.

    A blank answer, or one the field refuses, is answered with why and asked
    again; nothing typed before is lost. Ctrl-C or the end of input stops the
    command (typer.Abort, left to the top level), with nothing written.
    """
    while True:
        answer = typer.prompt(spec.question, default="", show_default=False, err=True)
        draft.take(spec, typed_items(spec, [answer] if spec.multiple else answer))
        complaints = draft.problems(only=spec.name)
        if not complaints:
            return
        draft.forget(spec.name)
        for complaint in complaints:
            typer.echo(f"Error: {complaint}", err=True)


def collect(kind: str, given: dict[str, Any], *, interactive: bool) -> dict[str, Any]:
    """The event dict from parsed options, asking on a terminal for what is missing.

    Raises InputError listing every problem with what was given: each bad option,
    each missing one (unless it will be asked for), and any rule across fields.
    """
    draft = Draft(kind)
    for spec in draft.specs.values():
        draft.take(spec, typed_items(spec, given.get(spec.name)))
    found = draft.problems(missing=not interactive)
    if found:
        raise InputError(*found)
    if interactive:
        for spec in draft.specs.values():
            if spec.required and spec.name not in draft.data:
                ask(draft, spec)
        found = draft.problems()
        if found:
            raise InputError(*found)
    return draft.data


def _log_command(kind: str):
    """A function typer can turn into `tracker log KIND`: its signature lists the model's fields."""
    specs = kind_inputs(kind)
    parameters = [
        inspect.Parameter("ctx", inspect.Parameter.KEYWORD_ONLY, annotation=typer.Context)
    ]
    for spec in specs:
        annotation = Annotated[
            Optional[list[str]] if spec.multiple else Optional[str],
            typer.Option(
                spec.option,
                help=spec.help + (REQUIRED if spec.required else ""),
                metavar=spec.metavar,
                show_default=False,
            ),
        ]
        parameters.append(
            inspect.Parameter(spec.name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=None)
        )
    parameters.append(
        inspect.Parameter(
            "as_json",
            inspect.Parameter.KEYWORD_ONLY,
            annotation=Annotated[bool, typer.Option("--json", help="Print the logged event as JSON.")],
            default=False,
        )
    )

    def run(ctx: typer.Context, as_json: bool = False, **given: Any) -> None:
        from tracker.cli.common import append_and_report, fail

        interactive = stdin_is_terminal() and not as_json
        try:
            data = collect(kind, given, interactive=interactive)
        except InputError as e:
            raise fail("\nError: ".join(e.problems)) from None  # one `Error:` line per problem
        append_and_report(ctx, [data], as_json=as_json)

    run.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    run.__annotations__ = {p.name: p.annotation for p in parameters}
    run.__name__ = f"log_{kind}"
    return run


def kinds_listed() -> str:
    """Every kind that can be logged, one a line with what it records."""
    width = max(map(len, WORLD_KINDS))
    return "\n".join(f"  {kind:<{width}}  {MODELS[kind].about}" for kind in WORLD_KINDS)


#: The commands that record the kinds `tracker log` does not: they amend an event already logged.
AMENDMENTS = {
    "correction": "correct ID --set FIELD=VALUE --reason WHY",
    "retraction": "retract ID --reason WHY",
}


class KindGroup(typer.core.TyperGroup):
    """`tracker log`: an unknown kind is answered with the kinds there are, not a usage box."""

    def resolve_command(self, ctx, args):
        name = args[0] if args else None
        if name is not None and not name.startswith("-") and name not in WORLD_KINDS:
            from tracker.cli.common import fail

            if name in AMENDMENTS:
                raise fail(f"a {name} is recorded with `tracker {AMENDMENTS[name]}`, not `tracker log`")
            close = difflib.get_close_matches(name, WORLD_KINDS, n=1)
            meant = f" Did you mean '{close[0]}'?" if close else ""
            raise fail(f"{shown(name)} is not a kind of event.{meant} The kinds:\n{kinds_listed()}")
        return super().resolve_command(ctx, args)


def log_app(only_kind: str | None = None) -> typer.Typer:
    """`tracker log`: one subcommand per kind of world event (or just `only_kind`, if it is one)."""
    app = typer.Typer(
        cls=KindGroup,
        help="Append one event to the log. `tracker log KIND --help` lists a kind's fields.",
        no_args_is_help=True,
    )
    for kind in [only_kind] if only_kind in WORLD_KINDS else WORLD_KINDS:
        model = MODELS[kind]
        app.command(
            kind,
            help=f"Log {model.about}.\n\nPrints the new event's id. On a terminal, asks for "
            "the required fields that are missing.",
            short_help=model.about,
        )(_log_command(kind))
    return app
