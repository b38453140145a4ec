"""How transactions behave on the embedded SQLite database, and the read phase of a request.

SQLite allows one writer at a time. Every transaction begins IMMEDIATE (it queues for the write lock
at BEGIN, so a read cannot later fail to turn into a write), except a read snapshot asked for with
read_snapshot(): that one takes no lock at all, so a request can authenticate and check a batch while
another request's commit is being flushed to disk. PostgreSQL needs none of this.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
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


def end_read(session: Session, *keep: Any) -> None:
    """End the read phase; `keep` stay usable (detached, already loaded) for the write phase."""
    for obj in keep:
        session.expunge(obj)
    session.rollback()
