"""`python -m benchmarks [SUITE] [--n N]`: measure the tracker and print figures.

Suites: bulk, the default (import until queryable, full replay, verify, size, memory,
queries and pages, each beside its floor, at 100,000 and 1,000,000 events unless --n
names one size), import (log throughput, memory, floor), log (one `tracker log` process),
replay (full and incremental replay, time-travel queries), datasette (page latency),
postgres (the shared log on a PostgreSQL server it starts: import against a COPY floor,
8 concurrent writers, the read model's catch-up, verify; SQLite beside it).
Figures go to stdout; nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import importlib

SUITES = {
    "bulk": "benchmarks.bench_bulk",
    "import": "benchmarks.bench_import",
    "log": "benchmarks.bench_import",
    "replay": "benchmarks.bench_replay",
    "datasette": "benchmarks.bench_datasette",
    "postgres": "benchmarks.bench_postgres",
}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("suite", nargs="?", default="bulk", choices=[*SUITES, "all"])
    parser.add_argument("--n", type=int, default=None,
                        help="synthetic events (default 1,000,000; bulk: 100,000 then 1,000,000)")
    parser.add_argument("--workdir", default=None, help="where to put the databases (default: a temp dir)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="import suite: runs of the import and of the floor, in turn; the best of each is reported (default 3)")
    args = parser.parse_args()
    for suite in SUITES if args.suite == "all" else [args.suite]:
        module = importlib.import_module(SUITES[suite])
        options = {"repeat": args.repeat} if suite == "import" else {}
        n = args.n if args.n or suite == "bulk" else 1_000_000
        module.run(suite, n=n, workdir=args.workdir, **options)


if __name__ == "__main__":
    main()
