"""fieldapp: encrypted, anonymous field reports that work offline."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, Request

from . import database  # noqa: F401  (registers the SQLite connection policy)
from .config import Config
from .extensions import babel, db, migrate

PROJECT_ROOT = Path(__file__).resolve().parent.parent
MIGRATIONS_DIR = PROJECT_ROOT / "migrations"


class FieldappRequest(Request):
    """A request whose body limit is the app's, except where a route takes larger uploads (a bundle): the
    limit must hold before any hook reads the form (the CSRF check does), not only inside the view."""

    LARGER_BODIES = {"dashboard.bundle_upload": 2 << 30}

    @property  # type: ignore[override]
    def max_content_length(self) -> int | None:
        larger = self.LARGER_BODIES.get(self.endpoint or "")
        return larger if larger is not None else super().max_content_length


def create_app(config: Config | None = None) -> Flask:
    config = config or Config.from_env()
    app = Flask(
        __name__,
        instance_path=str(config.instance_path),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    app.request_class = FieldappRequest
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
    from .inputs import BoundedIntConverter

    app.url_map.converters["int"] = BoundedIntConverter  # before any route is added
    db.init_app(app)
    migrate.init_app(app, db, directory=str(MIGRATIONS_DIR), render_as_batch=True, compare_type=True)

    from .i18n import init_i18n

    init_i18n(app, babel)

    from .compression import init_compression
    from .problems import register_error_handlers
    from .security import init_security

    init_compression(app)  # registered first, so it runs last: on the answer as it leaves
    init_security(app)
    register_error_handlers(app)

    from .api import bp as api_bp
    from .dashboard import bp as dashboard_bp
    from .web import bp as web_bp

    app.register_blueprint(api_bp)
    app.register_blueprint(dashboard_bp)
    app.register_blueprint(web_bp)

    from .cli import register_commands

    register_commands(app)
    return app


def _engine_options(url: str) -> dict[str, object]:
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 15}}
    return {"pool_pre_ping": True}
