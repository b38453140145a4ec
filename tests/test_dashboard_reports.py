"""Unlock and the inbox: reading only in an unlocked session, across worker processes, nothing at rest."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select, update

from fieldapp import create_app
from fieldapp.extensions import db
from fieldapp.models import AuditEvent, Report, ReportNote, UnlockedKeys
from fieldapp.services import keys, users

from .conftest import FAST_KDF, KEY_PASSPHRASE, LOGIN_PASSPHRASE, Org, make_config

SUPERVISOR_KEY = "clave de la supervisora 1"


def csrf(client, path: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True)).group(1)


def login(client, username: str) -> None:
    token = csrf(client, "/dashboard/login")
    answer = client.post(
        "/dashboard/login", data={"username": username, "passphrase": LOGIN_PASSPHRASE, "csrf_token": token}
    )
    assert answer.status_code == 302


def unlock(client, passphrase: str = SUPERVISOR_KEY):  # type: ignore[no-untyped-def]
    return client.post(
        "/dashboard/unlock", data={"key_passphrase": passphrase, "csrf_token": csrf(client, "/dashboard/unlock")}
    )


def doc(**answers) -> dict:  # type: ignore[no-untyped-def]
    base = {"department": "17", "place_kind": "mining_camp", "exploitation_type": ["ForcedLabour"]}
    return {
        "form": "trafficking-report",
        "form_version": 1,
        "locale": "qu",
        "answers": {**base, **answers},
        "attachments": [],
    }


@pytest.fixture
def inbox_org(org: Org, app, client):  # type: ignore[no-untyped-def]
    """A supervisor holding the key, an offline-custody supervisor, and three reports from the phone."""
    with app.app_context():
        ana = users.find_user(db.session, "ana")
        sara = users.create_user(db.session, "sara", "supervisor", LOGIN_PASSPHRASE, FAST_KDF)
        users.create_user(db.session, "olga", "supervisor", LOGIN_PASSPHRASE, FAST_KDF)
        keys.grant(db.session, ana, KEY_PASSPHRASE, sara, SUPERVISOR_KEY, FAST_KDF)
        db.session.commit()
    envelopes = [
        org.envelope(doc(urgent=True, notes="urgente")),
        org.envelope(doc(department="21", exploitation_type=["SexualExploitation"])),
        org.envelope(doc(department="16")),
    ]
    answer = client.post("/api/v1/reports", json={"reports": envelopes}, headers=org.headers)
    assert [r["status"] for r in answer.json["results"]] == ["stored"] * 3
    return [e["rid"] for e in envelopes]


def test_locked_inbox_shows_facts_only_and_detail_asks_to_unlock(client, inbox_org) -> None:
    login(client, "sara")
    page = client.get("/dashboard/reports").get_data(as_text=True)
    assert "3 informes" in page and "Madre de Dios 1" in page
    assert "Abrir" not in page and "urgente" not in page
    answer = client.get(f"/dashboard/reports/{inbox_org[0]}")
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/dashboard/unlock")


def test_wrong_key_passphrase_is_refused_and_audited(app, client, inbox_org) -> None:
    login(client, "sara")
    assert unlock(client, "no es la clave").status_code == 403
    with app.app_context():
        assert db.session.scalar(select(AuditEvent.action).order_by(AuditEvent.id.desc()).limit(1)) == "unlock_refused"
        assert db.session.query(UnlockedKeys).count() == 0


def test_unlocked_inbox_opens_reports_in_the_readers_words(app, client, inbox_org) -> None:
    login(client, "sara")
    assert unlock(client).status_code == 302
    listing = client.get("/dashboard/reports").get_data(as_text=True)
    assert listing.count("Abrir") == 3 and "qu" in listing
    page = client.get(f"/dashboard/reports/{inbox_org[0]}").get_data(as_text=True)
    assert "Peligro inmediato" in page and "Campamento minero" in page and "Madre de Dios" in page
    assert "Trabajo forzoso" in page and "urgente" in page
    with app.app_context():
        event = db.session.scalar(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1))
        assert (event.actor, event.action, event.report_rid) == ("sara", "report_opened", inbox_org[0])


def test_content_filters_work_only_unlocked(client, inbox_org) -> None:
    login(client, "sara")
    unlock(client)
    urgent = client.get("/dashboard/reports?urgent=yes").get_data(as_text=True)
    assert "1 informe," in urgent
    puno = client.get("/dashboard/reports?department=21&exploitation_type=SexualExploitation").get_data(as_text=True)
    assert "1 informe," in puno
    assert client.get("/dashboard/reports?since=ayer").status_code == 422
    assert client.get("/dashboard/reports?status=perdido").status_code == 422


def test_lock_now_and_idle_expiry(app, client, inbox_org) -> None:
    login(client, "sara")
    unlock(client)
    assert client.get(f"/dashboard/reports/{inbox_org[0]}").status_code == 200
    client.post("/dashboard/lock", data={"csrf_token": csrf(client, "/dashboard/reports")})
    assert client.get(f"/dashboard/reports/{inbox_org[0]}").status_code == 302
    with app.app_context():
        assert db.session.query(UnlockedKeys).count() == 0
    unlock(client)
    with app.app_context():
        db.session.execute(update(UnlockedKeys).values(expires_at=dt.datetime(2000, 1, 1)))
        db.session.commit()
    assert client.get(f"/dashboard/reports/{inbox_org[0]}").status_code == 302


def test_unlock_works_across_worker_processes(app, client, inbox_org, tmp_path) -> None:
    """A second app on the same database and secret (another worker) reads with the same cookie."""
    login(client, "sara")
    unlock(client)
    config = app.config["FIELDAPP"]
    (tmp_path / "other").mkdir()
    other = create_app(make_config(tmp_path / "other", config.database_url, secret_key=config.secret_key))
    other_client = other.test_client()
    cookie = client.get_cookie("fieldapp_session")
    other_client.set_cookie("fieldapp_session", cookie.value)
    assert other_client.get(f"/dashboard/reports/{inbox_org[0]}").status_code == 200
    with other.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_no_unwrapped_key_at_rest_while_unlocked(app, client, inbox_org, tmp_path) -> None:
    login(client, "sara")
    unlock(client)
    with app.app_context():
        sara = users.find_user(db.session, "sara")
        [private] = keys.unlock(db.session, sara, SUPERVISOR_KEY).values()
        db.session.remove()
    scalar = private.private_numbers().private_value.to_bytes(32, "big")
    files = list(tmp_path.rglob("*.db*"))
    assert files and all(scalar not in f.read_bytes() for f in files)


def test_status_workflow_and_sealed_notes(app, client, inbox_org) -> None:
    rid = inbox_org[1]
    login(client, "sara")
    unlock(client)
    token = csrf(client, f"/dashboard/reports/{rid}")

    def move(status: str, target: str = ""):  # type: ignore[no-untyped-def]
        return client.post(
            f"/dashboard/reports/{rid}/status", data={"status": status, "referred_to": target, "csrf_token": token}
        )

    assert move("closed").status_code == 422  # new -> closed skips review
    assert move("in_review").status_code == 302
    assert move("referred").status_code == 422  # referred needs a target
    assert move("referred", "sunafil").status_code == 302
    assert move("closed").status_code == 302
    note = "Derivado a SUNAFIL; seguimiento el lunes."
    assert client.post(f"/dashboard/reports/{rid}/notes", data={"note": note, "csrf_token": token}).status_code == 302
    page = client.get(f"/dashboard/reports/{rid}").get_data(as_text=True)
    assert note in page and "Inspección laboral (SUNAFIL)" in page and "Cerrado" in page
    with app.app_context():
        report = db.session.scalar(select(Report).where(Report.rid == rid))
        assert (report.status, report.referred_to) == ("closed", "sunafil")
        [stored] = db.session.scalars(select(ReportNote))
        assert note not in stored.envelope and '"ct":' in stored.envelope  # sealed, not plaintext
        actions = [e.action for e in db.session.scalars(select(AuditEvent).where(AuditEvent.report_rid == rid))]
    assert actions.count("status_changed") == 3 and "note_added" in actions


def test_offline_custody_reader_sees_counts_only(client, inbox_org) -> None:
    login(client, "olga")
    assert "custodia fuera de línea" in client.get("/dashboard/unlock").get_data(as_text=True)
    page = client.get("/dashboard/reports").get_data(as_text=True)
    assert "Custodia fuera de línea" in page and "Abrir" not in page and "3 informes" in page
