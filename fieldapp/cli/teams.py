"""`fieldapp teams`: field teams."""

from __future__ import annotations

import click
from flask.cli import AppGroup
from flask_babel import gettext as _

from ..database import writing
from ..extensions import db
from ..services import audit, teams
from .shared import domain_command


@click.group("teams", cls=AppGroup)
def teams_group() -> None:
    """Equipos de campo."""


@teams_group.command("create")
@click.argument("name")
@domain_command
def teams_create(name: str) -> None:
    """Crea un equipo."""
    with writing(db.session):
        team = teams.create_team(db.session, name)
        audit.record(db.session, "cli", "team_created", team=team.name)
        created = team.name
    click.echo(_("Equipo creado: %(name)s", name=created))


@teams_group.command("list")
def teams_list() -> None:
    """Lista los equipos."""
    for team in teams.list_teams(db.session):
        click.echo(f"{team.id}\t{team.name}\t{team.created_on.isoformat()}")
