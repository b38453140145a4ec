"""Exports streamed to the supervisor's browser: the decrypted rows exist only in the response."""

from __future__ import annotations

import datetime as dt

from flask import Response, redirect, request, stream_with_context, url_for

from ..database import writing
from ..errors import N_, Invalid
from ..extensions import db
from ..models import User
from ..services import audit, exports
from . import bp
from .auth import READERS, role_required
from .unlock import unlocked_keys


@bp.get("/dashboard/export")
@role_required(*READERS)
def export_download(user: User):  # type: ignore[no-untyped-def]
    fmt = request.args.get("format", "csv")
    if fmt not in exports.FORMATS:
        raise Invalid(N_("Formato de exportación desconocido: %(value)s."), value=fmt[:20])
    private_keys = unlocked_keys(user)
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
