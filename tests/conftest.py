"""Shared fixtures: a fresh log, the CLI, one valid example of every kind of event, and a
check that the suite leaves the checkout's tracked files as it found them."""

from __future__ import annotations

import copy
import os
import re
import subprocess
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from tracker.cli.main import cli_app
from tracker.log.store import EventStore

ROOT = Path(__file__).resolve().parent.parent
#: Tracked files a run asked to redraw them may change (`make screenshots`).
REDRAWN = {"docs/dashboard.png"} if os.environ.get("UPDATE_SCREENSHOTS") == "1" else set()

SOURCE = {
    "publisher": "Caspian Policy Center",
    "title": "Implementing the K-Silk Road",
    "published": "2025-01-31",
    "url": None,
    "author": "Maia Kiniyalocts",
}

ENVELOPE = {
    "occurred": "2024-06-12",
    "countries": ["KR", "KZ"],
    "summary": "A test event written for the suite.",
    "sources": [SOURCE],
}

#: One valid event of every world kind, with its own fields filled in.
EXAMPLES = {
    "visit": {"visitor": "Yoon Suk-yeol", "visitor_country": "KR", "host_country": "KZ", "level": "state"},
    "signing": {"parties": ["Korea", "Kazakhstan"], "title": "Eleven agreements", "agreement_count": 11,
                "value": {"amount": "1500000", "currency": "USD"}},
    "mou": {"parties": ["Korea", "Kazakhstan"], "subject": "critical minerals supply chain"},
    "order": {"buyer": "Uzbekistan Railways", "supplier": "Hyundai Rotem", "item": "high-speed trains",
              "quantity": 42, "value": {"amount": "196000000", "currency": "USD"}},
    "forum": {"name": "Korea-Central Asia Cooperation Forum", "edition": 17, "host_country": "KR", "attendance": 300},
    "meeting": {"participants": ["KOICA", "Ministry of Transport of Tajikistan"], "topic": "railway feasibility"},
    "summit": {"name": "Korea-Central Asia Summit", "planned_for": "2025", "project": "kca-summit"},
    "announcement": {"announcer": "KT&G", "subject": "a subsidiary in Uzbekistan"},
    "milestone": {"project": "uz-trains", "status": "in_progress"},
    "figure": {"metric": "bilateral_trade", "amount": "6000000000", "unit": "USD", "period": "2023"},
}


def example(kind: str, /, **overrides) -> dict:
    """A valid event of `kind` as an import dict; keyword arguments replace fields."""
    event = {"kind": kind, **copy.deepcopy(ENVELOPE), **copy.deepcopy(EXAMPLES[kind])}
    event.update(overrides)
    return {key: value for key, value in event.items() if value is not ...}


def get(ds, path: str):
    """A page of a Datasette instance, asked through its own client once it has started."""
    import asyncio

    async def run():
        await ds.invoke_startup()
        return await ds.client.get(path)

    return asyncio.run(run())


def bundled_log(path, *batches: list[dict]):
    """A log at `path` holding the bundled record, then each of `batches`, caught up; returns `path`."""
    from tracker.log.bundled import record_path
    from tracker.log.importing import read_jsonl
    from tracker.replay.engine import catch_up

    with EventStore(path) as store:
        store.append(read_jsonl(record_path()))
        for batch in batches:
            store.append(batch)
        catch_up(store)
    return path


@pytest.fixture
def store(tmp_path):
    with EventStore(tmp_path / "tracker.db") as s:
        yield s


@pytest.fixture
def db(tmp_path):
    """A path for a database the CLI will create."""
    return tmp_path / "tracker.db"


class Cli:
    """Runs `tracker` in-process against one database, the way a person would type it."""

    def __init__(self, db):
        self.db = db
        self.runner = CliRunner()

    def __call__(self, *args: str, input: str | None = None, env: dict | None = None):
        return self.runner.invoke(cli_app(), ["--db", str(self.db), *args], input=input, env=env)

    def json(self, *args: str):
        result = self(*args, "--json")
        assert result.exit_code == 0, result.output
        return orjson.loads(result.stdout)


@pytest.fixture
def cli(db):
    return Cli(db)


def plain(text: str) -> str:
    """Output without ANSI colour codes: terminals and CI may force colour."""
    return re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", text)


def write_jsonl(path, events) -> None:
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))


def tracked_status() -> str | None:
    """`git status` of the checkout's tracked files; None when the tests do not run from one."""
    git = ["git", "--no-optional-locks", "-C", str(ROOT)]
    try:
        top = subprocess.run([*git, "rev-parse", "--show-toplevel"], capture_output=True, text=True, timeout=60)
        if top.returncode != 0 or Path(top.stdout.strip()).resolve() != ROOT:
            return None
        status = subprocess.run(
            [*git, "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if status.returncode != 0:
        return None
    return "".join(line for line in status.stdout.splitlines(True) if line[3:].strip() not in REDRAWN)


@pytest.fixture(scope="session", autouse=True)
def the_checkout_is_left_as_it_was():
    """Tests write to temporary directories and test-artifacts/ (ignored), never over a tracked file.

    Untracked files are not compared: other programs may make them while the suite runs.
    """
    before = tracked_status()
    yield
    after = tracked_status() if before is not None else None
    if after is not None and after != before:
        changed = sorted(set(after.splitlines()) - set(before.splitlines()))
        pytest.fail(
            "tracked files changed while the test suite ran (by a test, unless someone edited them "
            "meanwhile):\n" + "\n".join(changed or after.splitlines()),
            pytrace=False,
        )
