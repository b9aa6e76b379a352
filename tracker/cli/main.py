"""The `tracker` command: every command module registered on one typer app, and `main`.

Imports run one way: main → the command modules → common → the layers below.
"""

from __future__ import annotations

import os
import sys

import typer

from tracker.cli import log_commands, publishing, state  # noqa: F401  (they register their commands)
from tracker.cli.common import _quiet_stdout, app, reporting


def _command_words(argv: list[str]) -> list[str]:
    """The command words of a command line: `--db x log order --buyer y` → [log, order, y]."""
    words, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--db":
            skip = True
        elif not arg.startswith("-"):
            words.append(arg)
    return words


def cli_app(argv: list[str] | None = None) -> typer.Typer:
    """The `tracker` app: every command, or with `argv`, just the command it invokes.

    Typer turns every parameter of every command into a validator when it assembles
    the CLI, so building only the invoked command keeps `tracker log` quick to start.
    """
    from tracker.cli.kinds import log_app

    words = _command_words(argv) if argv is not None else []
    wanted = words[0] if words else None
    commands = _with_projection_commands(app.registered_commands)
    names = {info.name or info.callback.__name__.rstrip("_") for info in commands}
    result = typer.Typer(
        name=app.info.name,
        help=app.info.help,
        no_args_is_help=True,
        add_completion=True,  # --install-completion / --show-completion for bash, zsh, fish
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    result.registered_callback = app.registered_callback
    result.registered_commands = [
        info
        for info in commands
        if wanted not in names or (info.name or info.callback.__name__.rstrip("_")) == wanted
    ]
    if wanted not in names:
        only_kind = words[1] if wanted == "log" and len(words) > 1 else None
        log = log_app(only_kind)
        log.registered_commands = [_reporting_info(info) for info in log.registered_commands]
        result.add_typer(log, name="log")
    result.registered_commands = [_reporting_info(info) for info in result.registered_commands]
    return result


def _with_projection_commands(registered: list) -> list:
    """The registered commands with a command for each registered projection (made from its
    module's COMMAND) just before `replay`: made afresh each time, so a projection
    registered with `projections.register` has its command."""
    commands = list(registered)
    at = next((i for i, info in enumerate(commands) if info.callback is state.replay), len(commands))
    commands[at:at] = state.projection_commands()
    return commands


def _reporting_info(info):
    """A copy of a registered command whose callback reports faults (see `reporting`), and
    whose help is its docstring reflowed (see `reflowed`)."""
    import copy

    wrapped = copy.copy(info)
    wrapped.callback = reporting(info.callback)
    wrapped.help = reflowed(info.help or info.callback.__doc__ or "")
    return wrapped


def reflowed(doc: str) -> str:
    """A docstring as help: paragraphs kept, the line breaks inside them dropped, so that
    the terminal wraps the text at its own width rather than where the source did."""
    import inspect

    paragraphs = inspect.cleandoc(doc).split("\n\n")
    return "\n\n".join(" ".join(line.strip() for line in p.splitlines()) for p in paragraphs)


def main() -> None:
    # The tracker's models use no pydantic plugins, and looking for them scans the
    # metadata of every installed package on each command (10-15 ms). An explicit
    # PYDANTIC_DISABLE_PLUGINS (even empty) is left as the user set it.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "1")
    argv = hoist_db(sys.argv[1:])
    try:
        cli_app(argv)(args=argv, prog_name="tracker")
    except BrokenPipeError:
        _quiet_stdout()
        sys.exit(0)



def hoist_db(argv: list[str]) -> list[str]:
    """`tracker list --db x.db` as `tracker --db x.db list`: --db is the tracker's own option,
    but people type it after the command too. Everything after `--` is left alone."""
    words = list(argv)
    end = words.index("--") if "--" in words else len(words)
    first_word = next((i for i, w in enumerate(words[:end]) if not w.startswith("-") and (i == 0 or words[i - 1] != "--db")), None)
    if first_word is None:
        return words
    hoisted: list[str] = []
    i = first_word + 1
    while i < end:
        if words[i] == "--db" and i + 1 < end:
            hoisted += words[i:i + 2]
            del words[i:i + 2]
            end -= 2
        elif words[i].startswith("--db="):
            hoisted.append(words.pop(i))
            end -= 1
        else:
            i += 1
    return hoisted + words if hoisted else words
