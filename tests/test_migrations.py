"""Migrations are the schema's truth: `upgrade head` equals the models, and each step goes down and up with data."""

from __future__ import annotations

import datetime as dt

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, inspect, text

from fieldapp import create_app
from fieldapp.extensions import db

from .conftest import make_config


def _migrated_app(tmp_path, database_url):
    app = create_app(make_config(tmp_path, database_url))
    with app.app_context():
        upgrade()
    return app


def test_upgrade_head_matches_models(tmp_path, database_url) -> None:
    app = _migrated_app(tmp_path, database_url)
    with app.app_context():
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), db.metadata)
        db.engine.dispose()
    assert diff == []


def test_downgrade_and_upgrade_with_data(tmp_path, database_url) -> None:
    app = _migrated_app(tmp_path, database_url)
    today = dt.date(2026, 11, 29)
    with app.app_context():
        db.session.execute(text("INSERT INTO teams (id, name, created_on) VALUES (1, 'Puno', :d)"), {"d": today})
        db.session.execute(
            text(
                "INSERT INTO reports (rid, team_id, kid, envelope, envelope_sha256, size, received_on, status) "
                "VALUES ('0b6c4b1e-6f0e-4c5e-9a55-3f0f5c2f6d11', 1, '814413ef472591db', '{}', :h, 2, :d, 'new')"
            ),
            {"h": "0" * 64, "d": today},
        )
        db.session.commit()
        downgrade(revision="base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
        upgrade()
        assert set(inspect(db.engine).get_table_names()) >= {t.name for t in db.metadata.sorted_tables}
        # Data survives a step down and up of any later revision; after base it is gone by design.
        db.session.execute(text("INSERT INTO teams (id, name, created_on) VALUES (1, 'Puno', :d)"), {"d": today})
        db.session.commit()
        db.session.remove()
        db.engine.dispose()


def test_each_revision_steps_down_and_up_keeping_rows(tmp_path, database_url) -> None:
    """For every revision after the first, rows in tables it does not drop survive down-and-up."""
    from alembic.script import ScriptDirectory

    from fieldapp import MIGRATIONS_DIR

    script = ScriptDirectory(str(MIGRATIONS_DIR))
    revisions = list(reversed(list(script.walk_revisions())))
    assert revisions[0].revision == "0001"
    app = _migrated_app(tmp_path, database_url)
    with app.app_context():
        db.session.execute(text("INSERT INTO teams (id, name, created_on) VALUES (1, 'Loreto', '2026-11-29')"))
        db.session.commit()
        for rev in reversed(revisions[1:]):
            downgrade(revision=rev.down_revision)
            upgrade(revision=rev.revision)
        assert db.session.execute(text("SELECT name FROM teams")).scalar_one() == "Loreto"
        db.session.remove()
        db.engine.dispose()


def test_sqlite_runs_in_wal_with_full_sync(tmp_path) -> None:
    app = _migrated_app(tmp_path, None)
    with app.app_context():
        assert db.session.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
        assert db.session.execute(text("PRAGMA synchronous")).scalar_one() == 2  # FULL
        assert db.session.execute(text("PRAGMA foreign_keys")).scalar_one() == 1
        db.session.remove()
        db.engine.dispose()
    engine = create_engine(f"sqlite:///{tmp_path / 'test.db'}")
    with engine.connect() as conn:
        assert "reports" in inspect(conn).get_table_names()
    engine.dispose()
