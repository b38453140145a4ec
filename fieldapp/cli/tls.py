"""`fieldapp tls`: HTTPS for a base on a local Wi-Fi, with an authority of its own that vouches for the base
alone (docs/OPERATING.md, "A base on a local Wi-Fi")."""

from __future__ import annotations

import os
from pathlib import Path

import click
from flask.cli import AppGroup
from flask_babel import gettext as _

from ..crypto import tls
from .shared import settings

FILES = {"ca.pem": False, "ca-key.pem": True, "server.pem": False, "server-key.pem": True}  # name: secret


def _write(path: Path, data: bytes, secret: bool) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if secret else 0o644)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


@click.group("tls", cls=AppGroup)
def tls_group() -> None:
    """HTTPS en la red local de una base, con una autoridad propia limitada a la base."""


@tls_group.command("init")
@click.option(
    "--name", "names", multiple=True, help="Nombre de la base en la red (p. ej. base.local); se puede repetir."
)
@click.option("--ip", "ips", multiple=True, help="Dirección IP de la base en la red; se puede repetir.")
def tls_init(names: tuple[str, ...], ips: tuple[str, ...]) -> None:
    """Crea la autoridad de la base y el certificado del servidor (en la carpeta de instancia)."""
    folder = settings().tls_dir
    if folder.exists() and any(folder.iterdir()):
        raise click.ClickException(
            _("Ya hay certificados en %(path)s: bórrelos antes de crear otros.", path=str(folder))
        )
    try:
        made = tls.make_local_tls(list(names), list(ips))
    except ValueError as exc:
        raise click.ClickException(_("Indique al menos un --name o una --ip válidos.")) from exc
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    contents = {
        "ca.pem": made.ca_cert,
        "ca-key.pem": made.ca_key,
        "server.pem": made.server_cert,
        "server-key.pem": made.server_key,
    }
    for name, secret in FILES.items():
        _write(folder / name, contents[name], secret)
    click.echo(_("Autoridad y certificado creados en %(path)s", path=str(folder)))
    click.echo(
        _(
            "Huella SHA-256 de la autoridad (compárela en cada teléfono): %(fingerprint)s",
            fingerprint=tls.fingerprint(made.ca_cert),
        )
    )
    click.echo(_("Sirva con: fieldapp serve --tls --host 0.0.0.0"))


@tls_group.command("show")
def tls_show() -> None:
    """Muestra la huella de la autoridad de la base."""
    ca = settings().tls_dir / "ca.pem"
    if not ca.exists():
        raise click.ClickException(_("Aún no hay certificados: fieldapp tls init --name … --ip …"))
    click.echo(tls.fingerprint(ca.read_bytes()))


def server_files() -> tuple[Path, Path]:
    """The server's certificate chain and key, for `fieldapp serve --tls`; a clear refusal if there are none."""
    folder = settings().tls_dir
    cert, key = folder / "server.pem", folder / "server-key.pem"
    if not cert.exists() or not key.exists():
        raise click.ClickException(_("Aún no hay certificados: fieldapp tls init --name … --ip …"))
    return cert, key
