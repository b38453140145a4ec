"""Exports: CSV (BOM, codes and Spanish labels), JSON Lines and HTCDS CSV, from the CLI and the dashboard."""

from __future__ import annotations

import base64
import csv
import gzip
import hashlib
import io
import json
import os
import uuid

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select

from fieldapp.extensions import db
from fieldapp.models import AuditEvent
from fieldapp.services import exports, forms

from .conftest import KEY_PASSPHRASE, VECTORS, Org
from .test_dashboard_reports import inbox_org, login, unlock  # noqa: F401  (fixture and helpers)


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def seal_bytes(
    document: bytes, pub: bytes, rid: str, ephemeral: ec.EllipticCurvePrivateKey | None = None, iv: bytes | None = None
) -> dict:
    """An envelope made from PROTOCOL.md §2 alone, not with fieldapp's sealer: any document bytes, hostile too."""
    ephemeral = ephemeral or ec.generate_private_key(ec.SECP256R1())
    recipient = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), pub)
    epk = ephemeral.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    z = ephemeral.exchange(ec.ECDH(), recipient)
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=epk + pub, info=b"fieldapp/1 report").derive(z)
    kid = hashlib.sha256(pub).digest()[:8].hex()
    iv = iv or os.urandom(12)
    ct = AESGCM(key).encrypt(iv, document, f"fieldapp/1|{rid}|{kid}".encode())
    return {"v": 1, "rid": rid, "kid": kid, "epk": b64u(epk), "iv": b64u(iv), "ct": b64u(ct)}


@pytest.mark.parametrize("vector", VECTORS["envelopes"], ids=lambda v: v["envelope"]["rid"][:8])
def test_the_tests_sealer_writes_the_vectors_format(vector: dict) -> None:
    expected = vector["envelope"]
    sealed = seal_bytes(
        base64.urlsafe_b64decode(vector["doc_gz"] + "=" * (-len(vector["doc_gz"]) % 4)),
        base64.urlsafe_b64decode(VECTORS["recipient"]["pub"] + "=="),
        expected["rid"],
        ephemeral=ec.derive_private_key(int(vector["eph_d"], 16), ec.SECP256R1()),
        iv=base64.urlsafe_b64decode(expected["iv"]),
    )
    assert sealed == {k: v for k, v in expected.items() if k != "att"}


def upload_bytes(org: Org, client, document: bytes) -> str:  # type: ignore[no-untyped-def]
    """Seals document JSON text as a phone would (gzip, then the envelope) and uploads it; its rid."""
    envelope = seal_bytes(gzip.compress(document), org.pub, str(uuid.uuid4()))
    answer = client.post("/api/v1/reports", json={"reports": [envelope]}, headers=org.headers)
    assert answer.status_code == 200, answer.json
    return envelope["rid"]


def upload(org: Org, client, document: object) -> str:  # type: ignore[no-untyped-def]
    return upload_bytes(org, client, json.dumps(document).encode())


def sample(org: Org, client) -> list[str]:  # type: ignore[no-untyped-def]
    docs = [
        {
            "form": "trafficking-report",
            "form_version": 1,
            "locale": "es",
            "answers": {
                "department": "17",
                "province": "1701",
                "sector": "A_Logging",
                "exploitation_type": ["ForcedLabour"],
                "recruitment_method": ["FalseJobOffer", "ThroughOnlineSocialNetworks"],
                "recruitment_apps": ["WhatsApp"],
                "sex": ["Feminine"],
                "nationality": ["VE", "unknown"],
                "age_band": ["14_17"],
                "minors": True,
                "urgent": True,
                "notes": 'comillas " y, coma',
            },
        },
        {
            "form": "trafficking-report",
            "form_version": 1,
            "locale": "qu",
            "answers": {"department": "21", "exploitation_type": ["SexualExploitation"]},
        },
    ]
    envelopes = [org.envelope(d) for d in docs]
    client.post("/api/v1/reports", json={"reports": envelopes}, headers=org.headers)
    return [e["rid"] for e in envelopes]


def cli_export(runner, tmp_path, fmt: str) -> str:  # type: ignore[no-untyped-def]
    out = tmp_path / f"out.{fmt}"
    result = runner.invoke(
        args=["export", "--as", "ana", "--format", fmt, "--out", str(out)], env={"FIELDAPP_PASSPHRASE": KEY_PASSPHRASE}
    )
    assert result.exit_code == 0, result.output
    return out.read_bytes().decode("utf-8")


def test_csv_has_bom_codes_and_spanish_labels(org, client, runner, tmp_path) -> None:
    rids = sample(org, client)
    text = cli_export(runner, tmp_path, "csv")
    assert text.startswith("\ufeff")
    rows = {r["rid"]: r for r in csv.DictReader(io.StringIO(text.lstrip("\ufeff")))}
    assert set(rows) == set(rids)
    first = rows[rids[0]]
    assert first["department"] == "17" and first["department_label"] == "Madre de Dios"
    assert first["province_label"] == "Tambopata"
    assert first["recruitment_method"] == "FalseJobOffer;ThroughOnlineSocialNetworks"
    assert first["recruitment_method_label"] == "Oferta de trabajo falsa;Redes sociales"
    assert first["sector_label"] == "Tala (extracción de madera)"
    assert first["minors"] == "yes" and first["urgent"] == "yes"
    assert first["notes"] == 'comillas " y, coma' and first["team"] == org.team and first["status"] == "new"


def test_htcds_columns_and_value_sets(org, client, runner, tmp_path) -> None:
    rids = sample(org, client)
    text = cli_export(runner, tmp_path, "htcds").lstrip("\ufeff")
    rows = {r["cas_Identifier"]: r for r in csv.DictReader(io.StringIO(text))}
    first = rows[rids[0]]
    assert first["vic_ForcedLabourIndustry"] == "A_AgricultureForestryAndFishing"  # logging refines section A
    assert first["vic_MethodOfRecruitment"] == "Other;ThroughOnlineSocialNetworks"
    assert first["vic_MethodsOfControl"] == "FalsePromises"
    assert first["prs_Citizenship"] == "VE" and first["prs_Gender"] == "Feminine"
    assert first["vic_RecruitmentWebsitesAndApps"] == "WhatsApp"
    assert rows[rids[1]]["vic_TypeOfExploitation"] == "SexualExploitation"


def test_jsonl_and_every_export_audited(app, org, client, runner, tmp_path) -> None:
    sample(org, client)
    lines = [json.loads(line) for line in cli_export(runner, tmp_path, "jsonl").splitlines()]
    assert len(lines) == 2 and all("document" in line for line in lines)
    with app.app_context():
        events = [(e.actor, e.action, json.loads(e.detail)) for e in db.session.scalars(select(AuditEvent))]
    assert ("ana", "export", {"count": 2, "format": "jsonl"}) in events


@pytest.mark.parametrize("fmt", ["csv", "htcds", "jsonl"])
def test_dashboard_download_needs_unlock_and_is_audited(app, client, inbox_org, fmt) -> None:  # noqa: F811
    login(client, "sara")
    assert client.get(f"/dashboard/export?format={fmt}").status_code == 302  # locked
    unlock(client)
    answer = client.get(f"/dashboard/export?format={fmt}")
    assert answer.status_code == 200 and "attachment" in answer.headers["Content-Disposition"]
    body = answer.get_data(as_text=True)
    assert body.count("\n") == 4 if fmt != "jsonl" else body.count("\n") == 3
    assert client.get("/dashboard/export?format=xls").status_code == 422
    with app.app_context():
        actions = [e.action for e in db.session.scalars(select(AuditEvent).where(AuditEvent.actor == "sara"))]
    assert "export" in actions


def export_rows(runner, tmp_path, fmt: str) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    text = cli_export(runner, tmp_path, fmt)
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text[1:], newline="")))


def document(**answers: object) -> dict:
    return {"form": "trafficking-report", "form_version": 1, "locale": "es", "answers": answers}


FORMULAS = ["=1+1", "+1701", "-2+3", "@SUM(A1)", "\t=1+1", "\r=1+1", '=HYPERLINK("http://x","clic")']


def test_csv_labels_are_spanish_each_question_once_with_its_language(org, client, runner, tmp_path) -> None:
    rids = sample(org, client)
    rows = {r["rid"]: r for r in export_rows(runner, tmp_path, "csv")}
    first, second = rows[rids[0]], rows[rids[1]]
    header = list(first)
    assert header.count("notes") == 1 and "notes_label" not in header  # a text is its own label
    assert "people_count_label" not in header and "encounter_date_label" not in header
    assert first["urgent"] == "yes" and first["urgent_label"] == "Sí"
    assert first["status_label"] == "Nuevo" and first["error"] == ""
    assert first["language"] == "es" and second["language"] == "qu"
    assert second["department_label"] == "Puno" and second["province_label"] == ""


def test_csv_numbers_are_not_places(org, client, runner, tmp_path) -> None:
    rid = upload(org, client, document(people_count=12, department="17", province="1701", district="170101"))
    row = next(r for r in export_rows(runner, tmp_path, "csv") if r["rid"] == rid)
    assert row["people_count"] == "12" and "people_count_label" not in row  # was labelled "Junín"
    assert row["department_label"] == "Madre de Dios" and row["province_label"] == "Tambopata"
    assert row["district_label"] == "Tambopata"


def test_csv_place_codes_of_the_wrong_kind_make_a_malformed_row(org, client, runner, tmp_path) -> None:
    rid = upload(org, client, document(department="1701", province="17", district="21"))
    row = next(r for r in export_rows(runner, tmp_path, "csv") if r["rid"] == rid)
    assert row["error"] == "informe mal formado"
    assert row["department"] == row["province"] == row["district"] == ""  # nothing of it is read as a report


def test_csv_and_htcds_cells_never_start_a_formula(org, client, runner, tmp_path) -> None:
    # Free text reaches cells as it came; codes that are not the form's make a malformed row, with no cell of theirs.
    rids = [upload(org, client, document(notes=formula) | {"locale": formula}) for formula in FORMULAS]
    malformed = [
        upload(org, client, document(place_kind=formula, sex=[formula], department=formula, recruitment_apps=[formula]))
        for formula in FORMULAS
    ]
    rows = {r["rid"]: r for r in export_rows(runner, tmp_path, "csv")}
    htcds = {r["cas_Identifier"]: r for r in export_rows(runner, tmp_path, "htcds")}
    for rid, formula in zip(rids, FORMULAS, strict=True):
        assert rows[rid]["notes"] == rows[rid]["language"] == "'" + formula, formula
    for rid in malformed:
        assert rows[rid]["error"] == htcds[rid]["error"] == "informe mal formado"
        assert rows[rid]["sex"] == rows[rid]["department"] == htcds[rid]["prs_Gender"] == ""
    for cell in [c for r in [*rows.values(), *htcds.values()] for c in r.values()]:
        assert not cell or cell[0] not in "=+-@\t\r", cell


HOSTILE_DOCUMENTS = {
    "answers a list": json.dumps({"form": "trafficking-report", "form_version": 1, "answers": ["=1+1"]}),
    "answers missing": json.dumps({"form": "trafficking-report", "form_version": 1}),
    "number as object": json.dumps(document(people_count={"=1": 2})),
    "boolean number": json.dumps(document(people_count=True)),
    "choices not a list": json.dumps(document(sex="Feminine")),
    "choice of null": json.dumps(document(sex=[None, 1])),
    "code a number": json.dumps(document(department=17)),
    "boolean as text": json.dumps(document(urgent="yes")),
    "minors as text": json.dumps(document(minors="yes")),
    "date not a date": json.dumps(document(encounter_date="=NOW()")),
    "locale a list": json.dumps(document() | {"locale": ["es"]}),
    "lone surrogate in notes": '{"form":"trafficking-report","form_version":1,"answers":{"notes":"a\\ud800b"}}',
    "lone surrogate in a key": '{"form":"trafficking-report","form_version":1,"answers":{"\\udfff":1}}',
    "lone surrogate in locale": '{"form":"trafficking-report","form_version":1,"locale":"\\ud83d","answers":{}}',
    "unknown form": json.dumps(document() | {"form": "otro"}),
    "form of no kind": json.dumps(document() | {"form": ["trafficking-report"]}),
    "unknown version": json.dumps(document() | {"form_version": 99}),
    "version as text": json.dumps(document() | {"form_version": "1"}),
    "version zero": json.dumps(document() | {"form_version": 0}),
}
UNKNOWN_FORM = {"unknown form", "form of no kind", "unknown version", "version as text", "version zero"}


def upload_hostile(org: Org, client) -> tuple[dict[str, str], str]:  # type: ignore[no-untyped-def]
    rids = {name: upload_bytes(org, client, text.encode()) for name, text in HOSTILE_DOCUMENTS.items()}
    return rids, upload(org, client, document(department="17", notes="bien"))


def expected_error(name: str) -> str:
    return "formulario o versión de formulario desconocidos" if name in UNKNOWN_FORM else "informe mal formado"


def test_csv_says_which_reports_are_malformed_and_keeps_going(org, client, runner, tmp_path) -> None:
    rids, good = upload_hostile(org, client)
    rows = {r["rid"]: r for r in export_rows(runner, tmp_path, "csv")}
    assert set(rows) == {*rids.values(), good}
    for name, rid in rids.items():
        row = rows[rid]
        assert row["error"] == expected_error(name), name
        assert row["team"] == org.team and row["status"] == "new"
        fixed = ("rid", "received_on", "team", "status", "status_label", "error")
        answers = {k: v for k, v in row.items() if k not in fixed}
        assert set(answers.values()) == {""}, (name, answers)  # nothing of a malformed document is shown
    assert rows[good]["error"] == "" and rows[good]["department_label"] == "Madre de Dios"
    assert rows[good]["notes"] == "bien"


def test_htcds_says_which_reports_are_malformed_and_keeps_going(org, client, runner, tmp_path) -> None:
    rids, good = upload_hostile(org, client)
    rows = {r["cas_Identifier"]: r for r in export_rows(runner, tmp_path, "htcds")}
    assert set(rows) == {*rids.values(), good}
    for name, rid in rids.items():
        row = rows[rid]
        assert row["error"] == expected_error(name), name
        assert {v for k, v in row.items() if k not in ("cas_Identifier", "cas_DateOfEntry", "error")} == {""}, name
    assert rows[good]["error"] == ""


def test_jsonl_says_which_reports_are_malformed_and_keeps_going(org, client, runner, tmp_path) -> None:
    rids, good = upload_hostile(org, client)
    lines = [json.loads(line) for line in cli_export(runner, tmp_path, "jsonl").splitlines()]  # strict UTF-8
    by_rid = {line["rid"]: line for line in lines}
    assert set(by_rid) == {*rids.values(), good}
    for name, rid in rids.items():
        assert by_rid[rid]["error"] == expected_error(name), name
        assert by_rid[rid]["document"] == json.loads(HOSTILE_DOCUMENTS[name]), name  # kept, as opened
    assert "error" not in by_rid[good] and by_rid[good]["document"]["answers"]["notes"] == "bien"


@pytest.mark.parametrize("fmt", ["csv", "htcds", "jsonl"])
def test_dashboard_download_survives_hostile_documents(client, org, inbox_org, fmt) -> None:  # noqa: F811
    rids, good = upload_hostile(org, client)
    login(client, "sara")
    unlock(client)
    answer = client.get(f"/dashboard/export?format={fmt}")
    assert answer.status_code == 200
    text = answer.get_data().decode("utf-8", errors="strict")
    assert all(rid in text for rid in [*rids.values(), good])


def test_a_document_too_deep_to_write_back_is_a_row_that_says_so() -> None:
    deep: list = []
    for _ in range(100_000):
        deep = [deep]
    document = {"form": "trafficking-report", "form_version": 1, "answers": {"notes": deep}}
    assert forms.document_problem(document) == "informe mal formado"
    row = {"rid": "r", "received_on": "2026-11-29", "team": "t", "status": "new", "referred_to": None}
    [line] = exports.jsonl_rows([row | {"document": document, "error": "informe mal formado"}])
    assert json.loads(line) == row | {"error": "informe mal formado"}


def test_csv_names_status_and_referral_in_spanish() -> None:
    row = {"rid": "r", "received_on": "2026-11-29", "team": "t", "status": "referred", "referred_to": "prosecutor"}
    document = {"form": "trafficking-report", "form_version": 2, "locale": "ay", "answers": {"district": "170204"}}
    [header, line] = list(csv.reader(io.StringIO("".join(exports.csv_rows([row | {"document": document}]))[1:])))
    cells = dict(zip(header, line, strict=True))
    assert cells["status_label"] == "Derivado" and cells["referred_to_label"] == "Fiscalía"
    assert cells["language"] == "ay" and cells["district_label"] == "Huepetuhe"
