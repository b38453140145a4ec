"""The admin's relaying: at a base, its link to HQ and what waits for HQ; at HQ, the bases that forward to it."""

from __future__ import annotations

from flask import current_app, redirect, render_template, request, url_for
from flask_babel import gettext

from ..config import Config
from ..crypto import signing
from ..database import end_read, writing
from ..errors import DomainError
from ..extensions import db
from ..models import Role, User
from ..services import audit, forwarding, keylists, relays
from . import bp
from .auth import role_required

ADMIN = Role.ADMIN.value
MAX_CA_BYTES = 64 * 1024


def _page(user: User, status: int = 200, **context: object):  # type: ignore[no-untyped-def]
    link = forwarding.link(db.session)
    return (
        render_template(
            "dashboard/relay.html",
            user=user,
            link=link,
            last_error=forwarding.render_error(link.last_error, gettext) if link and link.last_error else None,
            waiting=forwarding.waiting(db.session) if link else None,
            refusals=forwarding.refusals(db.session) if link else [],
            relays=relays.list_relays(db.session),
            fingerprint=signing.fingerprint(signer)
            if link and (signer := keylists.pinned_signer(db.session))
            else None,
            **context,
        ),
        status,
    )


@bp.get("/dashboard/relay")
@role_required(ADMIN)
def relay_page(user: User):  # type: ignore[no-untyped-def]
    return _page(user)


@bp.post("/dashboard/relay/join")
@role_required(ADMIN)
def relay_join(user: User):  # type: ignore[no-untyped-def]
    config: Config = current_app.config["FIELDAPP"]
    upload = request.files.get("ca")
    ca_pem = None
    if upload is not None and upload.filename:
        data = upload.read(MAX_CA_BYTES + 1)
        if len(data) > MAX_CA_BYTES or b"-----BEGIN CERTIFICATE-----" not in data:
            return _page(user, 422, problem=gettext("El archivo de la autoridad no es un certificado PEM."))
        ca_pem = data.decode("ascii", errors="replace")
    url, code = request.form.get("url", "")[:300], request.form.get("code", "")[:64]
    end_read(db.session)  # HQ may take a while to answer: no read is held meanwhile
    try:
        joined = forwarding.join(
            db.session,
            url,
            code,
            ca_pem,
            forwarding.http_transport_waiting(config.relay_timeout_seconds),
            config.secret_key,
        )
    except DomainError as exc:
        return _page(user, 422, problem=exc.render(gettext))
    name, hq = joined.name, joined.hq_url
    with writing(db.session):
        audit.record(db.session, user.username, "relay_joined", hq=hq, name=name)
    return redirect(url_for("dashboard.relay_page"))


@bp.post("/dashboard/relay/retry")
@role_required(ADMIN)
def relay_retry(user: User):  # type: ignore[no-untyped-def]
    with writing(db.session):
        count = forwarding.retry_refused(db.session)
        audit.record(db.session, user.username, "relay_retried", count=count)
    return redirect(url_for("dashboard.relay_page"))


@bp.post("/dashboard/relay/leave")
@role_required(ADMIN)
def relay_leave(user: User):  # type: ignore[no-untyped-def]
    with writing(db.session):
        forwarding.leave(db.session)
        audit.record(db.session, user.username, "relay_left")
    return redirect(url_for("dashboard.relay_page"))


@bp.post("/dashboard/relays")
@role_required(ADMIN)
def relay_add(user: User):  # type: ignore[no-untyped-def]
    hours = request.form.get("hours", 72, type=int) or 72
    try:
        with writing(db.session):
            relay, code = relays.add_relay(db.session, request.form.get("name", "")[:200], hours)
            audit.record(db.session, user.username, "relay_added", relay=relay.name)
            name = relay.name
    except DomainError as exc:
        return _page(user, 422, problem=exc.render(gettext))
    return _page(user, new_code=code, new_name=name, new_hours=hours)


@bp.post("/dashboard/relays/<int:relay_id>/revoke")
@role_required(ADMIN)
def relay_revoke(user: User, relay_id: int):  # type: ignore[no-untyped-def]
    with writing(db.session):
        relay = relays.revoke(db.session, relay_id)
        audit.record(db.session, user.username, "relay_revoked", relay=relay.name)
    return redirect(url_for("dashboard.relay_page"))
