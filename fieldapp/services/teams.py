"""Field teams: a phone belongs to one, and a report names its team, never its phone."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import N_, Conflict, Invalid, NotFound
from ..models import Team


def create_team(session: Session, name: str) -> Team:
    name = " ".join(name.split())
    if not name or len(name) > 80:
        raise Invalid(N_("El nombre del equipo debe tener entre 1 y 80 caracteres."))
    if session.scalar(select(Team).where(Team.name == name)):
        raise Conflict(N_("Ya existe un equipo llamado «%(name)s»."), name=name)
    team = Team(name=name)
    session.add(team)
    session.flush()
    return team


def find_team(session: Session, name: str) -> Team:
    team = session.scalar(select(Team).where(Team.name == " ".join(name.split())))
    if team is None:
        raise NotFound(N_("No existe el equipo «%(name)s»."), name=name)
    return team


def find_team_by_id(session: Session, team_id: int) -> Team:
    team = session.get(Team, team_id)
    if team is None:
        raise NotFound(N_("No existe el equipo %(id)s."), id=team_id)
    return team


def list_teams(session: Session) -> list[Team]:
    return list(session.scalars(select(Team).order_by(Team.name)))
