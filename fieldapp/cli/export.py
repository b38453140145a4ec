"""`fieldapp export`: every report decrypted into one file, never into the instance folder."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click
from flask.cli import with_appcontext
from flask_babel import gettext as _

from ..database import writing
from ..extensions import db
from ..services import audit, exports, keys
from .shared import domain_command, find_account, read_secret, settings


@click.command("export")
@with_appcontext
@click.option("--as", "as_user", required=True, help="Titular de la clave que descifra.")
@click.option("--format", "fmt", type=click.Choice(list(exports.FORMATS)), default="jsonl", show_default=True)
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False), help="Archivo de salida.")
@domain_command
def export(as_user: str, fmt: str, out_path: str) -> None:
    """Descifra todos los informes a un archivo (nunca a la base de datos ni a la carpeta de instancia)."""
    target = Path(out_path).resolve()
    if target.is_relative_to(settings().instance_path):
        raise click.ClickException(_("No se escriben informes descifrados dentro de la carpeta de instancia."))
    user = find_account(as_user)
    opened = keys.prepare_unlock(
        db.session, user, read_secret(_("Frase de paso de la clave"), "FIELDAPP_PASSPHRASE"), settings().kdf
    )
    with writing(db.session):
        keys.store_unlock(db.session, user, opened)
    private_keys = opened.keys
    total = exports.count_reports(db.session)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    count = 0
    with (
        os.fdopen(fd, "w", encoding="utf-8", newline="") as out,
        click.progressbar(length=total, label=_("Exportando"), file=sys.stderr) as bar,
    ):

        def counted(rows):  # type: ignore[no-untyped-def]
            nonlocal count
            for row in rows:
                count += 1
                bar.update(1)
                yield row

        for line in exports.WRITERS[fmt](counted(exports.iter_opened_reports(db.session, private_keys))):
            out.write(line)
    name = user.username
    with writing(db.session):
        audit.record(db.session, name, "export", format=fmt, count=count)
    click.echo(_("%(count)s informes exportados a %(path)s", count=count, path=str(target)))
