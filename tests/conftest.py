"""Fixtures: an app over a fresh database (SQLite always; PostgreSQL when the run provides one)."""

from __future__ import annotations

import atexit
import functools
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from flask import Flask, has_app_context
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import create_engine, text

from fieldapp import PROJECT_ROOT, create_app, crypto
from fieldapp.config import Config
from fieldapp.database import connections_in_use
from fieldapp.extensions import db
from fieldapp.i18n import catalogs as i18n_catalogs
from fieldapp.models import Role
from fieldapp.services import enrollment, keys, teams, users

FAST_KDF = crypto.KdfParams(n=2**10, r=8, p=1)
VECTORS = json.loads((Path(__file__).parent / "vectors" / "envelope-v1.json").read_text())
VECTORS_V2 = json.loads((Path(__file__).parent / "vectors" / "envelope-v2.json").read_text())
PG_URL = os.environ.get("FIELDAPP_TEST_DATABASE_URL", "")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])
KEY_PASSPHRASE = "llave del equipo 2026"
LOGIN_PASSPHRASE = "entrada segura 2026"
BROWSER_TESTS = "tests/browser/"

if os.environ.get("FIELDAPP_REQUIRE_POSTGRES") and not PG_URL:
    raise pytest.UsageError("FIELDAPP_REQUIRE_POSTGRES is set but FIELDAPP_TEST_DATABASE_URL is not")


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Under xdist, the browser tests run one after another on one worker (one Chromium at a time on two
    cores) while the others share out one test at a time."""
    from xdist.scheduler import LoadScopeScheduling

    class BrowserTestsTogether(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return "browser" if nodeid.startswith(BROWSER_TESTS) else nodeid

    return BrowserTestsTogether(config, log)


@functools.cache
def compiled_translations() -> Path:
    """The shipped catalogs, compiled once per run into a copy: tests never write into translations/."""
    folder = Path(tempfile.mkdtemp(prefix="fieldapp-translations-"))
    atexit.register(shutil.rmtree, folder, True)  # one per test process, gone with it
    copy = folder / "translations"
    shutil.copytree(PROJECT_ROOT / "translations", copy, ignore=shutil.ignore_patterns("*.mo", "*.json", ".*"))
    shutil.copy(PROJECT_ROOT / "translations" / "locales.json", copy / "locales.json")
    i18n_catalogs.compile_catalogs(copy)
    return copy


def copy_of_translations(destination: Path) -> Path:
    """A compiled copy a test may change (add a language, save a translation)."""
    shutil.copytree(compiled_translations(), destination)
    return destination


def make_config(tmp_path: Path, database_url: str | None = None, **overrides: Any) -> Config:
    values: dict[str, Any] = {
        "secret_key": "test-" + "k" * 40,
        "database_url": database_url or f"sqlite:///{tmp_path / 'test.db'}",
        "instance_path": tmp_path / "instance",
        "kdf": FAST_KDF,
        "testing": True,
        "translations_dir": compiled_translations(),
    }
    values.update(overrides)
    (tmp_path / "instance").mkdir(exist_ok=True)
    return Config(**values)


def fresh_postgres_database() -> str:
    """A new empty database on the test server, so each test starts clean."""
    name = "t_" + uuid.uuid4().hex[:16]
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return PG_URL.rsplit("/", 1)[0] + "/" + name


def drop_postgres_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    url = fresh_postgres_database()
    yield url
    drop_postgres_database(url)


def running_app(config: Config) -> Iterator[Flask]:
    """An app on a fresh schema, its connections closed afterwards (for fixtures: `yield from`)."""
    application = create_app(config)
    with application.app_context():
        db.create_all()
    yield application
    with application.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def app(tmp_path: Path, database_url: str) -> Iterator[Flask]:
    yield from running_app(make_config(tmp_path, database_url))


@pytest.fixture
def translations(tmp_path: Path) -> Path:
    """A compiled copy of the shipped translations, for tests that add languages or change catalogs."""
    return copy_of_translations(tmp_path / "translations")


@pytest.fixture
def translated_app(tmp_path: Path, translations: Path) -> Iterator[Flask]:
    """An app (SQLite) whose catalogs and registry are that copy."""
    instance = tmp_path / "app"
    instance.mkdir()
    application = create_app(make_config(instance, translations_dir=translations))
    with application.app_context():
        db.create_all()
    yield application
    with application.app_context():
        db.engine.dispose()


def assert_no_transaction_left(app: Flask, after: str) -> None:
    """No request or command may leave a transaction open (fieldapp/database.py): its session is gone."""
    with app.app_context():
        in_use = connections_in_use(db.engine)
    assert in_use == 0, f"{in_use} database connection(s) still in use after {after}"


class CheckedClient(FlaskClient):
    """The test client, checking after every request that it ended its transactions."""

    def open(self, *args: Any, **kwargs: Any):  # type: ignore[no-untyped-def]
        response = super().open(*args, **kwargs)
        if not has_app_context():  # inside a test's own app context, the request shares the test's session
            response.get_data()  # a streamed answer ends its read when it has been sent whole
            assert_no_transaction_left(self.application, f"{response.request.method} {response.request.path}")
        return response


class CheckedRunner(FlaskCliRunner):
    """The command runner, checking after every command that it ended its transactions."""

    def invoke(self, *args: Any, **kwargs: Any):  # type: ignore[no-untyped-def]
        result = super().invoke(*args, **kwargs)
        if not has_app_context():
            assert_no_transaction_left(self.app, f"fieldapp {' '.join(kwargs.get('args') or [])}")
        return result


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    app.test_client_class = CheckedClient
    return app.test_client()


@pytest.fixture
def runner(app: Flask):  # type: ignore[no-untyped-def]
    app.test_cli_runner_class = CheckedRunner
    return app.test_cli_runner()


@dataclass
class Org:
    """An organisation ready for the device API: a team, a managed key and one enrolled phone."""

    app: Flask
    team: str
    token: str
    pub: bytes
    private: ec.EllipticCurvePrivateKey
    kid: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def envelope(self, doc: dict[str, Any] | None = None, rid: str | None = None) -> dict[str, Any]:
        doc = doc or {"form": "trafficking-report", "form_version": 1, "answers": {"notes": "prueba"}}
        return crypto.seal_document(doc, self.pub, rid or str(uuid.uuid4()))

    def issue_code(self, uses: int = 1, ttl_hours: int = 24, look: str | None = None) -> str:
        with self.app.app_context():
            team = teams.find_team(db.session, self.team)
            code = enrollment.issue_code(db.session, team, uses, ttl_hours, look=look)
            db.session.commit()
            return code


@pytest.fixture
def org(app: Flask, client: FlaskClient) -> Org:
    with app.app_context():
        admin = users.create_user(db.session, "ana", Role.ADMIN.value, LOGIN_PASSPHRASE, FAST_KDF)
        new = keys.create_managed_key(db.session, admin, KEY_PASSPHRASE, FAST_KDF)
        team = teams.create_team(db.session, "Madre de Dios 1")
        code = enrollment.issue_code(db.session, team)
        pub, kid = new.key.public_key, new.key.kid
        db.session.commit()
    answer = client.post("/api/v1/enroll", json={"code": code})
    assert answer.status_code == 201, answer.json
    return Org(app, "Madre de Dios 1", answer.json["device_token"], pub, crypto.load_private_key(new.private_der), kid)


def table_counts(app: Flask) -> dict[str, int]:
    with app.app_context():
        return {
            table.name: db.session.execute(text(f"SELECT COUNT(*) FROM {table.name}")).scalar_one()
            for table in db.metadata.sorted_tables
        }
