"""`fieldapp bundle`: reports and their chunks to a file and back, ciphertext only (PROTOCOL.md §6 and §10)."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import click
from flask.cli import AppGroup
from flask_babel import gettext as _

from ..database import writing
from ..extensions import db
from ..services import audit, bundles, teams
from .shared import domain_command, settings


@click.group("bundle", cls=AppGroup)
def bundle_group() -> None:
    """Paquetes de informes cifrados, para llevarlos en una memoria USB o por un relevo."""


@bundle_group.command("export")
@click.option(
    "--since", type=click.DateTime(formats=["%Y-%m-%d"]), help="Solo los informes recibidos desde esta fecha."
)
@click.option("--team", "team_name", help="Solo los informes de este equipo.")
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False), help="Archivo del paquete.")
@domain_command
def bundle_export(since: dt.datetime | None, team_name: str | None, out_path: str) -> None:
    """Escribe un paquete: solo texto cifrado, que nadie lee sin la clave de la organización."""
    team = teams.find_team(db.session, team_name) if team_name else None
    day = since.date() if since else None
    with click.progressbar(
        length=bundles.count_selected(db.session, day, team), label=_("Empaquetando"), file=sys.stderr
    ) as bar:
        count = bundles.write_bundle_file(db.session, Path(out_path), since=day, team=team, progress=bar.update)
    with writing(db.session):
        audit.record(db.session, "cli", "bundle_exported", count=count)
    click.echo(_("%(count)s informes empaquetados en %(path)s", count=count, path=out_path))


@bundle_group.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--team", "team_name", help="El equipo de los informes (obligatorio para un paquete de versión 1).")
@domain_command
def bundle_import(path: str, team_name: str | None) -> None:
    """Guarda los informes de un paquete; importarlo otra vez no guarda nada nuevo."""
    config = settings()
    team = teams.find_team(db.session, team_name) if team_name else None
    with click.progressbar(length=bundles.peek_count(Path(path)), label=_("Importando"), file=sys.stderr) as bar:
        summary = bundles.import_bundle(
            db.session,
            Path(path),
            max_ct_bytes=config.max_ct_bytes,
            limits=config.attachment_limits,
            team=team,
            progress=bar.update,
        )
    rejected = len(summary.rejected)
    with writing(db.session):
        audit.record(
            db.session, "cli", "bundle_imported", stored=summary.stored, duplicate=summary.duplicate, rejected=rejected
        )
    click.echo(
        _(
            "Guardados: %(stored)s · ya estaban: %(duplicate)s · rechazados: %(rejected)s · partes nuevas: %(chunks)s",
            stored=summary.stored,
            duplicate=summary.duplicate,
            rejected=rejected,
            chunks=summary.chunks_new,
        )
    )
    for outcome in summary.rejected:
        reason = outcome.error.render(_) if outcome.error else ""
        click.echo(_("Rechazado %(rid)s: %(reason)s", rid=outcome.rid or "?", reason=reason), err=True)
    if summary.chunks_conflicting:
        click.echo(
            _(
                "%(count)s partes no coinciden con las que ya tenía el servidor; se conservan las suyas.",
                count=summary.chunks_conflicting,
            ),
            err=True,
        )
