"""The inbox and one report: decrypted only for the request that shows it."""

from __future__ import annotations

import datetime as dt

from flask import Response, redirect, render_template, request, url_for

from ..database import writing
from ..errors import N_, Invalid
from ..extensions import db
from ..models import ReferralTarget, ReportStatus, User
from ..services import attachments, audit, forms, inbox, unlock
from . import bp
from .auth import READERS, role_required
from .unlock import unlocked_keys


def parse_filters() -> inbox.Filters:
    args = request.args

    def date(name: str) -> dt.date | None:
        value = args.get(name, "")
        if not value:
            return None
        try:
            return dt.date.fromisoformat(value)
        except ValueError as exc:
            raise Invalid(N_("Fecha no válida: %(value)s."), value=value[:20]) from exc

    status = args.get("status") or None
    if status is not None and status not in {s.value for s in ReportStatus}:
        raise Invalid(N_("Estado desconocido: %(value)s."), value=status[:20])
    urgent = {"yes": True, "no": False}.get(args.get("urgent", ""))
    return inbox.Filters(
        status=status,
        team=args.get("team") or None,
        since=date("since"),
        until=date("until"),
        department=args.get("department") or None,
        urgent=urgent,
        exploitation_type=args.get("exploitation_type") or None,
    )


@bp.get("/dashboard/reports")
@role_required(*READERS)
def report_list(user: User):  # type: ignore[no-untyped-def]
    filters = parse_filters()
    private_keys = unlocked_keys(user)
    page = max(1, min(10_000, request.args.get("page", 1, type=int) or 1))
    shown, total = inbox.list_reports(db.session, filters, private_keys, page)
    return render_template(
        "dashboard/reports.html",
        user=user,
        reports=shown,
        arriving=attachments.still_arriving(db.session, [r.rid for r in shown]),
        total=total,
        page=page,
        pages=max(1, -(-total // inbox.PAGE_SIZE)),
        filters=filters,
        unlocked=private_keys is not None,
        offline=not unlock.holds_keys(db.session, user),
        counts=inbox.counts_by_status(db.session),
        statuses=[s.value for s in ReportStatus],
    )


@bp.get("/dashboard/reports/<rid>")
@role_required(*READERS)
def report_detail(user: User, rid: str):  # type: ignore[no-untyped-def]
    private_keys = unlocked_keys(user)
    if private_keys is None:
        return redirect(url_for("dashboard.unlock_reading"))
    opened = inbox.open_report(db.session, rid[:64], private_keys)
    with writing(db.session):
        audit.record(db.session, user.username, "report_opened", report_rid=opened.rid)
    return render_template(
        "dashboard/report.html",
        user=user,
        report=opened,
        answers=forms.describe_answers(opened.document) if opened.document else [],
        attachments=attachments.listed(db.session, inbox.report_row(db.session, opened.rid), opened.document),
        next_statuses=sorted(inbox.TRANSITIONS.get(opened.status, set())),
        targets=[t.value for t in ReferralTarget],
    )


@bp.get("/dashboard/reports/<rid>/attachments/<aid>")
@role_required(*READERS)
def report_attachment(user: User, rid: str, aid: str):  # type: ignore[no-untyped-def]
    """One recording or photo, decrypted in memory for this answer only: never cached, never on disk."""
    private_keys = unlocked_keys(user)
    if private_keys is None:
        return redirect(url_for("dashboard.unlock_reading"))
    opened = inbox.open_report(db.session, rid[:64], private_keys)
    row = inbox.report_row(db.session, opened.rid)
    plain, shown = attachments.open_attachment(
        db.session, attachments.DatabaseChunkStore(db.session), row, opened.document, aid[:64]
    )
    with writing(db.session):
        audit.record(db.session, user.username, "attachment_opened", report_rid=opened.rid, attachment=aid[:36])
    response = Response(plain, mimetype=shown.mime)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Content-Disposition"] = "inline" if shown.shown else f'attachment; filename="{shown.aid}.bin"'
    return response


@bp.post("/dashboard/reports/<rid>/status")
@role_required(*READERS)
def report_status(user: User, rid: str):  # type: ignore[no-untyped-def]
    status = request.form.get("status", "")
    with writing(db.session):
        report = inbox.set_status(db.session, rid[:64], status, request.form.get("referred_to") or None)
        audit.record(
            db.session,
            user.username,
            "status_changed",
            report_rid=report.rid,
            status=status,
            referred_to=report.referred_to,
        )
        report_rid = report.rid
    return redirect(url_for("dashboard.report_detail", rid=report_rid))


@bp.post("/dashboard/reports/<rid>/notes")
@role_required(*READERS)
def report_note(user: User, rid: str):  # type: ignore[no-untyped-def]
    with writing(db.session):
        inbox.add_note(db.session, rid[:64], request.form.get("note", ""), user.username)
        audit.record(db.session, user.username, "note_added", report_rid=rid[:64])
    return redirect(url_for("dashboard.report_detail", rid=rid[:64]))
