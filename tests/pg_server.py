"""A real PostgreSQL server for the tests, started by the tests themselves.

`initdb` and `pg_ctl` of the installed package (Debian's `postgresql`; `make test`
installs it) run as the `postgres` user when the tests run as root, on a private socket
directory under a fresh temporary directory, with no TCP listener at all. The server
lives for the session; each test gets a database of its own. Missing binaries are a
failure, not a skip: the contract suite must run on both backends.

`Server` needs no pytest (it raises ServerError): the benchmarks start theirs with it too
(`python -m benchmarks postgres`).
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest


class ServerError(RuntimeError):
    """The server could not be set up: the binaries or the `postgres` user are missing, or a step failed."""


def bindir() -> Path:
    """Where initdb and pg_ctl are: the newest /usr/lib/postgresql/N/bin, else $PATH."""
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parent.parent.name))
    if versions:
        return Path(versions[-1]).parent
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    raise ServerError(
        "PostgreSQL's server binaries (initdb, pg_ctl) are not installed, so the log's contract "
        "cannot be checked on PostgreSQL: install Debian's postgresql package (`make postgresql` does)"
    )


class Server:
    def __init__(self):
        self.bin = bindir()
        self.root = Path(tempfile.mkdtemp(prefix="tracker-pg-"))
        self.data = self.root / "data"
        self.socket = self.root / "socket"
        self.socket.mkdir()
        self.as_user: list[str] = []
        if os.geteuid() == 0:  # the server refuses to run as root
            try:
                account = pwd.getpwnam("postgres")
            except KeyError:
                raise ServerError("running as root, but there is no `postgres` user to run the server as") from None
            for path in (self.root, self.socket):
                os.chown(path, account.pw_uid, account.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self._names = itertools.count(1)

    def run(self, *command: str) -> None:
        done = subprocess.run([*self.as_user, *command], capture_output=True, text=True, cwd=self.root)
        if done.returncode:
            raise ServerError(f"{' '.join(command)} failed: {done.stderr.strip() or done.stdout.strip()}")

    def start(self, *settings: str) -> None:
        """initdb and start; `settings` are more `-c name=value` options for the server."""
        self.run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust",
                 "-E", "UTF8", "--locale=C", "--no-sync")
        options = " ".join([f"-k {self.socket} -c listen_addresses='' -c fsync=off -c max_connections=60",
                            *(f"-c {setting}" for setting in settings)])
        self.run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.root / "log"), "-w", "start")

    def stop(self) -> None:
        subprocess.run([*self.as_user, str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"],
                       capture_output=True, cwd=self.root)
        shutil.rmtree(self.root, ignore_errors=True)

    def admin(self):
        import psycopg

        return psycopg.connect(host=str(self.socket), dbname="postgres", user="postgres", autocommit=True)

    def new_database(self) -> str:
        """A fresh, empty database; its libpq URL (the socket directory in `host=`)."""
        name = f"log{next(self._names)}"
        with self.admin() as conn:
            conn.execute(f"CREATE DATABASE {name} TEMPLATE template0")
        return f"postgresql:///{name}?host={self.socket}&user=postgres"


@pytest.fixture(scope="session")
def pg_server():
    try:
        server = Server()
        server.start()
    except ServerError as e:
        pytest.fail(str(e), pytrace=False)
    try:
        yield server
    finally:
        server.stop()
