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
from ..services import attachments, audit, exports, keys
from .shared import domain_command, find_account, read_secret, settings


@click.command("export")
@with_appcontext
@click.option("--as", "as_user", required=True, help="Titular de la clave que descifra.")
@click.option("--format", "fmt", type=click.Choice(list(exports.FORMATS)), default="jsonl", show_default=True)
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False), help="Archivo de salida.")
@click.option(
    "--attachments",
    "attachments_dir",
    type=click.Path(file_okay=False),
    help="Carpeta donde escribir las grabaciones y fotos descifradas (una subcarpeta por informe).",
)
@domain_command
def export(as_user: str, fmt: str, out_path: str, attachments_dir: str | None) -> None:
    """Descifra todos los informes a un archivo (nunca a la base de datos ni a la carpeta de instancia)."""
    target = Path(out_path).resolve()
    folder = Path(attachments_dir).resolve() if attachments_dir else None
    for path in (target, folder):
        if path is not None and path.is_relative_to(settings().instance_path):
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
    if folder is not None:
        _write_attachments(folder, private_keys, name)


def _write_attachments(folder: Path, private_keys, actor: str) -> None:  # type: ignore[no-untyped-def]
    """Each attachment decrypted into its report's subfolder, readable by this user alone; problems listed."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    written = 0
    for item in attachments.iter_decrypted(db.session, attachments.DatabaseChunkStore(db.session), private_keys):
        if item.data is None:
            click.echo(_("Informe %(rid)s: %(problem)s", rid=item.rid, problem=_(item.problem or "")), err=True)
            continue
        path = folder / item.file_name
        path.parent.mkdir(mode=0o700, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(item.data)
        written += 1
    with writing(db.session):
        audit.record(db.session, actor, "export", format="attachments", count=written)
    click.echo(_("%(count)s adjuntos escritos en %(path)s", count=written, path=str(folder)))
