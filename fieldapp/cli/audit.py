"""`fieldapp audit`: the tamper-evident trail."""

from __future__ import annotations

import click
from flask.cli import AppGroup
from flask_babel import gettext as _

from ..extensions import db
from ..services import audit


@click.group("audit", cls=AppGroup)
def audit_group() -> None:
    """Registro de auditoría."""


@audit_group.command("verify")
def audit_verify() -> None:
    """Comprueba la cadena del registro; sale con error si una fila fue cambiada, borrada o insertada."""
    result = audit.verify(db.session)
    if not result.ok:
        click.echo(
            _(
                "La cadena se rompe en el evento %(id)s: %(reason)s (%(count)s eventos anteriores verifican).",
                id=result.broken_at,
                reason=_(result.reason),
                count=result.checked,
            ),
            err=True,
        )
        raise SystemExit(1)
    click.echo(_("Registro íntegro: %(count)s eventos.", count=result.checked))
    click.echo(_("Cabeza de la cadena: %(head)s", head=result.head))
