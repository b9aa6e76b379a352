"""Generate the README's event-field tables and command reference from the code itself.

`python -m tracker.docs` rewrites the generated sections of README.md in place;
`python -m tracker.docs --check` exits 1 when they are out of date (the test suite
runs the same check), so the manual cannot drift from the models and the CLI.
"""

from __future__ import annotations

import re
import sys
import typing
from pathlib import Path

import typer

from events.models import MODELS, Envelope

README = Path(__file__).resolve().parents[1] / "README.md"
ENVELOPE_FIELDS = list(Envelope.model_fields)


def _type_name(annotation) -> str:
    text = repr(annotation)
    origin = typing.get_origin(annotation)
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if origin is typing.Literal:
        values = typing.get_args(annotation)
        return "code" if len(values) > 20 else " \\| ".join(str(v) for v in values)
    if origin is list:
        return f"list of {_type_name(args[0])}"
    if origin is typing.Annotated:
        return _type_name(args[0])
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        return _type_name(args[0])
    if hasattr(annotation, "model_fields"):
        return "{" + ", ".join(annotation.model_fields) + "}"
    return {"str": "string", "int": "integer", "float": "number", "Decimal": "decimal"}.get(
        getattr(annotation, "__name__", text), getattr(annotation, "__name__", text)
    )


def field_tables() -> str:
    """Markdown: the envelope's fields, then each kind's own fields, from the models."""
    lines = ["| field | type | required | meaning |", "|---|---|---|---|"]
    for name, info in Envelope.model_fields.items():
        lines.append(f"| `{name}` | {_type_name(info.annotation)} | {'yes' if info.is_required() else 'no'} | {info.description} |")
    lines += ["", "| kind | what it records | its own fields (* required) |", "|---|---|---|"]
    for kind, model in MODELS.items():
        own = [
            f"`{name}`{'*' if info.is_required() else ''}"
            for name, info in model.model_fields.items()
            if name not in ENVELOPE_FIELDS or kind == "milestone" and name in ("project", "status")
        ]
        own = [o for o in own if not o.startswith("`kind`")]
        default = f" Moves its project to `{model.default_status}` by default." if model.default_status else ""
        lines.append(f"| `{kind}` | {model.about}.{default} | {', '.join(own)} |")
    return "\n".join(lines)


def _command_rows(group, prefix: str) -> list[tuple[str, object]]:
    """(command line, command) for every leaf command; typer's click objects, read by duck type."""
    rows = []
    for name in sorted(group.commands):
        command = group.commands[name]
        if hasattr(command, "commands"):
            rows += _command_rows(command, f"{prefix}{name} ")
        else:
            rows.append((f"{prefix}{name}", command))
    return rows


def command_reference() -> str:
    """Markdown: every command with its arguments and options, from the CLI's own help."""
    from tracker.cli.main import cli_app

    from tracker.cli.kinds import ENVELOPE_ORDER, kind_inputs

    root = typer.main.get_command(cli_app())
    envelope_options = {spec.option for spec in kind_inputs("meeting") if spec.name in ENVELOPE_ORDER}
    out = [
        "Every command takes `--db PATH` before its name (default: `$TRACKER_DB`, else "
        "`./tracker.db`). Every `tracker log KIND` also takes the event options: "
        + ", ".join(f"`{spec.option}`" for spec in kind_inputs("meeting") if spec.name in ENVELOPE_ORDER)
        + " (see the field table above), and `--json`.\n"
    ]
    for path, command in _command_rows(root, "tracker "):
        first = (command.help or "").strip().split("\n\n")[0].replace("\n", " ")
        out.append(f"#### `{path}`\n\n{first}\n")
        rows = []
        for param in command.params:
            if param.name == "help" or path.startswith("tracker log ") and (
                param.opts[0] in envelope_options or param.name == "as_json"
            ):
                continue
            meaning = (getattr(param, "help", "") or "").replace("\\[", "[").replace("|", "\\|")
            if param.param_type_name == "argument":
                rows.append(f"| `{(param.metavar or param.name).upper()}` | {meaning} |")
            else:
                rows.append(f"| {', '.join(f'`{o}`' for o in param.opts)} | {meaning} |")
        if rows:
            out.append("| argument / option | meaning |\n|---|---|\n" + "\n".join(rows) + "\n")
    return "\n".join(out).rstrip() + "\n"


def serving_settings() -> str:
    """The Datasette settings of tracker.publish.site.SETTINGS, as the shell variable the README's
    `datasette` commands use."""
    from tracker.publish.site import datasette_settings

    return f'```bash\nSETTINGS="{datasette_settings()}"\n```\n'


SECTIONS = {"fields": field_tables, "commands": command_reference, "settings": serving_settings}


def render(text: str) -> str:
    for name, make in SECTIONS.items():
        pattern = re.compile(
            rf"(<!-- generated:{name} -->\n).*?(<!-- /generated:{name} -->)", re.DOTALL
        )
        body = make().rstrip() + "\n"
        text = pattern.sub(lambda m, body=body: m.group(1) + body + m.group(2), text)
    return text


def main() -> None:
    current = README.read_text()
    fresh = render(current)
    if "--check" in sys.argv[1:]:
        if fresh != current:
            print("README.md is out of date: run `python -m tracker.docs`", file=sys.stderr)
            raise SystemExit(1)
        return
    README.write_text(fresh)


if __name__ == "__main__":
    main()
