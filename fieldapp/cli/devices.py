"""`fieldapp devices`: enrolment codes and enrolled phones."""

from __future__ import annotations

import click
from flask.cli import AppGroup
from flask_babel import gettext as _

from ..database import writing
from ..extensions import db
from ..looks import offered_looks
from ..services import audit, devices, enrollment, teams
from .shared import domain_command, settings


@click.group("devices", cls=AppGroup)
def devices_group() -> None:
    """Teléfonos inscritos y códigos de inscripción."""


@devices_group.command("code")
@click.option("--team", "team_name", required=True, help="Nombre del equipo.")
@click.option("--uses", default=1, show_default=True, type=int, help="Cuántos teléfonos pueden usarlo.")
@click.option("--ttl", "ttl_hours", default=None, type=int, help="Horas de validez (24 por defecto).")
@click.option(
    "--look",
    default=None,
    help="Aspecto del teléfono: notas, clima, calculadora o propia (FIELDAPP_OWN_LOOK); por defecto, FIELDAPP_LOOK.",
)
@domain_command
def devices_code(team_name: str, uses: int, ttl_hours: int | None, look: str | None) -> None:
    """Emite un código de inscripción de un solo uso (se imprime solo, en la última línea)."""
    hours = ttl_hours or settings().enroll_code_ttl_hours
    with writing(db.session):
        team = teams.find_team(db.session, team_name)
        offered = offered_looks(settings().own_look)
        code = enrollment.issue_code(db.session, team, uses=uses, ttl_hours=hours, look=look, offered=offered)
        audit.record(db.session, "cli", "enrollment_code_issued", team=team.name, uses=uses, hours=hours, look=look)
        team_label = team.name
    click.echo(
        _(
            "Código para el equipo %(team)s, %(uses)s uso(s), válido %(hours)s h:",
            team=team_label,
            uses=uses,
            hours=hours,
        )
    )
    click.echo(code)


@devices_group.command("list")
def devices_list() -> None:
    """Lista los teléfonos: id, equipo, inscripción, última sincronización, revocación."""
    for d in devices.list_devices(db.session):
        last = d.last_sync_on.isoformat() if d.last_sync_on else "-"
        revoked = d.revoked_on.isoformat() if d.revoked_on else "-"
        click.echo(f"{d.id}\t{d.team.name}\t{d.enrolled_on.isoformat()}\t{last}\t{revoked}")


@devices_group.command("revoke")
@click.argument("device_id", type=int)
@click.option(
    "--wipe/--no-wipe",
    default=True,
    show_default=True,
    help="Pedir al teléfono que borre lo que guarda en su próximo contacto, tras entregar sus informes sellados.",
)
@domain_command
def devices_revoke(device_id: int, wipe: bool) -> None:
    """Desconecta un teléfono: su token deja de valer; sus informes se conservan."""
    with writing(db.session):
        devices.revoke(db.session, device_id, wipe=wipe)
        audit.record(db.session, "cli", "device_revoked", device=device_id, wipe=wipe)
    if wipe:
        click.echo(_("Dispositivo %(id)s revocado; se borrará en su próximo contacto.", id=device_id))
    else:
        click.echo(_("Dispositivo %(id)s revocado.", id=device_id))
