"""The admin's teams and phones: create teams, issue enrollment codes (text and QR, with a look), revoke
phones (and wipe them)."""

from __future__ import annotations

import io

import segno
from flask import Response, current_app, redirect, render_template, request, url_for
from flask_babel import gettext
from markupsafe import Markup

from ..config import Config
from ..crypto import signing, tls
from ..database import writing
from ..errors import N_, NotFound
from ..extensions import db
from ..looks import look_or_default, offered_looks, shell_looks
from ..models import Role, User
from ..services import audit, devices, enrollment, keylists, teams
from . import bp
from .auth import role_required

ADMIN = Role.ADMIN.value


def qr_svg(text: str) -> Markup:
    """A QR code as inline SVG, drawn here: the phone's camera reads it from the screen."""
    buffer = io.BytesIO()
    segno.make_qr(text, error="m").save(buffer, kind="svg", scale=8, border=4, xmldecl=False, svgclass="qr")
    return Markup(buffer.getvalue().decode("ascii"))  # noqa: S704  (segno's own SVG, from a code we made)


@bp.get("/dashboard/teams")
@role_required(ADMIN)
def teams_page(user: User):  # type: ignore[no-untyped-def]
    all_teams, all_devices = teams.list_teams(db.session), devices.list_devices(db.session)
    by_team = {team.id: [d for d in all_devices if d.team_id == team.id] for team in all_teams}
    config: Config = current_app.config["FIELDAPP"]
    return render_template(
        "dashboard/teams.html",
        user=user,
        teams=all_teams,
        by_team=by_team,
        looks=shell_looks(gettext, offered_looks(config.own_look)),
        default_look=config.default_look,
        tls_fingerprint=tls.fingerprint((config.tls_dir / "ca.pem").read_bytes())
        if (config.tls_dir / "ca.pem").exists()
        else None,
    )


@bp.post("/dashboard/teams")
@role_required(ADMIN)
def team_create(user: User):  # type: ignore[no-untyped-def]
    with writing(db.session):
        team = teams.create_team(db.session, request.form.get("name", "")[:200])
        audit.record(db.session, user.username, "team_created", team=team.name)
    return redirect(url_for("dashboard.teams_page"))


@bp.post("/dashboard/teams/<int:team_id>/code")
@role_required(ADMIN)
def team_code(user: User, team_id: int):  # type: ignore[no-untyped-def]
    config: Config = current_app.config["FIELDAPP"]
    uses = request.form.get("uses", 1, type=int) or 1
    hours = request.form.get("hours", config.enroll_code_ttl_hours, type=int) or config.enroll_code_ttl_hours
    look = request.form.get("look") or None
    signed = keylists.latest(db.session)  # the QR carries its signer's fingerprint: the phone pins it
    with writing(db.session):
        team = teams.find_team_by_id(db.session, team_id)
        offered = offered_looks(config.own_look)
        code = enrollment.issue_code(db.session, team, uses=uses, ttl_hours=hours, look=look, offered=offered)
        audit.record(
            db.session, user.username, "enrollment_code_issued", team=team.name, uses=uses, hours=hours, look=look
        )
    return render_template(
        "dashboard/code.html",
        user=user,
        team=team,
        code=code,
        qr=qr_svg(f"{code}#{signing.fingerprint_hex(signed.signer)}" if signed else code),
        fingerprint=signing.fingerprint(signed.signer) if signed else None,
        uses=uses,
        hours=hours,
        look_name=look_or_default(look, config.default_look, offered).label(gettext),
    )


@bp.post("/dashboard/devices/<int:device_id>/revoke")
@role_required(ADMIN)
def device_revoke(user: User, device_id: int):  # type: ignore[no-untyped-def]
    wipe = request.form.get("wipe") == "1"  # the form's box is ticked by default; unticked, nothing is sent
    with writing(db.session):
        devices.revoke(db.session, device_id, wipe=wipe)
        audit.record(db.session, user.username, "device_revoked", device=device_id, wipe=wipe)
    return redirect(url_for("dashboard.teams_page"))


@bp.get("/dashboard/tls/ca.pem")
@role_required(ADMIN)
def tls_authority(user: User):  # type: ignore[no-untyped-def]
    """The base's own authority, to install on its phones (docs/OPERATING.md): public, but only admins hand it out."""
    config: Config = current_app.config["FIELDAPP"]
    ca = config.tls_dir / "ca.pem"
    if not ca.exists():
        raise NotFound(N_("Esta base no tiene certificados propios (fieldapp tls init)."))
    return Response(
        ca.read_bytes(),
        mimetype="application/x-x509-ca-cert",
        headers={"Content-Disposition": 'attachment; filename="base-ca.crt"'},
    )
