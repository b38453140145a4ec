"""The supervisors' inbox: reports listed, opened and triaged. Decrypted content lives only in the objects
returned for one request; nothing opened here is written anywhere."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from .. import crypto
from ..errors import N_, Invalid, NotFound
from ..models import OrgKey, ReferralTarget, Report, ReportNote, ReportStatus, Team, utcnow
from . import forms

PAGE_SIZE = 50

STATUS_LABELS = {
    ReportStatus.NEW.value: N_("Nuevo"),
    ReportStatus.IN_REVIEW.value: N_("En revisión"),
    ReportStatus.REFERRED.value: N_("Derivado"),
    ReportStatus.CLOSED.value: N_("Cerrado"),
}
TARGET_LABELS = {
    ReferralTarget.POLICE.value: N_("Policía"),
    ReferralTarget.PROSECUTOR.value: N_("Fiscalía"),
    ReferralTarget.SHELTER.value: N_("Albergue"),
    ReferralTarget.LABOUR_INSPECTORATE.value: N_("Inspección laboral (SUNAFIL)"),
    ReferralTarget.HEALTH.value: N_("Salud"),
    ReferralTarget.OTHER.value: N_("Otro"),
}

# Where each status may go next: forward along the workflow, and a closed case may be reopened.
TRANSITIONS = {
    ReportStatus.NEW.value: {ReportStatus.IN_REVIEW.value},
    ReportStatus.IN_REVIEW.value: {ReportStatus.REFERRED.value, ReportStatus.CLOSED.value},
    ReportStatus.REFERRED.value: {ReportStatus.CLOSED.value},
    ReportStatus.CLOSED.value: {ReportStatus.IN_REVIEW.value},
}


@dataclass(frozen=True)
class Filters:
    """Plaintext facts (status, team, dates) filter in the database; content filters need an unlocked session."""

    status: str | None = None
    team: str | None = None
    since: dt.date | None = None
    until: dt.date | None = None
    department: str | None = None
    urgent: bool | None = None
    exploitation_type: str | None = None

    @property
    def needs_content(self) -> bool:
        return self.department is not None or self.urgent is not None or self.exploitation_type is not None


@dataclass
class OpenedReport:
    rid: str
    received_on: dt.date
    team: str
    status: str
    referred_to: str | None
    document: dict[str, Any] | None = None  # None when locked, or when it cannot be opened or is malformed
    error: str | None = None
    raw: str | None = None  # a malformed document as JSON text, shown escaped so a supervisor can see what came
    notes: list[dict[str, Any]] = field(default_factory=list)

    @property
    def answers(self) -> dict[str, Any]:
        answers = (self.document or {}).get("answers")
        return answers if isinstance(answers, dict) else {}

    @property
    def urgent(self) -> bool:
        return self.answers.get("urgent") is True

    @property
    def locale(self) -> str | None:
        locale = (self.document or {}).get("locale")
        return locale if isinstance(locale, str) else None

    def matches(self, filters: Filters) -> bool:
        a = self.answers
        types = a.get("exploitation_type") if isinstance(a.get("exploitation_type"), list) else []
        return (
            (filters.department is None or a.get("department") == filters.department)
            and (filters.urgent is None or self.urgent == filters.urgent)
            and (filters.exploitation_type is None or filters.exploitation_type in types)
        )


RAW_SHOWN_CHARS = 20_000


def open_stored(envelope_text: str, private_keys: dict[str, ec.EllipticCurvePrivateKey]) -> tuple[Any, str | None]:
    """A stored envelope opened and its document checked whole: (document, None), or (what was opened or None,
    why it cannot be read as a report: a msgid). Pages, statistics and exports read reports through this alone."""
    try:
        envelope = json.loads(envelope_text)
    except ValueError:  # kept before identifiers were matched whole: unreadable, but never a crash
        return None, forms.MALFORMED
    try:
        document = crypto.open_envelope(envelope, private_keys)
    except crypto.EnvelopeError as exc:
        return None, exc.reason
    return document, forms.document_problem(document)


def raw_text(document: Any) -> str:
    """A document as JSON text for showing, ASCII-escaped (lone surrogates included) and cut to a bound."""
    try:
        text = json.dumps(document, ensure_ascii=False, indent=1, sort_keys=True)
    except (ValueError, TypeError, RecursionError):  # nested too deep to write out
        text = repr(document)
    # Lone surrogates cannot be written to a page: each is shown as its escape.
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(text) <= RAW_SHOWN_CHARS else text[:RAW_SHOWN_CHARS] + " …"


def _open(row: Any, private_keys: dict[str, ec.EllipticCurvePrivateKey] | None) -> OpenedReport:
    """A listed row (see _query), opened when keys are given."""
    opened = OpenedReport(row.rid, row.received_on, row.team, row.status, row.referred_to)
    if private_keys is not None:
        document, opened.error = open_stored(row.envelope, private_keys)
        if opened.error is None:
            opened.document = document
        elif document is not None:
            opened.raw = raw_text(document)
    return opened


def _query(filters: Filters):  # type: ignore[no-untyped-def]
    # Plain columns, not ORM objects: listing and statistics go through thousands of rows.
    query = select(
        Report.id,
        Report.rid,
        Report.received_on,
        Team.name.label("team"),
        Report.status,
        Report.referred_to,
        Report.envelope,
    ).join(Team)
    if filters.status:
        query = query.where(Report.status == filters.status)
    if filters.team:
        query = query.where(Team.name == filters.team)
    if filters.since:
        query = query.where(Report.received_on >= filters.since)
    if filters.until:
        query = query.where(Report.received_on <= filters.until)
    return query.order_by(Report.received_on.desc(), Report.id.desc())


def list_reports(
    session: Session,
    filters: Filters,
    private_keys: dict[str, ec.EllipticCurvePrivateKey] | None,
    page: int = 1,
) -> tuple[list[OpenedReport], int]:
    """One page of reports, newest first, and how many match in all."""
    query = _query(filters)
    offset = (max(page, 1) - 1) * PAGE_SIZE
    if filters.needs_content and private_keys is not None:
        # Content is known only once opened: open every candidate, keep what matches.
        matching = [o for o in (_open(r, private_keys) for r in session.execute(query)) if o.matches(filters)]
        return matching[offset : offset + PAGE_SIZE], len(matching)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    shown = session.execute(query.offset(offset).limit(PAGE_SIZE))
    return [_open(r, private_keys) for r in shown], total


def iter_matching(
    session: Session, filters: Filters, private_keys: dict[str, ec.EllipticCurvePrivateKey]
) -> Iterable[OpenedReport]:
    """Every matching report, opened one at a time and handed on (for statistics; nothing is kept)."""
    for row in session.execute(_query(filters).execution_options(yield_per=500)):
        opened = _open(row, private_keys)
        if opened.matches(filters):
            yield opened


def _report(session: Session, rid: str) -> Report:
    report = session.scalar(select(Report).where(Report.rid == rid).options(joinedload(Report.team)))
    if report is None:
        raise NotFound(N_("No existe el informe %(rid)s."), rid=rid)
    return report


def report_row(session: Session, rid: str) -> Report:
    """The stored row of a report (its attachments hang from it)."""
    return _report(session, rid)


def open_report(session: Session, rid: str, private_keys: dict[str, ec.EllipticCurvePrivateKey]) -> OpenedReport:
    row = session.execute(_query(Filters()).where(Report.rid == rid)).first()
    if row is None:
        raise NotFound(N_("No existe el informe %(rid)s."), rid=rid)
    opened = _open(row, private_keys)
    for note in session.scalars(select(ReportNote).where(ReportNote.report_id == row.id).order_by(ReportNote.id)):
        try:
            opened.notes.append(crypto.open_envelope(json.loads(note.envelope), private_keys))
        except crypto.EnvelopeError as exc:
            opened.notes.append({"error": exc.reason})
    return opened


def set_status(session: Session, rid: str, status: str, referred_to: str | None) -> Report:
    report = _report(session, rid)
    if status not in TRANSITIONS.get(report.status, set()):
        raise Invalid(N_("Un informe en estado «%(old)s» no puede pasar a «%(new)s»."), old=report.status, new=status)
    if status == ReportStatus.REFERRED.value:
        if referred_to not in {t.value for t in ReferralTarget}:
            raise Invalid(N_("Indique a quién se deriva el caso."))
        report.referred_to = referred_to
    report.status = status
    return report


def add_note(session: Session, rid: str, text: str, author: str) -> ReportNote:
    """Sealed to the current organisation key, exactly like a report (PROTOCOL.md §2)."""
    text = text.strip()
    if not 1 <= len(text) <= 4000:
        raise Invalid(N_("La nota debe tener entre 1 y 4000 caracteres."))
    report = _report(session, rid)
    current = session.scalar(select(OrgKey).where(OrgKey.current.is_(True)))
    if current is None:
        raise Invalid(N_("No hay una clave actual de la organización."))
    doc = {"note": text, "author": author, "created_at": utcnow().replace(microsecond=0).isoformat() + "Z"}
    envelope = crypto.seal_document(doc, current.public_key, str(uuid.uuid4()))
    note = ReportNote(report_id=report.id, envelope=json.dumps(envelope, separators=(",", ":")))
    session.add(note)
    return note


def counts_by_status(session: Session) -> dict[str, int]:
    return {
        status: count for status, count in session.execute(select(Report.status, func.count()).group_by(Report.status))
    }
