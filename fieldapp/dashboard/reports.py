"""Unlock, lock, the inbox and one report: decrypted only for the request that shows it."""

from __future__ import annotations

import base64
import datetime as dt

from flask import Response, current_app, redirect, render_template, request, session, stream_with_context, url_for
from flask_babel import gettext

from ..config import Config
from ..database import writing
from ..errors import N_, DomainError, Invalid
from ..extensions import db
from ..models import ReferralTarget, ReportStatus, Role, User
from ..services import audit, exports, forms, inbox, keys, stats, unlock, users
from . import bp
from .auth import role_required

READERS = (Role.ADMIN.value, Role.SUPERVISOR.value)


def _unlocked_keys(user: User):  # type: ignore[no-untyped-def]
    """This session's organisation keys for this request, or None when locked."""
    held = session.get("unlock")
    if not held:
        return None
    opened = unlock.open_keys(db.session, user, held["id"], base64.urlsafe_b64decode(held["key"]))
    if opened is None:
        session.pop("unlock", None)
        return None
    if opened.extend_due:
        with writing(db.session):
            unlock.extend(db.session, held["id"])
    return opened.keys


def refused_key_passphrase(user: User, refusal: DomainError) -> int:
    """Record a refused key passphrase (counted against the account when it was wrong); the answer's status."""
    name = user.username
    with writing(db.session):
        wrong = isinstance(refusal, keys.WrongKeyPassphrase)
        wait = users.record_failure(db.session, user.id, "unlock") if wrong else 0
        audit.record(db.session, name, "unlock_refused")
    return 429 if wait or refusal.status == 429 else refusal.status


def _parse_filters() -> inbox.Filters:
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


@bp.route("/dashboard/unlock", methods=["GET", "POST"])
@role_required(*READERS)
def unlock_reading(user: User):  # type: ignore[no-untyped-def]
    if not unlock.holds_keys(db.session, user):
        return render_template("dashboard/unlock.html", user=user, offline=True, error="")
    if request.method == "GET":
        return render_template("dashboard/unlock.html", user=user, offline=False, error="")
    config: Config = current_app.config["FIELDAPP"]
    try:
        opened = keys.prepare_unlock(db.session, user, request.form.get("key_passphrase", "")[:1024], config.kdf)
    except DomainError as exc:
        status = refused_key_passphrase(user, exc)
        return render_template("dashboard/unlock.html", user=user, offline=False, error=exc.render(gettext)), status
    with writing(db.session):
        completed = keys.store_unlock(db.session, user, opened)
        unlock_id, key = unlock.start(db.session, user, opened.keys)
        users.record_success(db.session, user, "unlock")
        audit.record(db.session, user.username, "unlock", **({"pending_completed": completed} if completed else {}))
    session["unlock"] = {"id": unlock_id, "key": base64.urlsafe_b64encode(key).decode()}
    return redirect(url_for("dashboard.report_list"))


@bp.post("/dashboard/lock")
@role_required(*READERS)
def lock_reading(user: User):  # type: ignore[no-untyped-def]
    held = session.pop("unlock", None)
    if held:
        with writing(db.session):
            unlock.lock(db.session, held["id"])
            audit.record(db.session, user.username, "lock")
    return redirect(url_for("dashboard.report_list"))


@bp.get("/dashboard/reports")
@role_required(*READERS)
def report_list(user: User):  # type: ignore[no-untyped-def]
    filters = _parse_filters()
    private_keys = _unlocked_keys(user)
    page = max(1, min(10_000, request.args.get("page", 1, type=int) or 1))
    shown, total = inbox.list_reports(db.session, filters, private_keys, page)
    return render_template(
        "dashboard/reports.html",
        user=user,
        reports=shown,
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
    private_keys = _unlocked_keys(user)
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
        next_statuses=sorted(inbox.TRANSITIONS.get(opened.status, set())),
        targets=[t.value for t in ReferralTarget],
    )


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


@bp.get("/dashboard/export")
@role_required(*READERS)
def export_download(user: User):  # type: ignore[no-untyped-def]
    fmt = request.args.get("format", "csv")
    if fmt not in exports.FORMATS:
        raise Invalid(N_("Formato de exportación desconocido: %(value)s."), value=fmt[:20])
    private_keys = _unlocked_keys(user)
    if private_keys is None:
        return redirect(url_for("dashboard.unlock_reading"))
    count = exports.count_reports(db.session)
    with writing(db.session):
        audit.record(db.session, user.username, "export", format=fmt, count=count)
    # Streamed straight to the browser: the decrypted rows exist only in this response, never on disk. The
    # stream is a read: however long it takes, phones keep syncing.
    lines = exports.WRITERS[fmt](exports.iter_opened_reports(db.session, private_keys))
    extension = "jsonl" if fmt == "jsonl" else "csv"
    name = f"fieldapp-{fmt}-{dt.date.today().isoformat()}.{extension}"
    return Response(
        stream_with_context(lines),
        mimetype=exports.MEDIA_TYPES[fmt],
        # No proxy may spool the decrypted rows to its disk (nginx obeys this header).
        headers={"Content-Disposition": f'attachment; filename="{name}"', "X-Accel-Buffering": "no"},
    )


CHART_WIDTH = 300  # SVG user units; the chart scales to its box


@bp.get("/dashboard/stats")
@role_required(*READERS)
def statistics(user: User):  # type: ignore[no-untyped-def]
    filters = _parse_filters()
    private_keys = _unlocked_keys(user)
    picture = (
        stats.compute(inbox.iter_matching(db.session, filters, private_keys)) if private_keys is not None else None
    )
    return render_template(
        "dashboard/stats.html",
        user=user,
        picture=picture,
        filters=filters,
        counts=inbox.counts_by_status(db.session),
        statuses=[s.value for s in ReportStatus],
        chart_width=CHART_WIDTH,
        offline=not unlock.holds_keys(db.session, user),
    )
