"""`fieldapp decrypt`: a bundle opened on a laptop with no server, no database and no network (offline custody);
what it holds is written under the folder given, and nowhere else."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import click

from ..errors import DomainError
from ..services import bundles, exports, offline

DAMAGED = bundles.UNREADABLE


def _translate():  # type: ignore[no-untyped-def]
    from . import _cli_translate  # the command line's language, without an app

    return _cli_translate()


def _secret(prompt: str, env: str) -> str:
    return os.environ.get(env) or click.prompt(prompt, hide_input=True, default="", show_default=False)


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def _keys(key_path: str | None, kit_path: str | None, _):  # type: ignore[no-untyped-def]
    """The organisation key from its PEM file (its passphrase asked if it has one) or its recovery kit."""
    if (key_path is None) == (kit_path is None):
        raise click.UsageError(_("Indique la clave (--key) o el kit de recuperación (--recovery-kit), uno de los dos."))
    if key_path is not None:
        pem = Path(key_path).read_bytes()
        password = _secret(_("Frase de la clave"), "FIELDAPP_KEY_PASSPHRASE") if b"ENCRYPTED" in pem else None
        return offline.keys_from_pem(pem, password)
    kit = Path(kit_path).read_bytes()  # type: ignore[arg-type]
    return offline.keys_from_kit(kit, _secret(_("Frase de recuperación"), "FIELDAPP_RECOVERY_PHRASE"))


KEY_OPTION = click.option(
    "--key", "key_path", type=click.Path(exists=True, dir_okay=False), help="La clave privada de la organización (PEM)."
)
KIT_OPTION = click.option(
    "--recovery-kit",
    "kit_path",
    type=click.Path(exists=True, dir_okay=False),
    help="El kit de recuperación de la clave; su frase se pide (o FIELDAPP_RECOVERY_PHRASE).",
)


@click.command("report")
@click.argument("bundle_path", type=click.Path(exists=True, dir_okay=False))
@KEY_OPTION
@KIT_OPTION
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False), help="Archivo HTML nuevo.")
def report(bundle_path: str, key_path: str | None, kit_path: str | None, out_path: str) -> None:
    """Las estadísticas de un paquete en una sola página HTML, sin servidor ni red."""
    from ..i18n import cli_language

    _ = _translate()
    target = Path(out_path)
    if target.exists():
        raise click.ClickException(_("El archivo %(path)s ya existe: elija otro nombre.") % {"path": out_path})
    try:
        keys = _keys(key_path, kit_path, _)
        with bundles.open_bundle(Path(bundle_path)) as bundle:
            checked, reports = offline.read_bundle(bundle, keys)
            page = offline.statistics_page(reports, checked.count, cli_language())
    except DomainError as exc:
        raise click.ClickException(exc.render(_)) from None
    except DAMAGED:
        raise click.ClickException(_("El paquete está dañado: un archivo no pasa su comprobación (CRC).")) from None
    _write(target, page.encode())
    click.echo(_("Estadísticas escritas en %(path)s") % {"path": out_path})


@click.command("decrypt")
@click.argument("bundle_path", type=click.Path(exists=True, dir_okay=False))
@KEY_OPTION
@KIT_OPTION
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False),
    help="Carpeta nueva o vacía para lo descifrado.",
)
@click.option("--format", "fmt", type=click.Choice(list(exports.FORMATS)), default="jsonl", show_default=True)
@click.option("--attachments", "with_attachments", is_flag=True, help="También las grabaciones y fotos, descifradas.")
def decrypt(
    bundle_path: str, key_path: str | None, kit_path: str | None, out_dir: str, fmt: str, with_attachments: bool
) -> None:
    """Descifra un paquete sin servidor ni red: solo escribe en la carpeta indicada."""
    _ = _translate()
    folder = Path(out_dir)
    if folder.exists() and any(folder.iterdir()):
        raise click.ClickException(_("La carpeta %(path)s no está vacía: elija una nueva.") % {"path": out_dir})
    made_here = not folder.exists()
    try:
        keys = _keys(key_path, kit_path, _)
        with bundles.open_bundle(Path(bundle_path)) as bundle:
            checked, reports = offline.read_bundle(bundle, keys)
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            opened = unreadable = written = 0
            problems: list[str] = []
            rids_seen: set[str] = set()
            rows_path = folder / f"reports.{'jsonl' if fmt == 'jsonl' else 'csv'}"
            fd = os.open(rows_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with (
                os.fdopen(fd, "w", encoding="utf-8", newline="") as out,
                click.progressbar(length=checked.count, label=_("Descifrando"), file=sys.stderr) as bar,
            ):

                def rows():  # type: ignore[no-untyped-def]
                    nonlocal opened, unreadable, written
                    for report in reports:
                        bar.update(1)
                        if report.row.get("error"):
                            unreadable += 1
                        else:
                            opened += 1
                        if with_attachments and report.row["rid"] not in rids_seen:
                            rids_seen.add(report.row["rid"])  # a report twice in a bundle: its files once
                            for item in offline.attachments_of(bundle, checked, report):
                                if item.data is None:
                                    problems.append(
                                        _("Informe %(rid)s: %(problem)s")
                                        % {"rid": item.rid, "problem": _(item.problem or "")}
                                    )
                                    continue
                                _write(offline.safe_target(folder / "attachments", item.file_name), item.data)
                                written += 1
                        yield report.row

                for line in exports.WRITERS[fmt](rows()):
                    out.write(line)
    except (DomainError, *DAMAGED) as exc:
        # Written as it was read: a bundle refused at its end, or damaged mid-way, leaves nothing behind.
        if made_here and folder.exists():
            shutil.rmtree(folder)
        elif folder.exists():  # it was there, empty: it is left empty
            for child in folder.iterdir():
                shutil.rmtree(child) if child.is_dir() else child.unlink()
        if isinstance(exc, DomainError):
            raise click.ClickException(exc.render(_)) from None
        raise click.ClickException(_("El paquete está dañado: un archivo no pasa su comprobación (CRC).")) from None
    for problem in problems:
        click.echo(problem, err=True)
    click.echo(
        _("%(opened)s informes descifrados en %(path)s; %(unreadable)s no se pudieron abrir.")
        % {"opened": opened, "path": str(rows_path), "unreadable": unreadable}
    )
    if with_attachments:
        click.echo(
            _("%(count)s adjuntos escritos en %(path)s") % {"count": written, "path": str(folder / "attachments")}
        )
