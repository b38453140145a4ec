"""Relaying (PROTOCOL.md §11): HQ enrols a base with a code of its own kind; the base forwards every report and
chunk it holds, each to its own team, until HQ confirms it, whatever is cut on the way."""

from __future__ import annotations

import json
import random
import re
import uuid
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from fieldapp import crypto
from fieldapp.crypto import signing
from fieldapp.database import writing
from fieldapp.errors import N_, Forbidden, Invalid
from fieldapp.extensions import db
from fieldapp.models import Attachment, AttachmentChunk, AuditEvent, OrgKey, Relay, Report, Role, SignedKeyList
from fieldapp.services import attachments, enrollment, forwarding, keylists, relays, teams, users
from fieldapp.services.forwarding import Answer, Unreachable

from .conftest import (
    FAST_KDF,
    LOGIN_PASSPHRASE,
    Org,
    drop_postgres_database,
    fresh_postgres_database,
    make_config,
    running_app,
    table_counts,
)
from .test_bundles import server_state
from .test_dashboard_access import accounts, csrf, login  # noqa: F401  (fixture and helpers)

TEAM = "Madre de Dios 1"
OCTETS = "application/octet-stream"


class ToHq:
    """HQ's test client as the base's transport, cutting calls as told: "drop" (HQ did the work, the answer is
    lost), "503" (HQ busy, nothing done) or "down" (no connection, nothing done)."""

    def __init__(self, hq_app, plan: list[str | None] | None = None) -> None:  # type: ignore[no-untyped-def]
        self.client = hq_app.test_client()
        self.plan = list(plan or [])
        self.calls: list[tuple[str, str]] = []
        self.token: str | None = None

    def __call__(self, url: str, token: str | None, ca_pem: str | None) -> ToHq:
        self.token = token
        return self

    def call(self, method: str, path: str, body: bytes | None = None, content_type: str = "application/json") -> Answer:
        self.calls.append((method, path))
        fault = self.plan.pop(0) if self.plan else None
        if fault == "503":
            return Answer(503, b'{"detail": "ocupado"}')
        if fault == "down":
            raise Unreachable(N_("No se pudo hablar con la sede: %(reason)s."), reason="refused")
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        answer = self.client.open(path, method=method, data=body, content_type=content_type, headers=headers)
        if fault == "drop":
            raise Unreachable(N_("No se pudo hablar con la sede: %(reason)s."), reason="reset")
        return Answer(answer.status_code, answer.data)


@pytest.fixture
def base(tmp_path: Path, database_url: str):  # type: ignore[no-untyped-def]
    """A base server on a database of its own, with the same team; no key until it joins HQ."""
    folder = tmp_path / "base"
    folder.mkdir()
    url = fresh_postgres_database() if database_url.startswith("postgresql") else None
    try:
        for app in running_app(make_config(folder, url)):
            with app.app_context():
                teams.create_team(db.session, TEAM)
                teams.create_team(db.session, "Puno 2")
                db.session.commit()
            yield app
    finally:
        if url:
            drop_postgres_database(url)


def relay_code(hq_app, name: str = "Base Huepetuhe") -> str:  # type: ignore[no-untyped-def]
    with hq_app.app_context():
        _, code = relays.add_relay(db.session, name)
        db.session.commit()
    return code


def join(base_app, hq_app, transport: ToHq | None = None) -> ToHq:  # type: ignore[no-untyped-def]
    transport = transport or ToHq(hq_app)
    with base_app.app_context():
        forwarding.join(db.session, "https://sede.example.org", relay_code(hq_app), None, transport)
    return transport


def phone_at(base_app, team: str = TEAM) -> tuple[dict[str, str], bytes]:  # type: ignore[no-untyped-def]
    """A phone enrolled at the base: its headers and the key its bootstrap tells it to seal to."""
    client = base_app.test_client()
    with base_app.app_context():
        code = enrollment.issue_code(db.session, teams.find_team(db.session, team))
        db.session.commit()
    token = client.post("/api/v1/enroll", json={"code": code}).json["device_token"]
    headers = {"Authorization": f"Bearer {token}"}
    boot = client.get("/api/v1/bootstrap", headers=headers).json
    [current] = [k for k in boot["keys"] if k["current"]]
    return headers, crypto.b64u_decode(current["pub"])


def send_at_base(base_app, headers, pub: bytes, count: int, size: int = 0) -> list[str]:  # type: ignore[no-untyped-def]
    """`count` reports sent by a phone to the base; with `size`, each has one v2 attachment of that many bytes."""
    client = base_app.test_client()
    rids = []
    for n in range(count):
        att, chunks, aid = [], [], str(uuid.uuid4())
        if size:
            chunks = crypto.seal_chunks(bytes(32), aid, bytes([n % 256]) * size, 2)
            att = [{"aid": aid, "chunks": len(chunks)}]
        doc = {"form": "trafficking-report", "form_version": 1, "answers": {"people_count": n + 1}}
        envelope = crypto.seal_document(doc, pub, att=att or None, v=2)
        answer = client.post("/api/v1/reports", json={"reports": [envelope]}, headers=headers)
        assert answer.json["results"][0]["status"] == "stored"
        for i, chunk in enumerate(chunks):
            put = client.put(
                f"/api/v1/attachments/{aid}/chunks/{i}", data=chunk, headers={**headers, "Content-Type": OCTETS}
            )
            assert put.status_code == 204
        rids.append(envelope["rid"])
    return rids


def forward_until_done(base_app, transport: ToHq, passes: int = 60) -> int:  # type: ignore[no-untyped-def]
    """Passes until one ends without a cut and nothing waits; how many it took."""
    for attempt in range(1, passes + 1):
        with base_app.app_context():
            try:
                forwarding.forward(db.session, transport)
            except Unreachable:
                continue
            finally:
                db.session.remove()
            left = forwarding.waiting(db.session)
            db.session.remove()
        if (left.reports, left.chunks) == (0, 0):
            return attempt
    raise AssertionError("still waiting after every pass")


def test_the_codes_of_a_base_and_a_phone_are_not_mistaken_for_each_other(org: Org, client, app) -> None:
    phone_code = org.issue_code()
    answer = client.post("/api/v1/relay/enroll", json={"code": phone_code})
    assert answer.status_code == 403 and "teléfono" in answer.json["detail"]
    code = relay_code(app)
    assert len(code.replace("-", "")) == relays.RELAY_CODE_LENGTH
    answer = client.post("/api/v1/enroll", json={"code": code})
    assert answer.status_code == 403 and "base" in answer.json["detail"]
    with app.app_context():  # the phone's refusal spent nothing
        assert db.session.scalar(select(Relay.token_hash)) is None


def test_a_base_code_is_spent_once_and_a_lost_answer_is_retried(app, client) -> None:
    code = relay_code(app)
    first = client.post("/api/v1/relay/enroll", json={"code": code, "enrollment_id": "r" * 24})
    assert first.status_code == 201 and first.json["name"] == "Base Huepetuhe"
    again = client.post("/api/v1/relay/enroll", json={"code": code.lower(), "enrollment_id": "r" * 24})
    assert again.status_code == 201 and again.json["relay_token"] != first.json["relay_token"]
    assert client.get("/api/v1/relay/bootstrap", headers=bearer(first.json["relay_token"])).status_code == 401
    other = client.post("/api/v1/relay/enroll", json={"code": code, "enrollment_id": "s" * 24})
    assert other.status_code == 403
    token = again.json["relay_token"]
    assert client.get("/api/v1/relay/bootstrap", headers=bearer(token)).status_code == 200
    # A bootstrap alone leaves the retry open (a join may fail after it); the first delivery ends it for good.
    assert client.post("/api/v1/relay/reports", json={"reports": []}, headers=bearer(token)).status_code == 200
    assert client.post("/api/v1/relay/enroll", json={"code": code, "enrollment_id": "r" * 24}).status_code == 403


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_revoked_base_is_refused_and_a_phone_token_is_not_a_base_token(org: Org, app, client) -> None:
    answer = client.post("/api/v1/relay/enroll", json={"code": relay_code(app)})
    token = answer.json["relay_token"]
    assert client.get("/api/v1/relay/bootstrap", headers=org.headers).status_code == 401
    assert client.get("/api/v1/bootstrap", headers=bearer(token)).status_code == 401
    with app.app_context():
        relays.revoke(db.session, db.session.scalar(select(Relay.id)))
        db.session.commit()
    refused = client.post("/api/v1/relay/reports", json={"reports": []}, headers=bearer(token))
    assert refused.status_code == 401 and refused.content_type == "application/problem+json"


def test_joining_makes_hq_s_key_the_one_phones_at_the_base_seal_to(org: Org, app, base) -> None:
    join(base, app)
    _, pub = phone_at(base)
    assert pub == org.pub
    with base.app_context():
        [(kid, current)] = db.session.execute(select(OrgKey.kid, OrgKey.current)).all()
        assert (kid, current) == (org.kid, True)
        with pytest.raises(Exception, match="ya reenvía"):
            forwarding.join(db.session, "https://otra.example.org", "X" * 16, None, ToHq(app))


def test_a_base_forwards_every_report_and_chunk_once_each_to_its_own_team(org: Org, app, base) -> None:
    with app.app_context():
        teams.create_team(db.session, "Puno 2")
        db.session.commit()
    transport = join(base, app)
    headers, pub = phone_at(base)
    puno, _ = phone_at(base, "Puno 2")
    plain = send_at_base(base, headers, pub, 3)
    with_audio = send_at_base(base, headers, pub, 2, size=150_000)
    from_puno = send_at_base(base, puno, pub, 2)
    with base.app_context():
        assert forwarding.waiting(db.session) == forwarding.Waiting(reports=7, chunks=6, refused=0)
    before = len(table_counts(app))
    assert forward_until_done(base, transport) == 1
    at_base, at_hq = server_state(base), server_state(app)
    for rid in plain + with_audio + from_puno:
        assert at_hq["reports"][rid] == at_base["reports"][rid]  # the same bytes, the same team's name
    assert {at_hq["reports"][rid][0] for rid in from_puno} == {"Puno 2"}
    assert at_hq["chunks"] == at_base["chunks"] and len(at_hq["chunks"]) == 6
    # The base keeps its copy, marked confirmed; a second pass sends nothing but its bootstrap.
    with base.app_context():
        assert db.session.scalar(select(Report.forwarded_on).where(Report.forwarded_on.is_(None))) is None
        assert all(db.session.scalars(select(AttachmentChunk.forwarded)))
    transport.calls.clear()
    forward_until_done(base, transport)
    assert transport.calls == [("GET", "/api/v1/relay/bootstrap")]
    assert len(table_counts(app)) == before


@pytest.mark.parametrize("seed", range(6))
def test_every_cut_on_the_way_ends_with_each_report_at_hq_exactly_once(org: Org, app, base, seed: int) -> None:
    transport = join(base, app)
    headers, pub = phone_at(base)
    rids = send_at_base(base, headers, pub, 150) + send_at_base(base, headers, pub, 3, size=140_000)
    chooser = random.Random(seed)
    transport.plan = [chooser.choice([None, None, "drop", "503", "down"]) for _ in range(40)]
    forward_until_done(base, transport)
    at_hq = server_state(app)
    assert sorted(at_hq["reports"]) == sorted(rids)
    assert at_hq["chunks"] == server_state(base)["chunks"]
    with app.app_context():
        assert db.session.scalar(select(db.func.count()).select_from(Report)) == len(rids)


def test_a_report_hq_refuses_waits_with_its_reason_and_goes_when_retried(org: Org, app, base) -> None:
    transport = join(base, app)
    headers, pub = phone_at(base, "Puno 2")  # a team HQ does not have yet
    [rid] = send_at_base(base, headers, pub, 1)
    forward_until_done(base, transport)
    with base.app_context():
        assert forwarding.waiting(db.session).refused == 1
        [(refused_rid, team, reason)] = forwarding.refusals(db.session)
        assert (refused_rid, team) == (rid, "Puno 2") and "Puno 2" in reason
    with app.app_context():
        teams.create_team(db.session, "Puno 2")
        db.session.commit()
    with base.app_context():
        with writing(db.session):
            assert forwarding.retry_refused(db.session) == 1
    forward_until_done(base, transport)
    assert server_state(app)["reports"][rid][0] == "Puno 2"


def test_hq_checks_what_a_base_forwards_as_it_checks_a_phone_s(org: Org, app, client) -> None:
    token = client.post("/api/v1/relay/enroll", json={"code": relay_code(app)}).json["relay_token"]
    good = org.envelope()
    items = [
        {"team": TEAM, "envelope": good},
        {"team": TEAM, "envelope": {**org.envelope(), "kid": "0" * 16}},
        {"team": TEAM},
        {"team": ["x"], "envelope": org.envelope()},
        {"team": TEAM, "envelope": org.envelope(), "device": 3},
        "nada",
        {"team": "Nadie", "envelope": org.envelope()},
    ]
    before = table_counts(app)
    answer = client.post("/api/v1/relay/reports", json={"reports": items}, headers=bearer(token))
    assert answer.status_code == 200
    statuses = [r["status"] for r in answer.json["results"]]
    assert statuses == ["stored"] + ["rejected"] * 6
    assert table_counts(app)["reports"] == before["reports"] + 1
    for body in ({"reports": "x"}, {"reports": [], "more": 1}, []):
        refused = client.post("/api/v1/relay/reports", json=body, headers=bearer(token))
        assert refused.status_code in (400, 422) and refused.content_type == "application/problem+json"
    too_many = client.post("/api/v1/relay/reports", json={"reports": [items[0]] * 101}, headers=bearer(token))
    assert too_many.status_code == 413
    missing = client.put(
        f"/api/v1/relay/attachments/{uuid.uuid4()}/chunks/0",
        data=b"x" * 20,
        headers={**bearer(token), "Content-Type": OCTETS},
    )
    assert missing.status_code == 404


def test_a_chunk_hq_holds_other_bytes_for_is_kept_there_and_not_sent_forever(org: Org, app, base) -> None:
    class Forgetful(ToHq):
        """HQ's status lists nothing received, so the base sends a chunk HQ holds other bytes for."""

        def call(self, method, path, body=None, content_type="application/json"):  # type: ignore[no-untyped-def]
            answer = super().call(method, path, body, content_type)
            if method == "GET" and path.startswith("/api/v1/relay/attachments/"):
                return Answer(200, json.dumps({**json.loads(answer.body), "received": []}).encode())
            return answer

    transport = join(base, app, Forgetful(app))
    headers, pub = phone_at(base)
    [rid] = send_at_base(base, headers, pub, 1, size=70_000)
    transport.plan = [None, None, "down"]  # HQ takes the report, then the link drops
    with base.app_context(), pytest.raises(Unreachable):
        forwarding.forward(db.session, transport)
    with app.app_context(), writing(db.session):  # meanwhile other bytes for chunk 0 reach HQ
        found = db.session.scalar(select(Attachment).join(Report).where(Report.rid == rid))
        attachments.keep_chunk(db.session, attachments.DatabaseChunkStore(db.session), found, 0, b"\1" * 65_552)
    with base.app_context():
        done = forwarding.forward(db.session, transport)
    assert (done.conflicts, done.chunks) == (1, 2)
    with app.app_context():  # HQ keeps the first bytes it got, as it does for phones
        kept = db.session.scalar(select(AttachmentChunk.data).where(AttachmentChunk.index == 0))
        assert bytes(kept) == b"\1" * 65_552
    transport.calls.clear()
    forward_until_done(base, transport)
    assert transport.calls == [("GET", "/api/v1/relay/bootstrap")]


def test_the_link_keeps_its_last_contact_and_its_last_problem(org: Org, app, base) -> None:
    transport = join(base, app)
    transport.plan = ["503"]
    with base.app_context():
        with pytest.raises(Unreachable):
            forwarding.forward(db.session, transport)
        db.session.remove()
        link = forwarding.link(db.session)
        assert link.last_error and "503" in forwarding.render_error(link.last_error, lambda s: s)
        contact = link.last_contact_at
        db.session.remove()
        forwarding.forward(db.session, transport)
        db.session.remove()
        link = forwarding.link(db.session)
        assert link.last_error is None and link.last_contact_at >= contact


@pytest.mark.parametrize(
    "url",
    [
        "ftp://sede.org",
        "http://sede.example.org",
        "https://",
        "https://sede.org/?a=1",
        "http://8.8.8.8:5000",
        "sede.org",
    ],
)
def test_hq_s_address_is_https_or_a_private_network_s(url: str) -> None:
    with pytest.raises(Invalid):
        forwarding.check_hq_url(url)


@pytest.mark.parametrize(
    "url", ["https://sede.example.org", "http://127.0.0.1:5000", "http://192.168.1.20/", "http://localhost:8000"]
)
def test_hq_s_address_accepted(url: str) -> None:
    assert forwarding.check_hq_url(url) == url.rstrip("/")


def test_an_answer_that_is_not_hq_s_confirms_nothing(org: Org, app, base) -> None:
    class Liar(ToHq):
        def call(self, method, path, body=None, content_type="application/json"):  # type: ignore[no-untyped-def]
            answer = super().call(method, path, body, content_type)
            if path == "/api/v1/relay/reports":
                results = json.loads(answer.body)["results"]
                for result in results:
                    result["rid"] = str(uuid.uuid4())
                return Answer(200, json.dumps({"results": results}).encode())
            return answer

    transport = join(base, app, Liar(app))
    headers, pub = phone_at(base)
    send_at_base(base, headers, pub, 2)
    with base.app_context():
        forwarding.forward(db.session, transport)
        db.session.remove()
        assert forwarding.waiting(db.session).reports == 2  # the answers named other reports: both go again


def test_a_phone_enrolment_with_no_such_code_spends_nothing(app, client) -> None:
    with app.app_context(), pytest.raises(Forbidden):
        relays.enroll_relay(db.session, "Z" * 16, None)


def test_hq_s_admin_gives_a_base_code_sees_the_base_enrol_and_revokes_it(app, client, accounts) -> None:  # noqa: F811
    login(client, "admin")
    token = csrf(client, "/dashboard/relay")
    shown = client.post("/dashboard/relays", data={"name": "Base Mazuko", "hours": "5", "csrf_token": token})
    assert shown.status_code == 200
    code = re.search(r'data-testid="relay-code">([0-9A-Z-]+)<', shown.get_data(as_text=True)).group(1)
    assert "Código sin usar" in shown.get_data(as_text=True)
    answer = client.post("/api/v1/relay/enroll", json={"code": code})
    assert answer.status_code == 201
    assert client.get("/api/v1/relay/bootstrap", headers=bearer(answer.json["relay_token"])).status_code == 200
    page = client.get("/dashboard/relay").get_data(as_text=True)
    assert "Inscrita" in page and "Base Mazuko" in page
    with app.app_context():
        relay_id = db.session.scalar(select(Relay.id))
    assert client.post(f"/dashboard/relays/{relay_id}/revoke", data={"csrf_token": token}).status_code == 302
    assert client.get("/api/v1/relay/bootstrap", headers=bearer(answer.json["relay_token"])).status_code == 401
    again = client.post("/dashboard/relays", data={"name": "Base Mazuko", "csrf_token": token})
    assert again.status_code == 422 and "Ya hay una base" in again.get_data(as_text=True)
    assert client.post("/dashboard/relays", data={"name": "", "csrf_token": token}).status_code == 422
    assert client.post("/dashboard/relays/999/revoke", data={"csrf_token": token}).status_code == 404
    with app.app_context():
        actions = {e.action for e in db.session.scalars(select(AuditEvent))}
    assert {"relay_added", "relay_enrolled", "relay_revoked"} <= actions


def test_a_base_s_admin_joins_hq_and_sees_what_waits_and_why_hq_refused_it(org: Org, app, base, monkeypatch) -> None:
    with base.app_context():
        users.create_user(db.session, "admin", Role.ADMIN.value, LOGIN_PASSPHRASE, FAST_KDF)
        teams.create_team(db.session, "<b>Tambopata</b>")
        db.session.commit()
    transport = ToHq(app)
    monkeypatch.setattr(forwarding, "http_transport_waiting", lambda seconds: transport)
    client = base.test_client()
    login(client, "admin")
    token = csrf(client, "/dashboard/relay")
    bad = client.post("/dashboard/relay/join", data={"url": "https://sede.org", "code": "X" * 16, "csrf_token": token})
    assert bad.status_code == 422 and "no es válido" in bad.get_data(as_text=True)
    form = {"url": "https://sede.example.org", "code": relay_code(app), "csrf_token": token}
    assert client.post("/dashboard/relay/join", data=form).status_code == 302
    headers, pub = phone_at(base, "<b>Tambopata</b>")
    send_at_base(base, headers, pub, 2)
    page = client.get("/dashboard/relay").get_data(as_text=True)
    assert "2 informes y 0 partes" in page and "https://sede.example.org" in page
    forward_until_done(base, transport)
    page = client.get("/dashboard/relay").get_data(as_text=True)
    assert "0 informes y 0 partes" in page
    assert "&lt;b&gt;Tambopata&lt;/b&gt;" in page and "<b>Tambopata</b>" not in page  # HQ's reason, escaped
    assert client.post("/dashboard/relay/retry", data={"csrf_token": token}).status_code == 302
    assert "2 informes" in client.get("/dashboard/relay").get_data(as_text=True)
    assert client.post("/dashboard/relay/leave", data={"csrf_token": token}).status_code == 302
    assert "Inscribir esta base" in client.get("/dashboard/relay").get_data(as_text=True)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(["team", "envelope", "rid", "x"]), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(items=st.lists(JSON, max_size=6), whole=st.booleans())
def test_whatever_a_base_forwards_gets_a_clear_answer_and_stores_nothing_half(
    org: Org, app, client, items, whole
) -> None:
    with app.app_context():
        relay = db.session.scalar(select(Relay).where(Relay.name == "hostil"))
        if relay is None:
            relays.add_relay(db.session, "hostil")
        db.session.commit()
        from fieldapp.crypto import token_digest

        db.session.execute(
            Relay.__table__.update().where(Relay.name == "hostil").values(token_hash=token_digest("t" * 43))
        )
        db.session.commit()
    before = table_counts(app)
    body = {"reports": items} if whole else items
    answer = client.post("/api/v1/relay/reports", json=body, headers=bearer("t" * 43))
    assert answer.status_code in (200, 400, 413, 422), answer.data[:300]
    if answer.status_code == 200:
        assert [r["status"] for r in answer.json["results"]] == ["rejected"] * len(items)
    else:
        assert answer.content_type == "application/problem+json"
    after = table_counts(app)
    assert {k: v for k, v in after.items() if k != "relays"} == {k: v for k, v in before.items() if k != "relays"}


def test_a_base_gives_its_phones_hq_s_signed_list_and_refuses_one_signed_by_another_key(org: Org, app, base) -> None:
    transport = join(base, app)
    hq_boot = app.test_client().get("/api/v1/bootstrap", headers=org.headers).json
    headers, pub = phone_at(base)
    base_boot = base.test_client().get("/api/v1/bootstrap", headers=headers).json
    assert base_boot["signed_keys"] == hq_boot["signed_keys"]  # byte for byte: the base cannot change it
    # HQ's list replaced by one another key signed (a breached HQ, or an impostor): the base keeps the one it had.
    with app.app_context():
        newest = keylists.latest(db.session)
        stranger = signing.derive_signing_key(ec.generate_private_key(ec.SECP256R1()))
        forged = signing.signed_list(stranger, newest.seq + 1, newest.keys)
        with writing(db.session):
            db.session.add(
                SignedKeyList(
                    seq=forged.seq, document=forged.document.decode(), signature=forged.signature, signer=forged.signer
                )
            )
    send_at_base(base, headers, pub, 2)
    with base.app_context():
        done = forwarding.forward(db.session, transport)
        db.session.remove()
        assert done.confirmed == 2  # ciphertext still goes
        link = forwarding.link(db.session)
        assert "otra clave" in forwarding.render_error(link.last_error, lambda s: s)
    assert base.test_client().get("/api/v1/bootstrap", headers=headers).json["signed_keys"] == hq_boot["signed_keys"]


def test_a_base_set_up_with_its_own_key_joins_and_takes_hq_s_signed_list(org: Org, app, base) -> None:
    with base.app_context():  # first run at the base: an admin and a key of its own, with its own signed list
        own_admin = users.create_user(db.session, "admin", Role.ADMIN.value, LOGIN_PASSPHRASE, FAST_KDF)
        from fieldapp.services import keys

        keys.create_managed_key(db.session, own_admin, "frase de la base 2026", FAST_KDF)
        db.session.commit()
        assert keylists.latest(db.session) is not None
    join(base, app)
    headers, pub = phone_at(base)
    hq_list = app.test_client().get("/api/v1/bootstrap", headers=org.headers).json["signed_keys"]
    assert base.test_client().get("/api/v1/bootstrap", headers=headers).json["signed_keys"] == hq_list
    assert pub == org.pub


def test_a_join_that_fails_after_hq_answered_can_be_tried_again_with_the_same_code(org: Org, app, base) -> None:
    code = relay_code(app)
    failing = ToHq(app, [None, "down"])  # enrolled, then the bootstrap's answer is lost
    with base.app_context():
        with pytest.raises(Unreachable):
            forwarding.join(db.session, "https://sede.example.org", code, None, failing, "secreto de la base")
        db.session.remove()
        joined = forwarding.join(db.session, "https://sede.example.org", code, None, ToHq(app), "secreto de la base")
        assert joined.name == "Base Huepetuhe"


@pytest.mark.parametrize("url", ["https://sede.org:99999", "https://sede.org:abc", "https://sede.org:0"])
def test_a_port_that_is_not_one_is_refused(url: str) -> None:
    with pytest.raises(Invalid):
        forwarding.check_hq_url(url)


def test_an_authority_file_that_is_not_a_certificate_is_a_clear_refusal() -> None:
    with pytest.raises(Invalid, match="autoridad"):
        forwarding.HttpTransport(
            "https://sede.example.org", None, "-----BEGIN CERTIFICATE-----\nbasura\n-----END CERTIFICATE-----\n"
        )


def test_an_answer_that_is_json_but_not_an_object_is_hq_unreachable_not_a_crash(org: Org, app, base) -> None:
    class Odd(ToHq):
        def call(self, method, path, body=None, content_type="application/json"):  # type: ignore[no-untyped-def]
            answer = super().call(method, path, body, content_type)
            return Answer(200, b"[1, 2]") if path == "/api/v1/relay/reports" else answer

    transport = join(base, app, Odd(app))
    headers, pub = phone_at(base)
    send_at_base(base, headers, pub, 1)
    with base.app_context():
        with pytest.raises(Unreachable):
            forwarding.forward(db.session, transport)
        db.session.remove()
        assert forwarding.link(db.session).last_error is not None
