"""Decrypted exports. Plaintext leaves only through the stream the caller writes; nothing is kept."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from .. import crypto
from ..models import Report


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
        }
        try:
            row["document"] = crypto.open_envelope(json.loads(report.envelope), private_keys)
        except crypto.EnvelopeError as exc:
            row["error"] = exc.reason
        yield row


def write_jsonl(rows: Iterator[dict[str, Any]], out) -> int:  # type: ignore[no-untyped-def]
    count = 0
    for row in rows:
        out.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n")
        count += 1
    return count
