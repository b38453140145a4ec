"""The device API as PROTOCOL.md §5 fixes it: enroll, bootstrap, reports; idempotency and every 4xx."""

from __future__ import annotations

import datetime as dt
import json
import threading
import uuid

import pytest
from sqlalchemy import func, inspect, select, update
from werkzeug.serving import make_server

from fieldapp import crypto
from fieldapp.database import writing
from fieldapp.extensions import db
from fieldapp.models import EnrollmentCode, Report
from fieldapp.services import devices

from .conftest import Org, table_counts


def report_rows(app) -> list[Report]:
    with app.app_context():
        return list(db.session.scalars(select(Report)))


def assert_problem(answer, status: int) -> dict:
    assert answer.status_code == status, (answer.status_code, answer.get_data(as_text=True)[:300])
    assert answer.mimetype == "application/problem+json"
    body = answer.json
    assert body["status"] == status and body["title"] and body["type"]
    return body


# ---------------------------------------------------------------- enroll


def test_enroll_gives_token_and_team(org: Org, client) -> None:
    answer = client.post("/api/v1/enroll", json={"code": org.issue_code()})
    assert answer.status_code == 201
    assert answer.json["team"] == org.team and len(answer.json["device_token"]) >= 40
    assert answer.headers["Cache-Control"] == "no-store"


def test_enroll_code_is_forgiving_to_type(org: Org, client) -> None:
    code = org.issue_code()
    typed = code.lower().replace("-", " ").replace("0", "o").replace("1", "l")
    assert client.post("/api/v1/enroll", json={"code": typed}).status_code == 201


def test_enroll_code_used_unknown_expired(org: Org, client, app) -> None:
    code = org.issue_code()
    assert client.post("/api/v1/enroll", json={"code": code}).status_code == 201
    assert_problem(client.post("/api/v1/enroll", json={"code": code}), 403)
    assert_problem(client.post("/api/v1/enroll", json={"code": "AAAA-BBBB-CC"}), 403)
    expired = org.issue_code()
    with app.app_context():
        db.session.execute(update(EnrollmentCode).values(expires_at=dt.datetime(2000, 1, 1)))
        db.session.commit()
    assert_problem(client.post("/api/v1/enroll", json={"code": expired}), 403)


def test_enroll_code_with_several_uses(org: Org, client) -> None:
    code = org.issue_code(uses=2)
    tokens = {client.post("/api/v1/enroll", json={"code": code}).json["device_token"] for _ in range(2)}
    assert len(tokens) == 2
    assert_problem(client.post("/api/v1/enroll", json={"code": code}), 403)


@pytest.mark.parametrize("body", [{}, {"code": 5}, {"code": ""}, {"code": "x" * 65}, {"code": None}])
def test_enroll_malformed(org: Org, client, body) -> None:
    assert_problem(client.post("/api/v1/enroll", json=body), 422)


def test_enroll_retried_after_a_lost_answer_gets_a_token_for_the_same_device(org: Org, client, app) -> None:
    """The answer to an enrolment can be lost on the way back: the phone tries again with the same id."""
    code, attempt = org.issue_code(), "r" * 22
    first = client.post("/api/v1/enroll", json={"code": code, "enrollment_id": attempt})
    assert first.status_code == 201
    devices_before = table_counts(app)["devices"]
    retry = client.post("/api/v1/enroll", json={"code": code, "enrollment_id": attempt})
    assert retry.status_code == 201 and retry.json["team"] == first.json["team"]
    assert table_counts(app)["devices"] == devices_before  # the same device, no second one left behind
    lost, token = first.json["device_token"], retry.json["device_token"]
    assert client.get("/api/v1/bootstrap", headers={"Authorization": f"Bearer {lost}"}).status_code == 401
    assert client.get("/api/v1/bootstrap", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    # Once the phone has used its token, the code is spent for good, for it and for anyone else.
    assert_problem(client.post("/api/v1/enroll", json={"code": code, "enrollment_id": attempt}), 403)
    assert_problem(client.post("/api/v1/enroll", json={"code": code, "enrollment_id": "s" * 22}), 403)
    assert_problem(client.post("/api/v1/enroll", json={"code": code}), 403)


def test_enroll_retry_needs_the_same_id_and_a_live_code(org: Org, client, app) -> None:
    code = org.issue_code()
    assert client.post("/api/v1/enroll", json={"code": code, "enrollment_id": "a" * 22}).status_code == 201
    assert_problem(client.post("/api/v1/enroll", json={"code": code, "enrollment_id": "b" * 22}), 403)
    with app.app_context(), writing(db.session):
        db.session.execute(update(EnrollmentCode).values(expires_at=dt.datetime(2020, 1, 1)))
    assert_problem(client.post("/api/v1/enroll", json={"code": code, "enrollment_id": "a" * 22}), 403)


@pytest.mark.parametrize("attempt", [5, "", "x" * 21, "x" * 65, "a" * 21 + "\n", "ñ" * 22, ["a" * 22]])
def test_enroll_malformed_enrollment_id(org: Org, client, app, attempt) -> None:
    before = table_counts(app)
    assert_problem(client.post("/api/v1/enroll", json={"code": org.issue_code(), "enrollment_id": attempt}), 422)
    assert table_counts(app)["devices"] == before["devices"]


def test_enroll_stores_no_device_for_bad_code(org: Org, client, app) -> None:
    before = table_counts(app)
    client.post("/api/v1/enroll", json={"code": "ZZZZ-ZZZZ-ZZ"})
    assert table_counts(app) == before


# ---------------------------------------------------------------- auth and bootstrap


def test_bootstrap_lists_keys_forms_locales(org: Org, client) -> None:
    answer = client.get("/api/v1/bootstrap", headers=org.headers)
    assert answer.status_code == 200
    [key] = answer.json["keys"]
    assert key == {"kid": org.kid, "alg": "ECDH-P256", "pub": crypto.b64u_encode(org.pub), "current": True}
    assert crypto.kid_for(crypto.b64u_decode(key["pub"])) == key["kid"]
    assert {"code": "es", "name": "Español", "direction": "ltr"} in answer.json["locales"]
    assert isinstance(answer.json["forms"], list)
    assert answer.json["phone"] == {
        "pin_failures": 10,
        "draft_hours": 72,
        "lock_minutes": 2,
        "duress_pin": False,
        "recording_minutes": 10,
    }


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer nope"},
        {"Authorization": "Basic abc"},
        {"Authorization": "Bearer " + "x" * 500},
    ],
)
def test_bootstrap_needs_a_valid_token(org: Org, client, headers) -> None:
    assert_problem(client.get("/api/v1/bootstrap", headers=headers), 401)


def test_revoked_device_gets_401_and_keeps_nothing_new(org: Org, client, app) -> None:
    """Revoked without a wipe: refused everywhere, and never told to wipe (tests/test_remote_wipe.py)."""
    with app.app_context():
        [device] = devices.list_devices(db.session)
        devices.revoke(db.session, device.id, wipe=False)
        db.session.commit()
    assert "wipe" not in assert_problem(client.get("/api/v1/bootstrap", headers=org.headers), 401)
    answer = client.post("/api/v1/reports", json={"reports": [org.envelope()]}, headers=org.headers)
    assert "wipe" not in assert_problem(answer, 401)
    assert report_rows(app) == []


def test_sync_records_only_the_date(org: Org, client, app) -> None:
    client.post("/api/v1/reports", json={"reports": []}, headers=org.headers)
    with app.app_context():
        [device] = devices.list_devices(db.session)
        assert device.last_sync_on == dt.datetime.now(dt.UTC).date()
        assert isinstance(device.last_sync_on, dt.date) and not isinstance(device.last_sync_on, dt.datetime)


# ---------------------------------------------------------------- reports


def test_reports_stored_then_duplicate(org: Org, client, app) -> None:
    envelopes = [org.envelope() for _ in range(3)]
    first = client.post("/api/v1/reports", json={"reports": envelopes}, headers=org.headers)
    assert first.status_code == 200
    assert [r["status"] for r in first.json["results"]] == ["stored"] * 3
    assert [r["rid"] for r in first.json["results"]] == [e["rid"] for e in envelopes]
    again = client.post("/api/v1/reports", json={"reports": envelopes}, headers=org.headers)
    assert [r["status"] for r in again.json["results"]] == ["duplicate"] * 3
    rows = report_rows(app)
    assert len(rows) == 3
    row = rows[0]
    assert row.status == "new" and row.kid == org.kid and row.size == len(row.envelope)
    assert row.received_on == dt.datetime.now(dt.UTC).date()
    assert crypto.open_envelope(json.loads(row.envelope), {org.kid: org.private})["answers"]["notes"] == "prueba"


def test_duplicate_ignores_json_spelling(org: Org, client) -> None:
    envelope = org.envelope()
    client.post("/api/v1/reports", json={"reports": [envelope]}, headers=org.headers)
    respelled = json.dumps({"reports": [dict(reversed(list(envelope.items())))]}, indent=3)
    answer = client.post("/api/v1/reports", data=respelled, content_type="application/json", headers=org.headers)
    assert answer.json["results"][0]["status"] == "duplicate"


def test_same_rid_other_bytes_is_rejected_and_first_kept(org: Org, client, app) -> None:
    rid = str(uuid.uuid4())
    original = org.envelope(rid=rid)
    impostor = org.envelope({"answers": {"notes": "otro"}}, rid=rid)
    client.post("/api/v1/reports", json={"reports": [original]}, headers=org.headers)
    answer = client.post("/api/v1/reports", json={"reports": [impostor]}, headers=org.headers)
    [result] = answer.json["results"]
    assert result["status"] == "rejected" and result["rid"] == rid and result["error"]
    [row] = report_rows(app)
    assert json.loads(row.envelope) == original


def test_same_rid_twice_in_one_batch(org: Org, client, app) -> None:
    envelope = org.envelope()
    other = org.envelope({"answers": {}}, rid=envelope["rid"])
    answer = client.post("/api/v1/reports", json={"reports": [envelope, envelope, other]}, headers=org.headers)
    assert [r["status"] for r in answer.json["results"]] == ["stored", "duplicate", "rejected"]
    assert len(report_rows(app)) == 1


def test_attachment_list_is_kept(org: Org, client, app) -> None:
    envelope = org.envelope()
    envelope["att"] = [{"aid": str(uuid.uuid4()), "chunks": 3}]
    answer = client.post("/api/v1/reports", json={"reports": [envelope]}, headers=org.headers)
    assert answer.json["results"][0]["status"] == "stored"
    assert json.loads(report_rows(app)[0].envelope)["att"] == envelope["att"]


def test_report_row_names_team_never_device(app) -> None:
    with app.app_context():
        columns = {c["name"] for c in inspect(db.engine).get_columns("reports")}
    assert "team_id" in columns
    assert not any("device" in c or "ip" == c or "agent" in c for c in columns)


def _b64(n: int) -> str:
    return crypto.b64u_encode(b"\x01" * n)


BAD_ENVELOPES = {
    "not an object": lambda e: "text",
    "v missing": lambda e: {k: v for k, v in e.items() if k != "v"},
    "v 3": lambda e: dict(e, v=3),
    "v true": lambda e: dict(e, v=True),
    "v string": lambda e: dict(e, v="1"),
    "rid uppercase": lambda e: dict(e, rid=e["rid"].upper()),
    "rid v1 uuid": lambda e: dict(e, rid=str(uuid.uuid1())),
    "rid number": lambda e: dict(e, rid=12),
    "kid unknown": lambda e: dict(e, kid="0000000000000000"),
    "kid uppercase": lambda e: dict(e, kid=e["kid"].upper()),
    "epk short": lambda e: dict(e, epk=_b64(64)),
    "epk compressed prefix": lambda e: dict(e, epk=crypto.b64u_encode(b"\x02" + b"\x01" * 64)),
    "epk padded": lambda e: dict(e, epk=e["epk"] + "="),
    "iv 16 bytes": lambda e: dict(e, iv=_b64(16)),
    "iv not base64": lambda e: dict(e, iv="????????????????"),
    "ct empty": lambda e: dict(e, ct=""),
    "ct 15 bytes": lambda e: dict(e, ct=_b64(15)),
    "ct over 1.5 MiB": lambda e: dict(e, ct=_b64(1536 * 1024 + 1)),
    "ct number": lambda e: dict(e, ct=5),
    "extra field": lambda e: dict(e, device="phone-7"),
    "att not list": lambda e: dict(e, att={}),
    "att bad aid": lambda e: dict(e, att=[{"aid": "x", "chunks": 1}]),
    "att zero chunks": lambda e: dict(e, att=[{"aid": str(uuid.uuid4()), "chunks": 0}]),
    "att float chunks": lambda e: dict(e, att=[{"aid": str(uuid.uuid4()), "chunks": 1.0}]),
    "att repeated aid": lambda e: dict(e, att=[{"aid": "7d1f0c9e-3b7a-4c1e-9f2a-6a5b4c3d2e1f", "chunks": 1}] * 2),
}


@pytest.mark.parametrize("name", list(BAD_ENVELOPES))
def test_each_bad_envelope_rejected_alone(org: Org, client, app, name: str) -> None:
    good = org.envelope()
    bad = BAD_ENVELOPES[name](org.envelope())
    answer = client.post("/api/v1/reports", json={"reports": [bad, good]}, headers=org.headers)
    assert answer.status_code == 200
    bad_result, good_result = answer.json["results"]
    assert bad_result["status"] == "rejected" and bad_result["error"]
    assert good_result == {"rid": good["rid"], "status": "stored"}
    assert [r.rid for r in report_rows(app)] == [good["rid"]]


def test_epk_off_the_curve_is_kept_and_refused_by_the_opener(org: Org, client, app) -> None:
    envelope = dict(org.envelope(), epk=crypto.b64u_encode(b"\x04" + b"\x01" * 64))
    answer = client.post("/api/v1/reports", json={"reports": [envelope]}, headers=org.headers)
    assert answer.json["results"][0]["status"] == "stored"
    [row] = report_rows(app)
    with pytest.raises(crypto.EnvelopeError, match=envelope["rid"]):
        crypto.open_envelope(json.loads(row.envelope), {org.kid: org.private})


def test_ct_at_the_limit_is_stored(org: Org, client) -> None:
    envelope = dict(org.envelope(), ct=_b64(1536 * 1024))
    answer = client.post("/api/v1/reports", json={"reports": [envelope]}, headers=org.headers)
    assert answer.json["results"][0]["status"] == "stored"


def test_batch_over_100_is_413(org: Org, client, app) -> None:
    batch = [org.envelope() for _ in range(101)]
    assert_problem(client.post("/api/v1/reports", json={"reports": batch}, headers=org.headers), 413)
    assert report_rows(app) == []
    batch.pop()
    answer = client.post("/api/v1/reports", json={"reports": batch}, headers=org.headers)
    assert answer.status_code == 200 and len(report_rows(app)) == 100


def test_body_over_4_mib_is_413(org: Org, client, app) -> None:
    body = json.dumps({"reports": [dict(org.envelope(), ct=_b64(1_500_000)) for _ in range(3)]})
    assert len(body) > 4 * 1024 * 1024
    answer = client.post("/api/v1/reports", data=body, content_type="application/json", headers=org.headers)
    assert_problem(answer, 413)
    assert report_rows(app) == []


@pytest.mark.parametrize(
    ("data", "content_type", "status"),
    [
        ('{"reports": []}', "text/plain", 415),
        ("{", "application/json", 400),
        ("[]", "application/json", 400),
        ('{"reports": [NaN]}', "application/json", 400),
        (b"\xff\xfe{}", "application/json", 400),
        ("[" * 100_000 + "]" * 100_000, "application/json", 400),
        ('{"reports": {}}', "application/json", 422),
        ('{"reports": [], "more": 1}', "application/json", 422),
        ('{"reports": [' + "9" * 5000 + "]}", "application/json", 400),
    ],
)
def test_malformed_bodies(org: Org, client, app, data, content_type, status) -> None:
    answer = client.post("/api/v1/reports", data=data, content_type=content_type, headers=org.headers)
    assert_problem(answer, status)
    assert report_rows(app) == []


def test_deep_nesting_inside_a_batch_is_a_rejected_envelope(org: Org, client, app) -> None:
    body = '{"reports": [' + "[" * 500 + "]" * 500 + "]}"
    answer = client.post("/api/v1/reports", data=body, content_type="application/json", headers=org.headers)
    assert answer.status_code == 200 and answer.json["results"][0]["status"] == "rejected"
    assert report_rows(app) == []


def test_unknown_route_and_method_are_problems(org: Org, client) -> None:
    assert_problem(client.get("/api/v1/nothing"), 404)
    assert_problem(client.get("/api/v1/reports", headers=org.headers), 405)


def test_racing_requests_store_one(org: Org, app) -> None:
    """Two phones (or two retries) racing with the same rid through a real threaded server store it once."""
    import http.client

    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        envelopes = [org.envelope() for _ in range(20)]
        body = json.dumps({"reports": envelopes})
        statuses: list[list[str]] = []
        barrier = threading.Barrier(6)

        def post() -> None:
            conn = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=60)
            barrier.wait()
            conn.request("POST", "/api/v1/reports", body, {**org.headers, "Content-Type": "application/json"})
            answer = conn.getresponse()
            assert answer.status == 200, answer.read()
            statuses.append([r["status"] for r in json.loads(answer.read())["results"]])

        threads = [threading.Thread(target=post) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        server.shutdown()
    assert len(statuses) == 6
    for i in range(20):
        column = sorted(s[i] for s in statuses)
        assert column == ["duplicate"] * 5 + ["stored"], column
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Report)) == 20
