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


def test_0007_adds_looks_and_the_remote_wipe_keeping_phones_and_codes(tmp_path, database_url) -> None:
    app = create_app(make_config(tmp_path, database_url))
    added = {"enrollment_codes": {"look"}, "devices": {"look", "wipe_requested_on", "wiped_on"}}
    with app.app_context():
        upgrade(revision="0006")
        db.session.execute(text("INSERT INTO teams (id, name, created_on) VALUES (1, 'Cusco', '2026-11-29')"))
        db.session.execute(
            text(
                "INSERT INTO devices (id, team_id, token_hash, enrolled_on, revoked_on) "
                "VALUES (1, 1, :t, '2026-11-29', '2026-11-30')"
            ),
            {"t": "a" * 64},
        )
        db.session.execute(
            text(
                "INSERT INTO enrollment_codes (id, team_id, code_hash, expires_at, uses_left, created_on) "
                "VALUES (1, 1, :c, '2026-12-01 00:00:00', 1, '2026-11-29')"
            ),
            {"c": "b" * 64},
        )
        db.session.commit()
        upgrade(revision="0007")
        for table, columns in added.items():
            assert columns <= {c["name"] for c in inspect(db.engine).get_columns(table)}, table
        row = db.session.execute(text("SELECT look, wipe_requested_on, wiped_on FROM devices")).one()
        assert tuple(row) == (None, None, None)  # phones enrolled before keep the default look and no wipe
        assert db.session.execute(text("SELECT look FROM enrollment_codes")).scalar_one() is None
        db.session.execute(
            text("UPDATE devices SET look = 'clima', wipe_requested_on = :d, wiped_on = :d"),
            {"d": dt.date(2026, 12, 2)},
        )
        db.session.execute(text("UPDATE enrollment_codes SET look = 'calculadora'"))
        db.session.commit()
        downgrade(revision="0006")
        for table, columns in added.items():
            assert not columns & {c["name"] for c in inspect(db.engine).get_columns(table)}, table
        assert db.session.execute(text("SELECT token_hash FROM devices")).scalar_one() == "a" * 64
        assert db.session.execute(text("SELECT code_hash FROM enrollment_codes")).scalar_one() == "b" * 64
        db.session.rollback()  # end the read, whose snapshot predates the upgrade
        upgrade()
        assert db.session.execute(text("SELECT look FROM devices")).scalar_one() is None
        db.session.remove()
        db.engine.dispose()
