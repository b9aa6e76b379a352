# The two commands the README opens with; each sets up everything it needs first.
#   make serve   serve the bundled K-Silk Road record in Datasette
#   make test    run the test suite (installs Debian's chromium for the browser test and
#                postgresql for the log's contract suite)
VENV ?= .venv
PYTHON ?= python3
PORT ?= 8001

.PHONY: serve test setup browser postgresql screenshots bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[test]'
	@# an editable install leaves the project's own modules uncompiled; compile them as a
	@# wheel install would, so commands start fast even where bytecode is not written
	$(VENV)/bin/python -m compileall -q tracker events projections benchmarks >/dev/null
	touch $@

setup: $(VENV)/.installed

browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "Installing Debian's chromium for the browser test..."; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# The log's contract suite runs on PostgreSQL too: the tests start their own server with
# the package's initdb and pg_ctl, so only the binaries are needed, never a running service.
postgresql:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || { \
	  echo "Installing Debian's postgresql for the log's contract suite..."; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; }

serve: setup
	$(VENV)/bin/tracker serve --port $(PORT)

test: setup browser postgresql
	$(VENV)/bin/pytest

# Redraw the README's picture, docs/dashboard.png, from the browser test's dashboard page.
screenshots: setup browser
	UPDATE_SCREENSHOTS=1 $(VENV)/bin/pytest -q tests/test_browser.py -k dashboard

bench: setup postgresql
	$(VENV)/bin/python -m benchmarks all

clean:
	rm -rf $(VENV) test-artifacts .pytest_cache .hypothesis
