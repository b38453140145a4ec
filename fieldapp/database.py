"""How transactions behave on the embedded SQLite database, and the read phase of a request.

SQLite allows one writer at a time. Every transaction begins IMMEDIATE (it queues for the write lock
at BEGIN, so a read cannot later fail to turn into a write), except a read snapshot asked for with
read_snapshot(): that one takes no lock at all, so a request can authenticate and check a batch while
another request's commit is being flushed to disk. PostgreSQL needs none of this.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: one server process, so the thread lock alone is enough
    fcntl = None  # type: ignore[assignment]

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session

READ_SNAPSHOT = "fieldapp_read_snapshot"


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record):  # type: ignore[no-untyped-def]
    """WAL for concurrent readers, FULL sync so an acknowledged report survives a power cut."""
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        # Take transaction control from pysqlite so SAVEPOINT and BEGIN IMMEDIATE behave.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=15000")
        cursor.close()


@event.listens_for(Engine, "begin")
def _sqlite_begin(conn):  # type: ignore[no-untyped-def]
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(READ_SNAPSHOT) else "BEGIN IMMEDIATE")


def read_snapshot(session: Session) -> None:
    """Start the session's next transaction as a lock-free read; it must not write."""
    session.connection(execution_options={READ_SNAPSHOT: True})


def end_read(session: Session) -> None:
    """End the read phase, so that the write phase begins a transaction of its own."""
    session.rollback()


class WriterQueue:
    """Queues this server's hot writers for SQLite's single write lock, across threads and worker processes.

    SQLite's own busy handler polls with sleeps of 1 to 100 ms, so waiting writers lose time and order;
    a kernel file lock (flock) beside the database wakes the next writer the moment the previous one ends.
    """

    def __init__(self, lock_path: Path | None) -> None:
        self._threads = threading.Lock()
        self._lock_path = lock_path
        self._fd: int | None = None

    @classmethod
    def for_database(cls, database_url: str) -> WriterQueue | None:
        """A queue for a SQLite file; None for servers that take concurrent writers (PostgreSQL)."""
        url = make_url(database_url)
        if url.get_backend_name() != "sqlite":
            return None
        path = Path(url.database) if url.database and url.database != ":memory:" else None
        return cls(path.with_name(path.name + ".writer-lock") if path and fcntl else None)

    def _file(self) -> int | None:
        if self._lock_path is not None and self._fd is None:
            self._fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        return self._fd

    @contextmanager
    def turn(self, session: Session) -> Iterator[None]:
        """Hold the turn for a write that must end in commit; on an error it is rolled back first."""
        with self._threads:
            fd = self._file()
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                yield
            except BaseException:
                session.rollback()
                raise
            finally:
                if fd is not None:
                    fcntl.flock(fd, fcntl.LOCK_UN)
