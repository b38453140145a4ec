"""`fieldapp relay` (a base forwarding to HQ) and `fieldapp relays` (HQ's enrolled bases)."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import click
from flask.cli import AppGroup
from flask_babel import gettext as _

from ..crypto import signing
from ..database import writing
from ..errors import DomainError
from ..extensions import db
from ..services import audit, forwarding, keylists, relays
from .shared import domain_command, settings


def _transport() -> forwarding.TransportFactory:
    return forwarding.http_transport_waiting(settings().relay_timeout_seconds)


@click.group("relay", cls=AppGroup)
def relay_group() -> None:
    """Esta base reenvía sus informes cifrados a la sede cuando hay conexión."""


@relay_group.command("join")
@click.argument("url")
@click.option("--code", required=True, help="El código de base que dio la sede.")
@click.option("--ca", "ca_file", type=click.Path(exists=True, dir_okay=False), help="Autoridad de la sede (PEM).")
@domain_command
def relay_join(url: str, code: str, ca_file: str | None) -> None:
    """Inscribe este servidor en la sede como base; las claves de la sede pasan a ser las de aquí."""
    ca_pem = Path(ca_file).read_text(encoding="ascii", errors="replace") if ca_file else None
    joined = forwarding.join(db.session, url, code, ca_pem, _transport(), settings().secret_key)
    name, hq = joined.name, joined.hq_url
    signer = keylists.pinned_signer(db.session)
    with writing(db.session):
        audit.record(db.session, "cli", "relay_joined", hq=hq, name=name)
    click.echo(
        _("Base «%(name)s» inscrita en %(url)s. Reenvía cada minuto mientras fieldapp serve corre.", name=name, url=hq)
    )
    if signer:  # the base took HQ's first list on trust: this is what the admin compares with HQ's Claves page
        click.echo(_("Huella de la organización: %(fingerprint)s", fingerprint=signing.fingerprint(signer)))


@relay_group.command("status")
def relay_status() -> None:
    """Lo que espera a la sede y el último contacto."""
    link = forwarding.link(db.session)
    if link is None:
        click.echo(_("Este servidor no reenvía a ninguna sede."))
        return
    waiting = forwarding.waiting(db.session)
    contact = link.last_contact_at.strftime("%Y-%m-%d %H:%M") if link.last_contact_at else _("nunca")
    click.echo(_("Sede: %(url)s (base «%(name)s»)", url=link.hq_url, name=link.name))
    click.echo(_("Último contacto: %(when)s UTC", when=contact))
    click.echo(
        _(
            "Esperan a la sede: %(reports)s informes y %(chunks)s partes; la sede rechazó %(refused)s",
            reports=waiting.reports,
            chunks=waiting.chunks,
            refused=waiting.refused,
        )
    )
    if link.last_error:
        click.echo(_("Último problema: %(problem)s", problem=forwarding.render_error(link.last_error, _)))


def _say(done: forwarding.Pass) -> str:
    return _(
        "confirmados: %(confirmed)s · rechazados: %(refused)s · partes: %(chunks)s",
        confirmed=done.confirmed,
        refused=done.refused,
        chunks=done.chunks,
    )


@relay_group.command("forward")
@domain_command
def relay_forward() -> None:
    """Una pasada ahora: todo lo que la sede no ha confirmado."""

    def progress(done: forwarding.Pass) -> None:
        click.echo("\r" + _say(done), nl=False, err=True)

    done = forwarding.forward(db.session, _transport(), progress)
    click.echo("", err=True)
    click.echo(_say(done))


@relay_group.command("run")
@click.option("--every", default=60, show_default=True, type=click.IntRange(1, 3600), help="Segundos entre pasadas.")
@click.option("--parent", type=int, hidden=True)
def relay_run(every: int, parent: int | None) -> None:
    """Reenvía sin parar (fieldapp serve lo lanza solo); sin enlace con una sede, espera a que lo haya."""
    try:
        while parent is None or os.getppid() == parent:  # the server that started it is gone: so is this
            _one_pass()
            _sleep(every, parent)
    except KeyboardInterrupt:
        return  # Ctrl-C at the terminal reaches the server and this alike


def _one_pass() -> None:
    try:
        if forwarding.link(db.session) is not None:
            forwarding.forward(db.session, _transport())
    except DomainError:
        pass  # kept as the link's last error, shown by the dashboard and relay status
    except Exception:  # a busy database, a bug: this pass is lost, the next one starts over
        logging.getLogger(__name__).exception("relay pass failed")
    finally:
        db.session.remove()


def _sleep(seconds: int, parent: int | None) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and (parent is None or os.getppid() == parent):
        time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))


@relay_group.command("retry")
@domain_command
def relay_retry() -> None:
    """Vuelve a enviar los informes que la sede rechazó (cuando ya tiene el equipo o la clave)."""
    with writing(db.session):
        count = forwarding.retry_refused(db.session)
        audit.record(db.session, "cli", "relay_retried", count=count)
    click.echo(_("%(count)s informes se enviarán de nuevo.", count=count))


@relay_group.command("leave")
@domain_command
def relay_leave() -> None:
    """Quita el enlace con la sede; lo que no se reenvió se queda aquí."""
    with writing(db.session):
        forwarding.leave(db.session)
        audit.record(db.session, "cli", "relay_left")
    click.echo(_("Enlace con la sede quitado."))


@click.group("relays", cls=AppGroup)
def relays_group() -> None:
    """Bases que reenvían sus informes a este servidor (la sede)."""


@relays_group.command("add")
@click.argument("name")
@click.option("--hours", default=72, show_default=True, type=int, help="Horas que vale el código.")
@domain_command
def relays_add(name: str, hours: int) -> None:
    """Crea una base y su código de un solo uso (se muestra una vez)."""
    with writing(db.session):
        relay, code = relays.add_relay(db.session, name, hours)
        audit.record(db.session, "cli", "relay_added", relay=relay.name)
    click.echo(_("Código de la base (vale %(hours)s horas, un solo uso):", hours=hours))
    click.echo(code)


@relays_group.command("list")
def relays_list() -> None:
    """Lista las bases."""
    for relay in relays.list_relays(db.session):
        contact = relay.last_contact_on.isoformat() if relay.last_contact_on else "-"
        state = _("desconectada") if relay.revoked_on else (_("inscrita") if relay.token_hash else _("sin inscribir"))
        click.echo(f"{relay.id}\t{relay.name}\t{state}\t{contact}")


@relays_group.command("revoke")
@click.argument("relay_id", type=int)
@domain_command
def relays_revoke(relay_id: int) -> None:
    """Desconecta una base: su token deja de valer."""
    with writing(db.session):
        relay = relays.revoke(db.session, relay_id)
        audit.record(db.session, "cli", "relay_revoked", relay=relay.name)
        name = relay.name
    click.echo(_("Base desconectada: %(name)s", name=name))
