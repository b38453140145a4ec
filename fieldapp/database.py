"""Transactions by intent: a read never takes the write lock; a unit of work that writes says so.

The rule, for every request, command and start-up check:

- **Reads** (pages, statistics, exports, authentication, CLI listings) run in ordinary transactions. On
  SQLite they begin DEFERRED: in WAL mode a reader takes no lock, sees one snapshot, and never makes a
  writer wait, however long it streams. Inside a request or a command such a transaction is also
  `query_only`, so a write that forgot to say so fails at once, in tests, instead of under load.
- **Writes** happen only inside ``with writing(session):``. It ends any read first (a read cannot become a
  write under SQLite's lock rules without risking SQLITE_BUSY), queues for the write lock behind this
  server's other writers, begins IMMEDIATE, and commits when the block ends (rolls back on an error).
  Slow work (a KDF, a decrypt loop, a network call) is done before the block, never inside it.
- **Nothing outlives its request or command**: Flask-SQLAlchemy removes the session when the app context
  ends, and ``release_before_fork`` checks that no connection is in use before `serve` forks its workers.

PostgreSQL takes concurrent writers and needs no queue; the same code runs there unchanged.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: one server process, so the thread lock alone is enough
    fcntl = None  # type: ignore[assignment]

import click
from flask import has_request_context
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, scoped_session

WRITE_INTENT = "fieldapp_write"
_WRITING = "fieldapp_writing"


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


def _in_app_code() -> bool:
    """True while serving a request or running a command: where every write must come through writing()."""
    return has_request_context() or click.get_current_context(silent=True) is not None


@event.listens_for(Engine, "begin")
def _sqlite_begin(conn):  # type: ignore[no-untyped-def]
    if conn.dialect.name != "sqlite":
        return
    if conn.get_execution_options().get(WRITE_INTENT):
        conn.exec_driver_sql("PRAGMA query_only=0")
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        conn.exec_driver_sql("PRAGMA query_only=1" if _in_app_code() else "PRAGMA query_only=0")
        conn.exec_driver_sql("BEGIN")


class WriterQueue:
    """Queues this server's writers for SQLite's single write lock, across threads and worker processes.

    SQLite's own busy handler polls with sleeps of 1 to 100 ms, so waiting writers lose time and order;
    a kernel file lock (flock) beside the database wakes the next writer the moment the previous one ends.
    """

    def __init__(self, lock_path: Path | None) -> None:
        self._threads = threading.Lock()
        self._lock_path = lock_path
        self._fd: int | None = None
        self._pid = os.getpid()

    def _file(self) -> int | None:
        if self._lock_path is None:
            return None
        if self._fd is not None and self._pid != os.getpid():
            # A forked worker shares its parent's open file, and so its flock: open one of its own.
            self._fd = None
            self._threads = threading.Lock()
        if self._fd is None:
            self._fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            self._pid = os.getpid()
        return self._fd

    @contextmanager
    def turn(self) -> Iterator[None]:
        fd = self._file()
        with self._threads:
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                if fd is not None:
                    fcntl.flock(fd, fcntl.LOCK_UN)


_queues: dict[str, WriterQueue] = {}
_queues_lock = threading.Lock()


def writer_queue(engine: Engine) -> WriterQueue | None:
    """The queue for a SQLite file (one per file in this process); None for PostgreSQL."""
    url = engine.url
    if url.get_backend_name() != "sqlite":
        return None
    key = url.render_as_string(hide_password=True)
    with _queues_lock:
        if key not in _queues:
            path = Path(url.database) if url.database and url.database != ":memory:" else None
            _queues[key] = WriterQueue(path.with_name(path.name + ".writer-lock") if path and fcntl else None)
        return _queues[key]


class TransactionMisuse(RuntimeError):
    """A programming error against the rule above (changes made before writing(), writing() nested)."""


@contextmanager
def writing(session: Session | scoped_session[Session]) -> Iterator[Session]:
    """One unit of work that writes: ends any read, waits its turn, BEGIN IMMEDIATE, commits at the end."""
    if isinstance(session, scoped_session):
        session = session()
    if session.info.get(_WRITING):
        raise TransactionMisuse("writing() is already open on this session")
    if session.new or session.dirty or session.deleted:
        raise TransactionMisuse("changes were made outside writing()")
    if session.in_transaction():
        session.rollback()  # ends the read; objects it loaded reload inside the write
    engine = session.get_bind()
    queue = writer_queue(engine) if isinstance(engine, Engine) else None
    with queue.turn() if queue else nullcontext():
        session.info[_WRITING] = True
        try:
            session.connection(execution_options={WRITE_INTENT: True})
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.info.pop(_WRITING, None)


def end_read(session: Session) -> None:
    """End a read early (say, before a slow upload), so its snapshot does not hold back WAL checkpoints."""
    session.rollback()


def connections_in_use(engine: Engine) -> int:
    """Connections checked out of the pool: each is a transaction still open somewhere."""
    checked_out = getattr(engine.pool, "checkedout", None)
    return checked_out() if checked_out else 0


def release_before_fork(engine: Engine) -> None:
    """Close this process's connections, so that no forked worker inherits one; refuse if one is in use."""
    in_use = connections_in_use(engine)
    if in_use:
        raise TransactionMisuse(f"{in_use} database connection(s) still in use before the fork")
    engine.dispose()
