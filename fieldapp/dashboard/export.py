"""Exports streamed to the supervisor's browser: the decrypted rows exist only in the response."""

from __future__ import annotations

import datetime as dt
import re

from flask import Response, redirect, request, stream_with_context, url_for
from flask_babel import gettext

from ..database import writing
from ..errors import N_, Invalid
from ..extensions import db
from ..models import User
from ..services import attachments, audit, exports
from . import bp
from .auth import READERS, role_required
from .unlock import unlocked_keys


@bp.get("/dashboard/export")
@role_required(*READERS)
def export_download(user: User):  # type: ignore[no-untyped-def]
    fmt = request.args.get("format", "csv")
    if fmt not in exports.FORMATS:
        raise Invalid(N_("Formato de exportación desconocido: %(value)s."), value=fmt[:20])
    with_attachments = request.args.get("attachments", "0")
    if with_attachments not in ("0", "1"):
        raise Invalid(N_("El valor de «%(field)s» debe ser 0 o 1."), field="attachments")
    private_keys = unlocked_keys(user)
    if private_keys is None:
        return redirect(url_for("dashboard.unlock_reading"))
    count = exports.count_reports(db.session)
    with writing(db.session):
        shown = f"{fmt}+attachments" if with_attachments == "1" else fmt
        audit.record(db.session, user.username, "export", format=shown, count=count)
    # Streamed straight to the browser: the decrypted rows exist only in this response, never on disk. The
    # stream is a read: however long it takes, phones keep syncing.
    lines = exports.WRITERS[fmt](exports.iter_opened_reports(db.session, private_keys))
    extension = "jsonl" if fmt == "jsonl" else "csv"
    name = f"fieldapp-{fmt}-{dt.date.today().isoformat()}.{extension}"
    mimetype = exports.MEDIA_TYPES[fmt]
    body = lines
    if with_attachments == "1":
        decrypted = attachments.iter_decrypted(db.session, attachments.DatabaseChunkStore(db.session), private_keys)
        header = [gettext("informe"), gettext("adjunto"), gettext("archivo"), gettext("estado")]
        # A translator's word becomes a file name: nothing in it may name a folder.
        listing = (re.sub(r"[^\w-]", "", gettext("adjuntos"))[:40] or "adjuntos") + ".csv"
        body = exports.zipped(name, lines, decrypted, listing, header, gettext("incluido"), gettext)
        name, mimetype = name.rsplit(".", 1)[0] + ".zip", "application/zip"
    return Response(
        stream_with_context(body),
        mimetype=mimetype,
        # No proxy may spool the decrypted rows to its disk (nginx obeys this header).
        headers={"Content-Disposition": f'attachment; filename="{name}"', "X-Accel-Buffering": "no"},
    )
