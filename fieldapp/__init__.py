"""fieldapp: encrypted, anonymous field reports that work offline."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine

from .config import Config
from .extensions import babel, db, migrate

PROJECT_ROOT = Path(__file__).resolve().parent.parent
MIGRATIONS_DIR = PROJECT_ROOT / "migrations"


def create_app(config: Config | None = None) -> Flask:
    config = config or Config.from_env()
    app = Flask(
        __name__,
        instance_path=str(config.instance_path),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    app.config.update(
        FIELDAPP=config,
        SECRET_KEY=config.secret_key,
        SQLALCHEMY_DATABASE_URI=config.database_url,
        SQLALCHEMY_ENGINE_OPTIONS=_engine_options(config.database_url),
        MAX_CONTENT_LENGTH=config.max_request_bytes,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_SECURE=config.is_production,
        SESSION_COOKIE_NAME="fieldapp_session",
        TESTING=config.testing,
    )
    db.init_app(app)
    migrate.init_app(app, db, directory=str(MIGRATIONS_DIR), render_as_batch=True, compare_type=True)

    from .i18n import init_i18n

    init_i18n(app, babel)

    from .problems import register_error_handlers
    from .security import init_security

    init_security(app)
    register_error_handlers(app)

    from .api import bp as api_bp
    from .dashboard import bp as dashboard_bp

    app.register_blueprint(api_bp)
    app.register_blueprint(dashboard_bp)

    from .cli import register_commands

    register_commands(app)
    return app


def _engine_options(url: str) -> dict[str, object]:
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 15}}
    return {"pool_pre_ping": True}


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
def _sqlite_begin_immediate(conn):  # type: ignore[no-untyped-def]
    """Writers queue for the lock at BEGIN, instead of failing when a read turns into a write."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")
