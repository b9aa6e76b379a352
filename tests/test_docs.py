"""The README is the manual: it must name every command and option, and its generated parts must be current."""

from pathlib import Path

import typer

from tracker.cli.main import cli_app
from tracker.docs import README, _command_rows, render

TEXT = README.read_text()


def test_the_generated_sections_are_current():
    assert render(TEXT) == TEXT, "run `python -m tracker.docs`"


def test_the_readme_opens_with_the_two_setup_commands():
    first_block = TEXT.split("```")[1]
    assert "make serve" in first_block and "make test" in first_block
    makefile = (Path(README).parent / "Makefile").read_text()
    assert "\nserve:" in makefile and "\ntest:" in makefile


def test_every_command_and_option_is_in_the_readme():
    root = typer.main.get_command(cli_app())
    for path, command in _command_rows(root, "tracker "):
        assert f"`{path}`" in TEXT, path
        for param in command.params:
            for option in getattr(param, "opts", []):
                if option.startswith("--") and option != "--help":
                    assert f"`{option}`" in TEXT, f"{path} {option}"


def test_ci_runs_the_readmes_test_command():
    ci = (Path(README).parent / ".ci" / "run").read_text()
    assert "make test" in ci
