"""Failures from outside the tracker — a busy database, a full disk, a read-only file — in the user's words.

The command line reports each as one line with exit code 3 ("could not complete"),
saying what was written and what was not; it never shows a traceback for them.
"""

from __future__ import annotations

import errno
import os
import sqlite3

#: The exit code for a command the machine would not let complete.
COULD_NOT_COMPLETE = 3


class Fault(Exception):
    """A command could not complete; the message says what was and was not written."""

    def __init__(self, message: str):
        self.message = message
        super().__init__(message)


def _busy_seconds() -> str:
    from tracker.log.connection import busy_timeout

    return f"{busy_timeout():g} s"


#: A file system with less room than this, after an input/output error, is a full one: SQLite
#: reports some writes that ran out of room (growing the WAL index, say) as I/O errors.
NEARLY_FULL = 1024 * 1024


def _nearly_full(path) -> bool:
    try:
        stat = os.statvfs(os.path.dirname(os.path.abspath(path)) or ".")
    except OSError:
        return False
    return stat.f_bavail * stat.f_frsize < NEARLY_FULL


def cause(error: BaseException, path: str | os.PathLike | None = None) -> str | None:
    """What went wrong, in the user's words, when `error` comes from the machine; else None.

    `path`, the database the command was working on, tells an I/O error on a full disk
    from any other.
    """
    if isinstance(error, sqlite3.Error):
        name = getattr(error, "sqlite_errorname", "") or ""
        text = str(error)
        if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "database is locked" in text:
            return (
                f"the database is busy: another process held its write lock for more than "
                f"{_busy_seconds()} (set TRACKER_BUSY_TIMEOUT to wait longer)"
            )
        if name == "SQLITE_FULL" or "disk is full" in text:
            return "the disk is full"
        if name.startswith("SQLITE_READONLY") or "readonly database" in text:
            return "the database file is read-only"
        if name.startswith("SQLITE_CANTOPEN") or "unable to open database" in text:
            return "the database file cannot be opened (is its folder read-only or missing?)"
        if (name.startswith("SQLITE_IOERR") or "disk I/O error" in text) and path is not None and _nearly_full(path):
            return "the disk is full"
        if name.startswith("SQLITE_IOERR") or "disk I/O error" in text:
            return f"the disk reported an input/output error ({text})"
        if name in ("SQLITE_CORRUPT", "SQLITE_NOTADB") or "malformed" in text or "not a database" in text:
            return f"the file is not a readable SQLite database ({text})"
        return None
    if isinstance(error, OSError):
        if error.errno in (errno.ENOSPC, errno.EDQUOT):
            return "the disk is full"
        if error.errno == errno.EROFS:
            return "the file system is read-only"
        if error.errno in (errno.EACCES, errno.EPERM):
            return f"permission denied{f' for {error.filename}' if error.filename else ''}"
        if error.errno == errno.EIO:
            return "the disk reported an input/output error"
    return None


def remedy(reason: str) -> str:
    """When to try again, for a message that says `tracker replay` will finish the job."""
    if reason.startswith("the disk is full"):
        return "when there is room"
    if reason.startswith("the database is busy"):
        return "when the other process is done"
    return "once that is fixed"
