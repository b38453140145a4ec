"""Decrypted exports. Plaintext leaves only through the stream the caller writes; nothing is kept.

Formats: JSON Lines (everything, as opened), CSV (one row per report: codes and Spanish labels; UTF-8 with
a BOM so that spreadsheet programs read the accents) and an HTCDS-compatible CSV (docs/EXPORTS.md).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from .. import crypto
from ..models import Report
from . import forms

FORMATS = ("csv", "jsonl", "htcds")
MEDIA_TYPES = {"csv": "text/csv", "jsonl": "application/x-ndjson", "htcds": "text/csv"}
BOM = "\ufeff"


def count_reports(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Report)) or 0


def iter_opened_reports(
    session: Session, private_keys: dict[str, ec.EllipticCurvePrivateKey]
) -> Iterator[dict[str, Any]]:
    """Each report with its document, or with the reason it cannot be opened; oldest first."""
    query = select(Report).options(joinedload(Report.team)).order_by(Report.received_on, Report.id)
    for report in session.scalars(query).yield_per(200):
        row: dict[str, Any] = {
            "rid": report.rid,
            "received_on": report.received_on.isoformat(),
            "team": report.team.name,
            "status": report.status,
            "referred_to": report.referred_to,
        }
        try:
            row["document"] = crypto.open_envelope(json.loads(report.envelope), private_keys)
        except crypto.EnvelopeError as exc:
            row["error"] = exc.reason
        yield row


def _form_fields() -> list[dict[str, Any]]:
    definition = next(f for f in forms.list_forms() if f["id"] == "trafficking-report")
    return [question for section in definition["sections"] for question in section["fields"]]


def _cells(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v) for v in value]
    if value is True:
        return ["yes"]
    return [str(value)]


def csv_rows(rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    """CSV text, line by line: fixed columns, then for each question its codes and its Spanish labels."""
    questions = _form_fields()
    labels = forms.answer_labels()
    header = ["rid", "received_on", "team", "status", "referred_to", "error", "minors"]
    for question in questions:
        header += [question["id"], f"{question['id']}_label"]
    yield BOM + _line(header)
    for row in rows:
        answers = (row.get("document") or {}).get("answers") or {}
        cells = [
            row["rid"],
            row["received_on"],
            row["team"],
            row["status"],
            row.get("referred_to") or "",
            row.get("error") or "",
            "yes" if answers.get("minors") is True else "",
        ]
        for question in questions:
            codes = _cells(answers.get(question["id"]))
            cells += [";".join(codes), ";".join(labels[question["id"]].get(c, c) for c in codes)]
        yield _line(cells)


# Human Trafficking Case Data Standard v2.0 (IOM, CC BY 4.0): our field -> (HTCDS column, code map).
# Codes not listed map to themselves; fieldapp's own refinements map to the HTCDS code they refine.
HTCDS_COLUMNS: dict[str, tuple[str, dict[str, str]]] = {
    "sex": ("prs_Gender", {}),
    "nationality": ("prs_Citizenship", {"other": "", "unknown": ""}),
    "exploitation_type": ("vic_TypeOfExploitation", {}),
    "sector": ("vic_ForcedLabourIndustry", {"A_Logging": "A_AgricultureForestryAndFishing"}),
    "recruitment_method": ("vic_MethodOfRecruitment", {"FalseJobOffer": "Other"}),
    "recruitment_apps": ("vic_RecruitmentWebsitesAndApps", {}),
}


def htcds_rows(rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    """One row per report, HTCDS column names and value sets; the rest of the report is not exported here."""
    header = ["cas_Identifier", "cas_DateOfEntry"] + [column for column, _ in HTCDS_COLUMNS.values()]
    header += ["vic_MethodsOfControl"]
    yield BOM + _line(header)
    for row in rows:
        answers = (row.get("document") or {}).get("answers") or {}
        cells = [row["rid"], row["received_on"]]
        for field_id, (_, mapping) in HTCDS_COLUMNS.items():
            codes = [mapping.get(c, c) for c in _cells(answers.get(field_id))]
            cells.append(";".join(dict.fromkeys(c for c in codes if c)))
        false_promises = "FalseJobOffer" in _cells(answers.get("recruitment_method"))
        cells.append("FalsePromises" if false_promises else "")
        yield _line(cells)


def jsonl_rows(rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    for row in rows:
        yield json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n"


def _line(cells: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(cells)
    return buffer.getvalue()


WRITERS: dict[str, Callable[[Iterable[dict[str, Any]]], Iterator[str]]] = {
    "csv": csv_rows,
    "jsonl": jsonl_rows,
    "htcds": htcds_rows,
}
