"""The admin's bundles: every report (or a team's, or since a date) to a file, and a file's reports in; ciphertext
only, both ways (PROTOCOL.md §6 and §10)."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

from flask import Response, current_app, render_template, request, stream_with_context
from flask_babel import gettext

from ..config import Config
from ..database import writing
from ..errors import N_, Invalid
from ..extensions import db
from ..models import Role, User
from ..services import audit, bundles, teams
from . import bp
from .auth import role_required

ADMIN = Role.ADMIN.value


def _page(user: User, status: int = 200, **context: object):  # type: ignore[no-untyped-def]
    return render_template("dashboard/bundles.html", user=user, teams=teams.list_teams(db.session), **context), status


def _chosen_team(value: str | None):  # type: ignore[no-untyped-def]
    if not value:
        return None
    if not value.isdigit() or len(value) > 9:
        raise Invalid(N_("No existe el equipo %(id)s."), id=value[:20])
    return teams.find_team_by_id(db.session, int(value))


@bp.get("/dashboard/bundles")
@role_required(ADMIN)
def bundles_page(user: User):  # type: ignore[no-untyped-def]
    return _page(user)


@bp.get("/dashboard/bundles/export")
@role_required(ADMIN)
def bundle_download(user: User):  # type: ignore[no-untyped-def]
    team = _chosen_team(request.args.get("team"))
    since_text = request.args.get("since") or ""
    try:
        since = dt.date.fromisoformat(since_text) if since_text else None
    except ValueError as exc:
        raise Invalid(N_("La fecha «%(value)s» no es AAAA-MM-DD."), value=since_text[:20]) from exc
    count = bundles.count_selected(db.session, since, team)
    with writing(db.session):
        audit.record(db.session, user.username, "bundle_exported", count=count)
    name = f"fieldapp-{dt.date.today().isoformat()}.zip"
    # Made while it is sent, from one read: phones keep syncing meanwhile, and nothing is spooled to disk.
    body = bundles.iter_bundle(db.session, since=since, team=team)
    return Response(
        stream_with_context(body),
        mimetype="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{name}"', "X-Accel-Buffering": "no"},
    )


@bp.post("/dashboard/bundles/import")
@role_required(ADMIN)
def bundle_upload(user: User):  # type: ignore[no-untyped-def]
    # This form alone takes more than an API request: FieldappRequest.LARGER_BODIES, before any hook reads it.
    upload = request.files.get("bundle")
    team = _chosen_team(request.form.get("team"))
    if upload is None or not upload.filename:
        return _page(user, 422, problem=gettext("Elija el archivo del paquete."))
    config: Config = current_app.config["FIELDAPP"]
    # Ciphertext only: the upload is kept in a temporary file while it is read twice (checked, then stored).
    with tempfile.TemporaryDirectory(prefix="fieldapp-bundle-") as folder:
        path = Path(folder) / "bundle.zip"
        upload.save(path)
        upload.close()  # the spooled upload, closed now: the copy in the folder is what is read
        try:
            summary = bundles.import_bundle(
                db.session, path, max_ct_bytes=config.max_ct_bytes, limits=config.attachment_limits, team=team
            )
        except bundles.BundleError as exc:
            return _page(user, 422, problem=exc.render(gettext))
    with writing(db.session):
        audit.record(
            db.session,
            user.username,
            "bundle_imported",
            stored=summary.stored,
            duplicate=summary.duplicate,
            rejected=len(summary.rejected),
        )
    rejected = [(o.rid or "?", o.error.render(gettext) if o.error else "") for o in summary.rejected]
    return _page(user, summary=summary, rejected=rejected)
