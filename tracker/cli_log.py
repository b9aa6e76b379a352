"""`tracker log KIND`: one subcommand per kind of event, generated from its model.

Typer builds commands from Python signatures; these signatures are built from the
models' fields, so adding a field to a model adds its option.
"""

from __future__ import annotations

import inspect
import sys
from typing import Annotated, Any, Optional

import typer

from events.models import MODELS, WORLD_KINDS

from .typed_input import FieldInput, InputError, field_input

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
    "note",
    "id",
)


def kind_inputs(kind: str) -> list[FieldInput]:
    """The kind's own fields first (what makes it that kind), then the envelope's."""
    fields = {name: info for name, info in MODELS[kind].model_fields.items() if name != "kind"}
    own = [name for name in fields if name not in ENVELOPE_ORDER]
    return [field_input(name, fields[name]) for name in own + list(ENVELOPE_ORDER)]


def stdin_is_terminal() -> bool:
    """Prompts only make sense when a person is typing; piped input gets errors instead."""
    return sys.stdin.isatty()


def _prompt(spec: FieldInput) -> Any:
    """Ask for a missing required field; keep asking until the answer parses."""
    while True:
        hint = " (comma-separated)" if spec.name == "countries" else ""
        raw = typer.prompt(f"{spec.help}{hint}", err=True)
        try:
            if spec.multiple:
                items = [part for part in raw.split(",")] if spec.name == "countries" else [raw]
                return [spec.convert(item.strip()) for item in items if item.strip()]
            return spec.convert(raw)
        except InputError as e:
            typer.echo(f"Error: {e}", err=True)


def collect(kind: str, given: dict[str, Any], *, interactive: bool) -> dict[str, Any]:
    """The event dict from parsed options, prompting on a terminal for what is missing."""
    data: dict[str, Any] = {"kind": kind}
    for spec in kind_inputs(kind):
        raw = given.get(spec.name)
        if spec.multiple:
            items = [item for value in raw or () for item in (
                value.split(",") if spec.name == "countries" else [value]
            )]
            value = [spec.convert(item.strip()) for item in items if item.strip()] or None
        else:
            value = spec.convert(raw) if raw not in (None, "") else None
        if value is None and spec.required:
            if not interactive:
                raise InputError(f"missing option {spec.option} ({spec.help})")
            value = _prompt(spec)
        if value is not None:
            data[spec.name] = value
    return data


def _log_command(kind: str):
    """A function typer can turn into `tracker log KIND`: its signature lists the model's fields."""
    specs = kind_inputs(kind)
    parameters = [
        inspect.Parameter("ctx", inspect.Parameter.KEYWORD_ONLY, annotation=typer.Context)
    ]
    for spec in specs:
        help_text = spec.help
        annotation = Annotated[
            Optional[list[str]] if spec.multiple else Optional[str],
            typer.Option(
                spec.option,
                help=help_text + (" [required]" if spec.required else ""),
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
        from .cli import append_and_report, fail

        interactive = stdin_is_terminal() and not as_json
        try:
            data = collect(kind, given, interactive=interactive)
        except InputError as e:
            raise fail(str(e)) from None
        append_and_report(ctx, [data], as_json=as_json)

    run.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    run.__annotations__ = {p.name: p.annotation for p in parameters}
    run.__name__ = f"log_{kind}"
    return run


def log_app(only_kind: str | None = None) -> typer.Typer:
    """`tracker log`: one subcommand per kind of world event (or just `only_kind`, if it is one)."""
    app = typer.Typer(
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
