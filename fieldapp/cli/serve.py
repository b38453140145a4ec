"""`fieldapp serve` and the first-run setup link."""

from __future__ import annotations

import logging
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from flask_babel import gettext as _
from werkzeug.routing import Map

from ..crypto import tls
from ..database import release_before_fork, writing
from ..extensions import db
from ..security import ScrubAddresses, ScrubRequestTargets
from ..services import setup, users


def _setup_url(host: str, port: int, token: str, scheme: str = "http", certificate: Path | None = None) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104 (printing, not binding)
    if certificate is not None:  # over HTTPS, a name the certificate holds: a browser takes no other
        shown = tls.first_name(certificate.read_bytes()) or shown
    return f"{scheme}://{shown}:{port}/setup/{token}"


def _print_setup_link_if_needed(host: str, port: int, scheme: str = "http", certificate: Path | None = None) -> None:
    if users.admin_exists(db.session):
        return
    with writing(db.session):
        token = setup.issue_setup_token(db.session)
    click.echo(_("Aún no hay administrador. Abra este enlace de un solo uso para configurar fieldapp:"))
    click.echo(_setup_url(host, port, token, scheme, certificate))


def _configure_logging(url_map: Map) -> None:
    handler = logging.StreamHandler()
    # Whatever logs through it (the app, Flask, werkzeug's server) names routes, not the tokens in their paths.
    handler.addFilter(ScrubRequestTargets(url_map))
    handler.addFilter(ScrubAddresses())
    # No timestamps: the log must not place anyone at a precise time.
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", handlers=[handler])


@click.command("serve")
@with_appcontext
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64), help="Procesos (gunicorn).")
@click.option(
    "--threads",
    default=4,
    show_default=True,
    type=click.IntRange(1, 256),
    help="Hilos por proceso: una exportación ocupa uno mientras dura; los demás siguen recibiendo informes.",
)
@click.option(
    "--server",
    type=click.Choice(["auto", "gunicorn", "werkzeug"]),
    default="auto",
    show_default=True,
    help="auto: gunicorn donde funciona (Linux, macOS), si no el servidor integrado.",
)
@click.option(
    "--tls", "use_tls", is_flag=True, help="HTTPS con el certificado de fieldapp tls init (red local de una base)."
)
def serve(host: str, port: int, workers: int, threads: int, server: str, use_tls: bool) -> None:
    """Sirve la aplicación (sin registrar direcciones IP ni agentes de usuario)."""
    from .. import server as serving
    from .tls import server_files

    files = server_files() if use_tls else None
    _configure_logging(current_app.url_map)
    scheme = "https" if files else "http"
    address = f"{scheme}://{host}:{port}/"
    click.echo(_("fieldapp sirve en %(url)s", url=address))
    _print_setup_link_if_needed(host, port, scheme, files[0] if files else None)
    # The start-up checks end here: no transaction of theirs may live on in the server or its workers.
    db.session.remove()
    release_before_fork(db.engine)
    serving.start_forwarder(current_app.config["FIELDAPP"].relay_seconds)
    use_gunicorn = server == "gunicorn" or (server == "auto" and serving.gunicorn_available())
    if use_gunicorn:
        serving.serve_with_gunicorn(host, port, workers, threads, current_app.url_map, files)
    else:
        serving.serve_with_werkzeug(current_app._get_current_object(), host, port, files)  # type: ignore[attr-defined]


@click.command("setup-link")
@with_appcontext
def setup_link() -> None:
    """Imprime un nuevo enlace de configuración inicial (invalida el anterior)."""
    if users.admin_exists(db.session):
        raise click.ClickException(_("Ya existe un administrador; la configuración inicial está hecha."))
    _print_setup_link_if_needed("127.0.0.1", 5000)
