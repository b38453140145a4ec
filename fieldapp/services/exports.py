"""Decrypted exports. Plaintext leaves only through the stream the caller writes; nothing is kept.

Formats: JSON Lines (everything, as opened), CSV (one row per report: codes and Spanish labels; UTF-8 with
a BOM so that spreadsheet programs read the accents) and an HTCDS-compatible CSV (docs/EXPORTS.md).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import zipfile
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from ..models import Report
from . import forms, inbox

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
        document, error = inbox.open_stored(report.envelope, private_keys)
        if document is not None:
            row["document"] = document  # a malformed one too: JSON Lines writes it as it was opened
        if error is not None:
            row["error"] = error
        yield row


FORM_ID = "trafficking-report"
# OWASP "CSV Injection": a spreadsheet runs a cell that starts like this as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _readable(row: dict[str, Any]) -> dict[str, Any] | None:
    """The document of a row, or None when it could not be opened or is malformed (the row's error says so)."""
    return None if row.get("error") else row.get("document")


def csv_rows(rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    """CSV text, line by line: fixed columns, then for each question its codes and, where the form labels
    them, its Spanish labels."""
    definition = forms.find_form(FORM_ID)
    questions = forms.questions(definition) if definition else []
    labels = forms.answer_labels(FORM_ID)
    header = ["rid", "received_on", "team", "status", "status_label", "referred_to", "referred_to_label"]
    header += ["error", "language", "minors"]
    for question in questions:
        header += [question["id"], f"{question['id']}_label"] if labels[question["id"]] else [question["id"]]
    yield BOM + _line(header)
    for row in rows:
        document = _readable(row) or {}
        answers = document.get("answers", {})
        referred_to = row.get("referred_to") or ""
        cells = [
            row["rid"],
            row["received_on"],
            row["team"],
            row["status"],
            inbox.STATUS_LABELS.get(row["status"], row["status"]),
            referred_to,
            inbox.TARGET_LABELS.get(referred_to, referred_to),
            row.get("error") or "",
            document.get("locale", ""),
            "yes" if answers.get("minors") is True else "",
        ]
        for question in questions:
            codes = forms.answer_codes(answers.get(question["id"]))
            cells.append(";".join(codes))
            if labels[question["id"]]:
                cells.append(";".join(forms.shown(labels[question["id"]], code).text for code in codes))
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
    header += ["vic_MethodsOfControl", "error"]
    yield BOM + _line(header)
    for row in rows:
        answers = (_readable(row) or {}).get("answers", {})
        cells = [row["rid"], row["received_on"]]
        for field_id, (_, mapping) in HTCDS_COLUMNS.items():
            codes = [mapping.get(c, c) for c in forms.answer_codes(answers.get(field_id))]
            cells.append(";".join(dict.fromkeys(c for c in codes if c)))
        false_promises = "FalseJobOffer" in forms.answer_codes(answers.get("recruitment_method"))
        cells += ["FalsePromises" if false_promises else "", row.get("error") or ""]
        yield _line(cells)


def jsonl_rows(rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    for row in rows:
        try:
            # ASCII with \u escapes: a document holding lone surrogates is still written, as valid JSON.
            line = json.dumps(row, ensure_ascii=True, separators=(",", ":"))
        except (ValueError, RecursionError):  # nested too deep to write back: the row says so, without it
            line = json.dumps({k: v for k, v in row.items() if k != "document"} | {"error": forms.MALFORMED})
        yield line + "\n"


def _line(cells: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow("'" + c if c.startswith(FORMULA_STARTS) else c for c in cells)
    return buffer.getvalue()


WRITERS: dict[str, Callable[[Iterable[dict[str, Any]]], Iterator[str]]] = {
    "csv": csv_rows,
    "jsonl": jsonl_rows,
    "htcds": htcds_rows,
}


class StreamSink(io.RawIOBase):
    """What the zip writes, handed on as it comes: a zip on a stream that cannot seek puts sizes after data."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:  # type: ignore[no-untyped-def, override]
        self.parts.append(bytes(data))
        self.size += len(data)
        return len(data)

    def take(self) -> bytes:
        out = b"".join(self.parts)
        self.parts.clear()
        self.size = 0
        return out


def zipped(
    rows_name: str,
    lines: Iterable[str],
    attachments: Iterable[Any],
    listing_name: str,
    listing_header: list[str],
    included: str,
    words: Callable[[str], str],
) -> Iterator[bytes]:
    """A zip made while it is sent: the rows file, each attachment decrypted at `<rid>/<aid>.<ext>`, and a CSV
    listing every attachment with what became of it (`included`, or its problem put into `words`).

    One attachment is in memory at a time; nothing is written anywhere but the stream.
    """
    sink = StreamSink()
    stamp = dt.datetime.now().timetuple()[:6]
    listing = [BOM + _line(listing_header)]
    with zipfile.ZipFile(sink, "w") as archive:
        entry = zipfile.ZipInfo(rows_name, stamp)
        entry.compress_type = zipfile.ZIP_DEFLATED
        with archive.open(entry, "w", force_zip64=True) as out:
            for line in lines:
                out.write(line.encode())
                if sink.size >= 64 * 1024:  # the compressor writes little and often: send it in pieces
                    yield sink.take()
        yield sink.take()
        for item in attachments:
            if item.data is None:
                listing.append(_line([item.rid, item.aid, "", words(item.problem or "")]))
                continue
            # Recordings and photos are compressed already: stored as they are.
            archive.writestr(zipfile.ZipInfo(item.file_name, stamp), item.data, compress_type=zipfile.ZIP_STORED)
            listing.append(_line([item.rid, item.aid, item.file_name, included]))
            yield sink.take()
        archive.writestr(zipfile.ZipInfo(listing_name, stamp), "".join(listing), compress_type=zipfile.ZIP_DEFLATED)
    yield sink.take()
