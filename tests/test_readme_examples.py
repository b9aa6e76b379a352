"""The README's shell examples run, in order, and print what the README shows.

Every ```bash block of README.md runs, in README order, in one bash process (so a
variable a block sets, such as `$ID` or `$SETTINGS`, is there for the blocks after
it), in a fresh temporary directory, with the installed `tracker` first on PATH and
TRACKER_DB unset: as a reader would type them after `make setup`. Conventions:

- Each command (a line, with its `\\` continuations and here-documents) must exit 0,
  unless its comment says otherwise: `# exit 2`.
- A block with no language right after a ```bash block (nothing but blank lines
  between) is what that block's last command prints: stdout, then stderr. It must
  match exactly, except that `...` stands for any text.
- `<!-- not run: REASON -->` on the line above a block keeps it from running. Only
  commands that install software, start a server, publish to the cloud or run the
  benchmarks may be left out so (checked below).
- `<!-- run with: ARGS -->` on the line above a block appends ARGS to its last
  command. `--get PATH` makes `datasette` answer that one request and exit, 1 on an
  error, so the served snapshot is checked without starting a server.

A reading command (`list`, `status`, `tallies`, `timeline`, `figures`) must answer with
at least one row: an example that finds nothing shows nothing. `tracker serve` is not
run here; tests/test_browser.py drives it in a browser.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from .conftest import plain

README = Path(__file__).resolve().parent.parent / "README.md"

#: How a command may start in a block that is not run.
NOT_RUN_MAY_START = (
    "make ",
    "pip ",
    "tracker serve",
    "datasette publish ",
    "PLUGINS=",
    ".venv/bin/python -m benchmarks ",
)
READING = ("list", "status", "tallies", "timeline", "figures")
FENCE = re.compile(r"^```(\w*)\s*$")
MARKER = re.compile(r"^<!--\s*(not run|run with):\s*(.*?)\s*-->$")
HEREDOC = re.compile(r"<<-?\s*(['\"]?)(\w+)\1")
EXIT = re.compile(r"(?:^|\s)#\s*exit (\d+)\b")


@dataclass
class Block:
    language: str
    line: int  # README line of the opening fence
    text: str
    marker: tuple[str, str] | None = None  # ("not run", reason) or ("run with", args)
    output: str | None = None  # the plain block that follows it, if any


@dataclass
class Command:
    line: int  # README line where it starts
    text: str
    exit_code: int = 0
    output: str | None = None

    def __str__(self) -> str:
        return f"README.md:{self.line}: {self.text.splitlines()[0]}"


def blocks(markdown: str) -> list[Block]:
    """The fenced blocks of `markdown`, each with its marker and the output shown after it."""
    found: list[Block] = []
    lines = markdown.splitlines()
    previous = ""  # the last non-blank line before the current one
    after_block: Block | None = None  # the block whose closing fence `previous` is
    i = 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if not opening:
            if lines[i].strip():
                previous, after_block = lines[i].strip(), None
            i += 1
            continue
        end = next(j for j in range(i + 1, len(lines)) if lines[j].strip() == "```")
        block = Block(opening.group(1), i + 1, "\n".join(lines[i + 1 : end]))
        marker = MARKER.match(previous)
        if marker and lines[i - 1].strip() == previous:
            block.marker = (marker.group(1), marker.group(2))
        if not block.language and after_block is not None and after_block.language == "bash":
            after_block.output = block.text
        else:
            found.append(block)
        previous, after_block = "```", block
        i = end + 1
    return found


def commands(block: Block) -> list[Command]:
    """The commands of a bash block: comment lines dropped, continuations and here-documents joined."""
    result: list[Command] = []
    lines = block.text.splitlines()
    i = 0
    while i < len(lines):
        if not lines[i].strip() or lines[i].lstrip().startswith("#"):
            i += 1
            continue
        start, text = i, [lines[i]]
        while text[-1].endswith("\\"):
            i += 1
            text.append(lines[i])
        exit_code = EXIT.search("\n".join(text))  # in the command's own lines, not a here-document's
        heredoc = HEREDOC.search(text[-1])
        if heredoc:
            while lines[i] != heredoc.group(2):
                i += 1
                text.append(lines[i])
        result.append(Command(block.line + 1 + start, "\n".join(text), int(exit_code.group(1)) if exit_code else 0))
        i += 1
    if result and block.output is not None:
        result[-1].output = block.output
    if result and block.marker and block.marker[0] == "run with":
        last = result[-1]  # the arguments go before its comment, if it has one
        code, comment = re.fullmatch(r"(.*?)(\s+#[^\n]*)?", last.text, re.DOTALL).groups()
        last.text = f"{code} {block.marker[1]}{comment or ''}"
    return result


BLOCKS = blocks(README.read_text())
SKIPPED = [block for block in BLOCKS if block.marker and block.marker[0] == "not run"]
EXAMPLES = [
    command
    for block in BLOCKS
    if block.language == "bash" and block not in SKIPPED
    for command in commands(block)
]


def script(examples: list[Command], results: Path) -> str:
    """One bash script running every example, each one's stdout, stderr and exit code kept apart."""
    parts = []
    for n, command in enumerate(examples):
        # A brace group runs in this shell, so what a command assigns stays for the next.
        parts.append(f'{{ {command.text}\n}} >"{results}/{n}.out" 2>"{results}/{n}.err"; echo $? >"{results}/{n}.rc"')
    return "\n".join(parts) + "\n"


@dataclass
class Ran:
    exit_code: int
    stdout: str
    stderr: str


@pytest.fixture(scope="module")
def ran(tmp_path_factory) -> dict[int, Ran]:
    """Every example, run once, in README order, in a fresh directory."""
    here = tmp_path_factory.mktemp("readme")
    results = tmp_path_factory.mktemp("readme-results")
    env = {key: value for key, value in os.environ.items() if key != "TRACKER_DB"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    subprocess.run(
        ["bash", "-c", script(EXAMPLES, results)], cwd=here, env=env, stdin=subprocess.DEVNULL,
        timeout=300, check=False,
    )
    outcome = {}
    for n in range(len(EXAMPLES)):
        rc = results / f"{n}.rc"
        outcome[n] = Ran(
            int(rc.read_text()) if rc.exists() else -1,
            plain((results / f"{n}.out").read_text()) if rc.exists() else "",
            plain((results / f"{n}.err").read_text()) if rc.exists() else "",
        )
    return outcome


def matches(shown: str, printed: str) -> bool:
    """`printed` is `shown`, where `...` in `shown` stands for any text."""
    pattern = ".*?".join(re.escape(part) for part in shown.strip().split("..."))
    return re.fullmatch(pattern, printed.strip(), re.DOTALL) is not None


def example(starting: str, *, containing: str = "", lacking: str | None = None) -> int:
    """The position of the README example that starts so (and contains `containing`)."""
    for n, command in enumerate(EXAMPLES):
        if command.text.startswith(starting) and containing in command.text and (lacking is None or lacking not in command.text):
            return n
    raise AssertionError(f"the README has no example starting {starting!r} with {containing!r}")


def test_the_readme_tells_the_whole_story_in_examples_that_run():
    run = "\n".join(command.text for command in EXAMPLES)
    for step in (
        "tracker init", "tracker log order", "tracker correct", "tracker retract", "tracker show",
        "--known-at", "tracker verify", "tracker export", "import backup.jsonl", "tracker build",
        "datasette -i",
    ):
        assert step in run, step


def test_only_installing_serving_publishing_and_benchmarks_are_left_out():
    for block in SKIPPED:
        assert block.marker[1], f"README.md:{block.line}: say why the block is not run"
        for command in commands(block):
            assert command.text.startswith(NOT_RUN_MAY_START), f"{command} must run"


@pytest.mark.parametrize("n", range(len(EXAMPLES)), ids=[str(command) for command in EXAMPLES])
def test_the_example_runs(ran, n):
    command, result = EXAMPLES[n], ran[n]
    assert result.exit_code == command.exit_code, f"{command}\n{result.stderr}"


SHOWN = [n for n, command in enumerate(EXAMPLES) if command.output is not None]


@pytest.mark.parametrize("n", SHOWN, ids=[str(EXAMPLES[n]) for n in SHOWN])
def test_the_example_prints_what_the_readme_shows(ran, n):
    printed = ran[n].stdout + ran[n].stderr
    assert matches(EXAMPLES[n].output, printed), f"{EXAMPLES[n]}\nshown:\n{EXAMPLES[n].output}\nprinted:\n{printed}"


#: Reading examples that must find something: not those shown failing, nor those whose
#: shown output (checked above) is the point, such as an empty answer and its note.
READS = [
    n for n, command in enumerate(EXAMPLES)
    if re.match(rf"tracker ({'|'.join(READING)})\b", command.text) and command.exit_code == 0 and not command.output
]


@pytest.mark.parametrize("n", READS, ids=[str(EXAMPLES[n]) for n in READS])
def test_a_reading_example_finds_something(ran, n):
    stdout = ran[n].stdout
    if "--json" in EXAMPLES[n].text:
        assert json.loads(stdout), f"{EXAMPLES[n]} printed an empty answer"
    else:
        assert len(stdout.strip().splitlines()) >= 2, f"{EXAMPLES[n]} printed no rows\n{ran[n].stderr}"


def test_the_correction_story_reads_as_the_readme_tells_it(ran):
    logged = ran[example("echo \"$ID\"")].stdout.strip()
    now = ran[example("tracker list --project", lacking="--known-at")].stdout
    then = ran[example("tracker list --project", containing="--known-at \"$BEFORE\"")].stdout
    shown = ran[example("tracker show \"$ID\"")].stdout
    assert logged in then and logged not in now
    assert "correction" in shown and "retraction" in shown


def test_shown_output_is_matched_exactly_but_for_the_ellipses():
    """So an id the README shows that a command no longer prints fails the suite."""
    assert not matches("2024-06-01-order-3be1f0a29c4d", "2024-06-01-order-549a590e39de")
    assert matches("OK: 53 events, chain intact, head seq 53 hash ...", "OK: 53 events, chain intact, head seq 53 hash 9f3c")
