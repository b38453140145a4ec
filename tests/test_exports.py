"""Exports: CSV (BOM, codes and Spanish labels), JSON Lines and HTCDS CSV, from the CLI and the dashboard."""

from __future__ import annotations

import csv
import io
import json

import pytest
from sqlalchemy import select

from fieldapp.extensions import db
from fieldapp.models import AuditEvent

from .conftest import KEY_PASSPHRASE, Org
from .test_dashboard_reports import inbox_org, login, unlock  # noqa: F401  (fixture and helpers)


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
