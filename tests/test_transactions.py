"""Transactions by intent (fieldapp/database.py): reads take no write lock, writes say so, nothing outlives its
request, command or serve's start-up."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from fieldapp import server as serving
from fieldapp.database import TransactionMisuse, connections_in_use, writing
from fieldapp.extensions import db
from fieldapp.models import Role, Team, User
from fieldapp.services import teams, users

from .conftest import FAST_KDF, LOGIN_PASSPHRASE
from .test_dashboard_reports import csrf, inbox_org, login, unlock  # noqa: F401  (fixture and helpers)


def _sqlite_path(app) -> Path:  # type: ignore[no-untyped-def]
    with app.app_context():
        return Path(db.engine.url.database)


def write_lock_is_free(path: Path) -> bool:
    """Whether another process could begin writing now, without waiting."""
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        other.close()


SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # its write lock is the subject


@SQLITE_ONLY
def test_a_read_in_a_request_leaves_the_write_lock_free(app) -> None:
    path = _sqlite_path(app)
    with app.test_request_context("/dashboard/"):
        db.session.scalar(select(User.id).limit(1))
        assert db.session().in_transaction()
        assert write_lock_is_free(path)


@SQLITE_ONLY
def test_a_write_that_does_not_say_so_fails_in_a_request(app) -> None:
    with app.test_request_context("/dashboard/"):
        db.session.add(Team(name="Puno"))
        with pytest.raises(OperationalError, match="readonly"):
            db.session.flush()
        db.session.rollback()
        with writing(db.session):
            db.session.add(Team(name="Puno"))
        assert db.session.scalar(select(Team.name)) == "Puno"


@SQLITE_ONLY
def test_writing_holds_the_lock_only_inside_its_block(app) -> None:
    path = _sqlite_path(app)
    with app.test_request_context("/"):
        with writing(db.session):
            teams.create_team(db.session, "Loreto")
            assert not write_lock_is_free(path)
        assert write_lock_is_free(path)
        with pytest.raises(ValueError), writing(db.session):
            teams.create_team(db.session, "Cusco")
            raise ValueError("an error inside the unit of work")
        assert [t.name for t in teams.list_teams(db.session)] == ["Loreto"]  # rolled back whole
        assert write_lock_is_free(path)


def test_writing_refuses_misuse(app) -> None:
    with app.test_request_context("/"):
        with writing(db.session), pytest.raises(TransactionMisuse), writing(db.session):
            pass
    with app.app_context():
        db.session.add(Team(name="Ucayali"))
        with pytest.raises(TransactionMisuse):
            with writing(db.session):
                pass
        db.session.rollback()


@pytest.mark.parametrize("admin_exists", [False, True])
def test_serve_start_up_leaves_no_transaction_behind(app, runner, monkeypatch, admin_exists: bool) -> None:
    """The setup-link check once kept a transaction open for the server's whole life (every write: 503)."""
    if admin_exists:
        with app.app_context(), writing(db.session):
            users.create_user(db.session, "ana", Role.ADMIN.value, LOGIN_PASSPHRASE, FAST_KDF)
    seen: dict[str, object] = {}

    def hand_over(*args, **kwargs):  # type: ignore[no-untyped-def]
        # The moment serve hands over to gunicorn (which forks) or to werkzeug (which serves from here).
        seen["in_use"] = connections_in_use(db.engine)
        seen["session_open"] = db.session().in_transaction()
        if db.engine.dialect.name == "sqlite":
            seen["lock_free"] = write_lock_is_free(Path(db.engine.url.database))

    monkeypatch.setattr(serving, "serve_with_gunicorn", hand_over)
    monkeypatch.setattr(serving, "serve_with_werkzeug", hand_over)
    monkeypatch.setattr(serving, "start_forwarder", lambda seconds: seen.setdefault("forwarder", seconds))
    for server in ("gunicorn", "werkzeug"):
        seen.clear()
        result = runner.invoke(args=["serve", "--server", server])
        assert result.exit_code == 0, result.output
        assert ("/setup/" in result.output) is not admin_exists
        assert seen["in_use"] == 0 and seen["session_open"] is False, seen
        assert seen.get("lock_free", True), seen
        assert seen["forwarder"] == 60  # a base's forwarding starts beside the server


def test_every_request_and_command_of_the_suite_ends_its_transactions(app, client, runner) -> None:
    """The client and runner fixtures check this after every call; here, that the check itself can fail."""
    with app.app_context():
        engine = db.engine
    leaked = engine.connect()  # as a view would leave one behind
    leaked.begin()
    try:
        with pytest.raises(AssertionError, match="still in use"):
            client.get("/dashboard/login")
        with pytest.raises(AssertionError, match="still in use"):
            runner.invoke(args=["teams", "list"])
    finally:
        leaked.close()
    assert client.get("/dashboard/login").status_code == 200
    assert runner.invoke(args=["teams", "list"]).exit_code == 0


@SQLITE_ONLY
def test_passphrase_checks_run_while_the_write_lock_is_free(app, client, inbox_org, monkeypatch) -> None:  # noqa: F811
    """A flood of wrong logins or unlocks must not hold SQLite's write lock for a KDF's time each."""
    from fieldapp.crypto.custody import KdfParams

    path, free_during_kdf = _sqlite_path(app), []
    derive = KdfParams.derive

    def watched(self, secret: str, salt: bytes) -> bytes:  # type: ignore[no-untyped-def]
        free_during_kdf.append(write_lock_is_free(path))
        return derive(self, secret, salt)

    monkeypatch.setattr(KdfParams, "derive", watched)
    for passphrase in ("no es", "tampoco"):
        answer = client.post(
            "/dashboard/login",
            data={"username": "sara", "passphrase": passphrase, "csrf_token": csrf(client, "/dashboard/login")},
        )
        assert answer.status_code == 401
    login(client, "sara")
    assert unlock(client, "no es la clave").status_code == 403
    assert unlock(client).status_code == 302
    assert len(free_during_kdf) >= 5 and all(free_during_kdf), free_during_kdf
