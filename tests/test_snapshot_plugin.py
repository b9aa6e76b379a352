"""A published snapshot has the tracker's pages: its Datasette plugin is installed with the
package (a `datasette` entry point), so plain `datasette` serving a `tracker build` snapshot
adds the same links, scripts and feeds as `tracker serve`, and either way it is loaded once."""

from __future__ import annotations

import importlib.metadata
import re
import shlex
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.servers import free_port, wait_until_serving

from tests.conftest import bundled_log, get
from tracker.publish import feeds, plugin
from tracker.publish.schema import prepare_path
from tracker.publish.site import datasette_for

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
REINSTALL = "the package's entry points are installed by `make setup` (pip install -e '.[test]'): run it again"


def test_the_plugin_is_the_packages_datasette_entry_point():
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]["datasette"]
    assert declared == {plugin.PLUGIN_NAME: "tracker.publish.plugin"}
    installed = {ep.name: ep.value for ep in importlib.metadata.entry_points(group="datasette")}
    assert installed.get(plugin.PLUGIN_NAME) == "tracker.publish.plugin", REINSTALL


def test_the_plugin_is_registered_once_and_its_feeds_win(tmp_path):
    from datasette.plugins import pm

    db = bundled_log(tmp_path / "tracker.db")
    prepare_path(db)
    for ds in (datasette_for(db), datasette_for(db, immutable=True, live=False)):
        listed = [p["name"] for p in get(ds, "/-/plugins.json").json()]
        assert listed.count(plugin.PLUGIN_NAME) == 1, listed
        assert [name for name, p in pm.list_name_plugin() if p is plugin] == [plugin.PLUGIN_NAME]
        # the tracker's own renderers (registered last, should a datasette-ics or -atom be installed too)
        assert ds.renderers["ics"][0] is feeds.render_ics and ds.renderers["atom"][0] is feeds.render_atom


def fetch(url: str) -> tuple[str, str]:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.headers["content-type"], response.read().decode("utf-8")


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory):
    """The bundled record as `tracker serve` serves it (in-process) and as a snapshot built by
    `tracker build site.db`, served by the plain `datasette` command that `tracker build` prints."""
    work = tmp_path_factory.mktemp("snapshot")
    bundled_log(work / "tracker.db")
    built = subprocess.run([str(BIN / "tracker"), "--db", "tracker.db", "build", "site.db"], cwd=work,
                           capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    command = shlex.split(re.search(r"Serve it with: (.*)", built.stdout + built.stderr).group(1))
    assert command[0] == "datasette" and "--plugins-dir" not in command
    port = free_port()
    server = subprocess.Popen([str(BIN / "datasette"), *command[1:], "--port", str(port)], cwd=work,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(server, base, "datasette")
        prepare_path(work / "tracker.db")  # as `tracker serve` does before serving
        yield base, datasette_for(work / "tracker.db")
    finally:
        server.terminate()
        server.wait(10)


def as_served(text: str, base: str) -> str:
    """A page of the snapshot (served as /site/ at `base`) with its URLs as `tracker serve`'s
    test client writes them (/tracker/ at http://localhost)."""
    return text.replace(f"{base}/", "http://localhost/").replace("/site/", "/tracker/").replace("/site.", "/tracker.")


def unfold(ics: str) -> str:
    return ics.replace("\r\n ", "")


def test_plain_datasette_loads_the_plugin_once(snapshot):
    base, _ = snapshot
    _, text = fetch(base + "/-/plugins.json")
    names = re.findall(r'"name": "([^"]+)"', text)
    assert names.count(plugin.PLUGIN_NAME) == 1, (names, REINSTALL)


def test_a_snapshots_feeds_are_tracker_serves(snapshot):
    base, live = snapshot
    _, home = fetch(base + "/")
    assert 'href="/site/calendar.ics"' in home and 'href="/site/recent_events.atom"' in home
    kind, calendar = fetch(base + "/site/calendar.ics")
    assert kind == "text/calendar; charset=utf-8"
    assert "DTSTAMP:" in calendar and "DTSTART;VALUE=DATE:20240601\r\n" in calendar
    assert unfold(as_served(calendar, base)) == unfold(get(live, "/tracker/calendar.ics").text)
    kind, atom = fetch(base + "/site/recent_events.atom")
    assert kind == "application/atom+xml; charset=utf-8"
    assert f'href="{base}/event/2024-12-09-tajikistan-korea-minerals-roundtable"' in atom
    assert as_served(atom, base) == get(live, "/tracker/recent_events.atom").text


def test_a_snapshots_pages_have_tracker_serves_links_and_scripts(snapshot):
    base, live = snapshot

    def links(text: str) -> set[str]:
        return set(re.findall(r'href="(/(?:(?:site|tracker)/countries\?|project/|event/)[^"]+)"', text))

    for path in ("/site/search?q=train", "/site/project_status_on?as_of=2024-08-01&known_at=&project="):
        _, page = fetch(base + path)
        served = get(live, as_served(path, base)).text
        assert links(page), path  # cells naming events, projects and countries are links
        assert {as_served(link, base) for link in links(page)} == links(served), path
    _, events = fetch(base + "/site/effective_events")
    assert "About these columns" in events and "col-amended_body { display: none; }" in events
    # an events table row's own page is the reader's page of the event (urllib follows the redirect)
    _, event = fetch(base + "/site/effective_events/2024-12-09-tajikistan-korea-minerals-roundtable")
    assert as_served(event, base) == get(live, "/event/2024-12-09-tajikistan-korea-minerals-roundtable").text
    for path in ("/project/korea-central-asia-summit", "/project/korea-central-asia-summit?as_of=2024-08-01",
                 "/event/2024-12-09-tajikistan-korea-minerals-roundtable"):
        _, page = fetch(base + path)
        assert as_served(page, base) == get(live, path).text, path  # the reader's pages, the same
    _, home = fetch(base + "/")
    assert 'href="/project/korea-central-asia-summit"' in home and "Projects by status" in home
    _, dashboard = fetch(base + "/-/dashboards/ksilkroad?as_of=2024-08-01")
    assert "renderChart('total-events'" in dashboard


def test_a_snapshot_answers_reported_by_with_the_plugins_sql_function(snapshot):
    """Plain `datasette` loads the plugin by its entry point, so the snapshot's questions and
    dashboard have `tracker_reported`: the summit as reported by the end of 2024, and once
    the January 2025 article was out."""
    import json

    base, _ = snapshot
    for day, want in (("2024-12-31", "proposed"), ("2025-01", "agreed")):
        query = urllib.parse.urlencode({"project": "korea-central-asia-summit", "as_of": "", "known_at": "",
                                        "reported_by": day, "_shape": "objects"})
        _, text = fetch(f"{base}/site/project_status_on.json?{query}")
        assert [row["status"] for row in json.loads(text)["rows"]] == [want]
    _, dashboard = fetch(base + "/-/dashboards/ksilkroad?reported_by=2024-12-31")
    assert 'name="reported_by"' in dashboard


def test_the_wheel_the_readme_publishes_with_carries_the_plugin_its_templates_and_questions(tmp_path):
    """`datasette publish ... --static wheel:wheel --install wheel/ksilkroad_tracker-*.whl`
    (README, Publishing): the wheel `pip wheel --no-deps` builds is what the published
    server gets, so it must hold the plugin's entry point, its templates and the code its
    pages and questions run."""
    import zipfile

    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--wheel-dir", str(tmp_path), str(ROOT)],
                   check=True, capture_output=True, timeout=600)
    (wheel,) = tmp_path.glob("ksilkroad_tracker-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        entry_points = next(z.read(n).decode() for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "[datasette]" in entry_points and "= tracker.publish.plugin" in entry_points
    for page in ("tracker_project.html", "tracker_event.html", "tracker_timeline.html", "index.html"):
        assert f"tracker/publish/plugin/templates/{page}" in names
    assert {"tracker/publish/reported_sql.py", "tracker/publish/feeds.py", "events/data/ksilkroad.jsonl"} <= names
