"""`fieldapp users`: accounts."""

from __future__ import annotations

import click
from flask.cli import AppGroup
from flask_babel import gettext as _

from ..database import writing
from ..extensions import db
from ..models import Role
from ..services import audit, users
from .shared import domain_command, read_secret, settings


@click.group("users", cls=AppGroup)
def users_group() -> None:
    """Cuentas de administradores, supervisores y traductores."""


@users_group.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@domain_command
def users_create(username: str, role: str) -> None:
    """Crea una cuenta (pide su frase de paso, o la lee de FIELDAPP_PASSPHRASE)."""
    passphrase = read_secret(_("Frase de paso para entrar"), "FIELDAPP_PASSPHRASE", confirm=True)
    account = users.prepare_account(username, role, passphrase, settings().kdf)
    with writing(db.session):
        user = users.add_account(db.session, account)
        audit.record(db.session, "cli", "user_created", username=user.username, role=user.role)
        name, role = user.username, user.role
    click.echo(_("Usuario creado: %(name)s (%(role)s)", name=name, role=role))
