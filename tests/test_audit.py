"""The audit trail is append-only and hash-chained: an edited, deleted or inserted row is found."""

from __future__ import annotations

from sqlalchemy import delete, text, update

from fieldapp.extensions import db
from fieldapp.models import AuditEvent
from fieldapp.services import audit

from .test_dashboard_access import accounts, login  # noqa: F401  (fixture and helper)


def fill(app, n: int = 5) -> list[int]:
    with app.app_context():
        ids = [audit.record(db.session, "ana", "report_opened", report_rid=f"rid-{i}", note=i).id for i in range(n)]
        db.session.commit()
        return ids


def verify(app) -> audit.Verification:
    with app.app_context():
        return audit.verify(db.session)


def test_intact_chain_verifies(app) -> None:
    fill(app)
    result = verify(app)
    assert result.ok and result.checked == 5 and len(result.head) == 64


def test_an_edited_row_is_found(app) -> None:
    ids = fill(app)
    with app.app_context():
        db.session.execute(update(AuditEvent).where(AuditEvent.id == ids[2]).values(actor="otra"))
        db.session.commit()
    result = verify(app)
    assert not result.ok and result.broken_at == ids[2] and result.checked == 2 and "modificada" in result.reason


def test_a_deleted_row_is_found(app) -> None:
    ids = fill(app)
    with app.app_context():
        db.session.execute(delete(AuditEvent).where(AuditEvent.id == ids[1]))
        db.session.commit()
    result = verify(app)
    assert not result.ok and result.broken_at == ids[2]


def test_an_edited_detail_with_its_hash_recomputed_still_breaks_the_next_link(app) -> None:
    ids = fill(app)
    with app.app_context():
        event = db.session.get(AuditEvent, ids[1])
        forged = audit._digest(event.prev_hash, event.at, event.actor, event.action, event.report_rid, '{"note":9}')
        db.session.execute(
            text("UPDATE audit_events SET detail = :d, hash = :h WHERE id = :i"),
            {"d": '{"note":9}', "h": forged, "i": ids[1]},
        )
        db.session.commit()
    result = verify(app)
    assert not result.ok and result.broken_at == ids[2]


def test_cli_verify_exit_codes(app, runner) -> None:
    ids = fill(app)
    ok = runner.invoke(args=["audit", "verify"])
    assert ok.exit_code == 0 and "5" in ok.output
    with app.app_context():
        db.session.execute(update(AuditEvent).where(AuditEvent.id == ids[3]).values(action="nada"))
        db.session.commit()
    broken = runner.invoke(args=["audit", "verify"])
    assert broken.exit_code == 1 and str(ids[3]) in broken.output


def test_admin_page_says_where_the_chain_breaks(app, client, accounts) -> None:  # noqa: F811
    ids = fill(app)
    with app.app_context():
        db.session.execute(update(AuditEvent).where(AuditEvent.id == ids[0]).values(action="nada"))
        db.session.commit()
    login(client, "admin")
    page = client.get("/dashboard/audit").get_data(as_text=True)
    assert f"La cadena se rompe en el evento {ids[0]}" in page


def test_cli_actions_are_recorded(app, runner) -> None:
    runner.invoke(args=["teams", "create", "Loreto"])
    runner.invoke(args=["devices", "code", "--team", "Loreto"])
    with app.app_context():
        actions = [e.action for e in db.session.query(AuditEvent).order_by(AuditEvent.id)]
    assert actions == ["team_created", "enrollment_code_issued"]
    assert verify(app).ok


def test_every_recorded_action_has_words_on_the_audit_page(app, client, accounts) -> None:  # noqa: F811
    import re
    from pathlib import Path

    source = "\n".join(p.read_text("utf-8") for p in (Path(audit.__file__).parent.parent).rglob("*.py"))
    recorded = set(re.findall(r'record\(\s*[^,]+,\s*[^,]+,\s*"(\w+)"', source))
    assert len(recorded) > 20 and recorded <= set(audit.ACTION_LABELS), recorded - set(audit.ACTION_LABELS)
    login(client, "admin")
    page = client.get("/dashboard/audit").get_data(as_text=True)
    assert "Entrada al panel <span" in page
    english = client.get("/dashboard/audit?lang=en").get_data(as_text=True)
    assert "Logged in to the dashboard <span" in english


def test_a_phones_events_keep_their_date_only(app, client, runner) -> None:
    """No row may place a phone at a precise time; a person's own actions keep theirs (accountability)."""
    runner.invoke(args=["teams", "create", "Loreto"])
    code = runner.invoke(args=["devices", "code", "--team", "Loreto"]).output.strip().splitlines()[-1]
    assert client.post("/api/v1/enroll", json={"code": code}).status_code == 201
    with app.app_context():
        [device_id] = db.session.scalars(text("SELECT id FROM devices"))
    runner.invoke(args=["devices", "revoke", str(device_id)])
    with app.app_context():
        events = {e.action: e.at for e in db.session.query(AuditEvent)}
        page_times = {e.action: audit.shown_time(e) for e in db.session.query(AuditEvent)}
    for action in ("enrollment", "device_revoked"):
        assert (events[action].hour, events[action].minute, events[action].second) == (0, 0, 0), action
        assert len(page_times[action]) == len("2026-12-01"), page_times[action]
    assert len(page_times["team_created"]) == len("2026-12-01 22:10:00")
    assert verify(app).ok
