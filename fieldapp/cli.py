"""The `fieldapp` command: serve, set up, and manage teams, devices, users, keys and exports."""

from __future__ import annotations

import functools
import logging
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import AppGroup, FlaskGroup, routes_command, shell_command, with_appcontext
from flask_babel import gettext as _

from . import create_app
from .config import Config
from .crypto import generate_recovery_phrase, make_recovery_kit
from .database import release_before_fork, writing
from .errors import N_, DomainError
from .extensions import db
from .i18n import cli_language, translations_dir, translations_for
from .models import Role
from .services import audit, devices, exports, keys, setup, users


def _config() -> Config:
    return current_app.config["FIELDAPP"]


def _secret(prompt: str, env: str, confirm: bool = False) -> str:
    """A passphrase from the environment (for scripts) or typed at a hidden prompt; never echoed or logged."""
    value = os.environ.get(env)
    if value:
        return value
    return click.prompt(prompt, hide_input=True, confirmation_prompt=confirm)


def domain_command(f: Callable[..., Any]) -> Callable[..., Any]:
    """Explain a domain error in one line. Each command writes in its own writing() block and says what it
    did only after that block has committed."""

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return f(*args, **kwargs)
        except DomainError as exc:
            raise click.ClickException(exc.render(_)) from None

    return wrapper


def _setup_url(host: str, port: int, token: str) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104 (printing, not binding)
    return f"http://{shown}:{port}/setup/{token}"


def _print_setup_link_if_needed(host: str, port: int) -> None:
    if users.admin_exists(db.session):
        return
    with writing(db.session):
        token = setup.issue_setup_token(db.session)
    click.echo(_("Aún no hay administrador. Abra este enlace de un solo uso para configurar fieldapp:"))
    click.echo(_setup_url(host, port, token))


def _configure_logging() -> None:
    # No timestamps: the log must not place anyone at a precise time.
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")


def _make_app() -> Flask:
    try:
        return create_app()
    except DomainError as exc:  # a broken setting or language registry: one clear line, not a traceback
        raise click.ClickException(_startup_message(exc)) from None


def _startup_message(exc: DomainError) -> str:
    return exc.render(_cli_translate())


def _cli_translate() -> Callable[[str], str]:
    """gettext for the command line's language (FIELDAPP_LANG), usable before the app exists."""
    try:
        return translations_for(cli_language()).ugettext
    except DomainError:
        return lambda msgid: msgid  # the registry itself is broken: Spanish, the source, and its start says so


# Click's own words in a help page, as Spanish msgids (click writes them in English).
CLICK_WORDS = {
    "Usage:": N_("Uso:"),
    "Options": N_("Opciones"),
    "Commands": N_("Órdenes"),
    "Arguments": N_("Argumentos"),
    "Show this message and exit.": N_("Muestra esta ayuda y termina."),
    "default": N_("por omisión"),
    "required": N_("obligatorio"),
}
# Commands fieldapp takes from Flask and Flask-Migrate, described in its own words.
BORROWED_COMMANDS = {
    "db": N_("Migraciones de la base de datos: fieldapp db upgrade antes de arrancar una versión nueva."),
    "routes": N_("Muestra las rutas de la aplicación."),
    "shell": N_("Abre un intérprete de Python con la aplicación cargada."),
}
_HELP_EXTRA_RE = re.compile(r"\[(default|required)(?=[:;\]])")


class FieldappHelpFormatter(click.HelpFormatter):
    """Click's help layout, with click's own words in the command line's language too."""

    def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
        translate = _cli_translate()
        super().write_usage(prog, args, prefix if prefix is not None else translate(CLICK_WORDS["Usage:"]) + " ")

    def write_heading(self, heading: str) -> None:
        super().write_heading(_cli_translate()(CLICK_WORDS[heading]) if heading in CLICK_WORDS else heading)

    def write_dl(self, rows: Any, col_max: int = 30, col_spacing: int = 2) -> None:
        translate = _cli_translate()

        def words(text: str) -> str:
            if text in CLICK_WORDS:
                return translate(CLICK_WORDS[text])
            text = text.replace("; required]", f"; {translate(CLICK_WORDS['required'])}]")
            return _HELP_EXTRA_RE.sub(lambda m: "[" + translate(CLICK_WORDS[m.group(1)]), text)

        super().write_dl([(term, words(text)) for term, text in rows], col_max, col_spacing)


class FieldappContext(click.Context):
    formatter_class = FieldappHelpFormatter


class FieldappGroup(FlaskGroup):
    """Flask's group, with each command's help shown in the command line's language (FIELDAPP_LANG)."""

    context_class = FieldappContext

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        return _translate_help(super().get_command(ctx, name))

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        _translate_help(self)
        super().format_help(ctx, formatter)


def _translate_help(command: click.Command | None) -> click.Command | None:
    """Help texts are Spanish msgids (extracted by i18n_catalogs.extract_cli), shown translated."""
    if command is None:
        return command
    translate = _cli_translate()
    if command.name in BORROWED_COMMANDS and command.__dict__.get("_fieldapp_help_source") is None:
        command._fieldapp_help_source = BORROWED_COMMANDS[command.name]  # type: ignore[attr-defined]
    for holder in (command, *(p for p in command.params if isinstance(p, click.Option))):
        source = holder.__dict__.setdefault("_fieldapp_help_source", holder.help)  # the Spanish msgid
        holder.help = translate(source) if source else source
    command.context_class = FieldappContext
    for sub in getattr(command, "commands", {}).values():
        _translate_help(sub)
    return command


@click.group(cls=FieldappGroup, create_app=_make_app, add_default_commands=False, load_dotenv=False)
def main() -> None:
    """fieldapp: informes cifrados y anónimos desde el campo."""


# Flask's own options do not apply: the app is fixed and settings come from FIELDAPP_* variables.
main.params = [p for p in main.params if p.name not in ("env_file", "app", "debug", "version")]
# Flask's own `run` is left out on purpose: its request log prints client addresses.
main.add_command(shell_command)
main.add_command(routes_command)


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
def serve(host: str, port: int, workers: int, threads: int, server: str) -> None:
    """Sirve la aplicación (sin registrar direcciones IP ni agentes de usuario)."""
    from . import server as serving

    _configure_logging()
    address = f"http://{host}:{port}/"
    click.echo(_("fieldapp sirve en %(url)s", url=address))
    _print_setup_link_if_needed(host, port)
    # The start-up checks end here: no transaction of theirs may live on in the server or its workers.
    db.session.remove()
    release_before_fork(db.engine)
    use_gunicorn = server == "gunicorn" or (server == "auto" and serving.gunicorn_available())
    if use_gunicorn:
        serving.serve_with_gunicorn(host, port, workers, threads)
    else:
        serving.serve_with_werkzeug(current_app._get_current_object(), host, port)  # type: ignore[attr-defined]


@click.command("setup-link")
@with_appcontext
def setup_link() -> None:
    """Imprime un nuevo enlace de configuración inicial (invalida el anterior)."""
    if users.admin_exists(db.session):
        raise click.ClickException(_("Ya existe un administrador; la configuración inicial está hecha."))
    _print_setup_link_if_needed("127.0.0.1", 5000)


# ---------------------------------------------------------------- teams


@click.group(cls=AppGroup)
def teams() -> None:
    """Equipos de campo."""


@teams.command("create")
@click.argument("name")
@domain_command
def teams_create(name: str) -> None:
    """Crea un equipo."""
    with writing(db.session):
        team = devices.create_team(db.session, name)
        audit.record(db.session, "cli", "team_created", team=team.name)
        created = team.name
    click.echo(_("Equipo creado: %(name)s", name=created))


@teams.command("list")
def teams_list() -> None:
    """Lista los equipos."""
    for team in devices.list_teams(db.session):
        click.echo(f"{team.id}\t{team.name}\t{team.created_on.isoformat()}")


# ---------------------------------------------------------------- devices


@click.group("devices", cls=AppGroup)
def devices_group() -> None:
    """Teléfonos inscritos y códigos de inscripción."""


@devices_group.command("code")
@click.option("--team", "team_name", required=True, help="Nombre del equipo.")
@click.option("--uses", default=1, show_default=True, type=int, help="Cuántos teléfonos pueden usarlo.")
@click.option("--ttl", "ttl_hours", default=None, type=int, help="Horas de validez (24 por defecto).")
@domain_command
def devices_code(team_name: str, uses: int, ttl_hours: int | None) -> None:
    """Emite un código de inscripción de un solo uso (se imprime solo, en la última línea)."""
    hours = ttl_hours or _config().enroll_code_ttl_hours
    with writing(db.session):
        team = devices.find_team(db.session, team_name)
        code = devices.issue_code(db.session, team, uses=uses, ttl_hours=hours)
        audit.record(db.session, "cli", "enrollment_code_issued", team=team.name, uses=uses, hours=hours)
        team_label = team.name
    click.echo(
        _(
            "Código para el equipo %(team)s, %(uses)s uso(s), válido %(hours)s h:",
            team=team_label,
            uses=uses,
            hours=hours,
        )
    )
    click.echo(code)


@devices_group.command("list")
def devices_list() -> None:
    """Lista los teléfonos: id, equipo, inscripción, última sincronización, revocación."""
    for d in devices.list_devices(db.session):
        last = d.last_sync_on.isoformat() if d.last_sync_on else "-"
        revoked = d.revoked_on.isoformat() if d.revoked_on else "-"
        click.echo(f"{d.id}\t{d.team.name}\t{d.enrolled_on.isoformat()}\t{last}\t{revoked}")


@devices_group.command("revoke")
@click.argument("device_id", type=int)
@domain_command
def devices_revoke(device_id: int) -> None:
    """Desconecta un teléfono: su token deja de valer; sus informes se conservan."""
    with writing(db.session):
        devices.revoke(db.session, device_id)
        audit.record(db.session, "cli", "device_revoked", device=device_id)
    click.echo(_("Dispositivo %(id)s revocado.", id=device_id))


# ---------------------------------------------------------------- users


@click.group("users", cls=AppGroup)
def users_group() -> None:
    """Cuentas de administradores, supervisores y traductores."""


@users_group.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@domain_command
def users_create(username: str, role: str) -> None:
    """Crea una cuenta (pide su frase de paso, o la lee de FIELDAPP_PASSPHRASE)."""
    passphrase = _secret(_("Frase de paso para entrar"), "FIELDAPP_PASSPHRASE", confirm=True)
    account = users.prepare_account(username, role, passphrase, _config().kdf)
    with writing(db.session):
        user = users.add_account(db.session, account)
        audit.record(db.session, "cli", "user_created", username=user.username, role=user.role)
        name, role = user.username, user.role
    click.echo(_("Usuario creado: %(name)s (%(role)s)", name=name, role=role))


# ---------------------------------------------------------------- keys


@click.group("keys", cls=AppGroup)
def keys_group() -> None:
    """Claves de la organización."""


class _RecoveryKit:
    """A recovery kit made before the key is stored and written after: its file is claimed first, so a name
    already taken stops the command before anything changes, and the phrase is shown only for a stored key."""

    def __init__(self, private_der: bytes, kid: str, path: str | None) -> None:
        self.target = Path(path or f"fieldapp-recovery-{kid}.json")
        self.phrase = generate_recovery_phrase()
        self.kit = make_recovery_kit(private_der, self.phrase, _config().kdf)
        try:
            self.fd = os.open(self.target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise click.ClickException(_("Ya existe %(path)s; no se sobrescribe.", path=str(self.target))) from None

    def discard(self) -> None:
        os.close(self.fd)
        self.target.unlink(missing_ok=True)

    def write(self) -> None:
        with os.fdopen(self.fd, "wb") as f:
            f.write(self.kit)
            os.fsync(f.fileno())

    def show(self) -> None:
        click.echo(_("Archivo de recuperación: %(path)s", path=str(self.target)))
        click.echo(_("Frase de recuperación (se muestra una sola vez; escríbala y guárdela fuera de línea):"))
        click.echo(self.phrase)


def _holder(username: str):  # type: ignore[no-untyped-def]
    return users.find_user(db.session, username)


def _store_new_key(  # type: ignore[no-untyped-def]
    user,
    prepared: keys.PreparedKey,
    store: Callable[[], object],
    action: str,
    said: list[str],
    recovery_file: str | None,
    **detail,
) -> None:
    """Store a prepared key as current with `store`; its kit's file is written before anything is said."""
    kit = _RecoveryKit(prepared.private_der, prepared.kid, recovery_file)
    try:
        with writing(db.session):
            store()
            audit.record(db.session, user.username, action, kid=prepared.kid, **detail)
    except BaseException:
        kit.discard()
        raise
    kit.write()  # the key exists now, and so must its kit
    for line in said:
        click.echo(line)
    kit.show()


@keys_group.command("create")
@click.option("--holder", required=True, help="Usuario que guardará la clave, cifrada con su frase de paso.")
@click.option("--recovery-file", default=None, help="Dónde escribir el kit de recuperación.")
@domain_command
def keys_create(holder: str, recovery_file: str | None) -> None:
    """Crea una clave nueva (modo gestionado) y la hace la actual."""
    user = _holder(holder)
    passphrase = _secret(
        _("Frase de paso de la clave para %(name)s", name=user.username), "FIELDAPP_PASSPHRASE", confirm=True
    )
    prepared = keys.prepare_managed_key(user.role, passphrase, _config().kdf)
    said = [_("Clave creada: %(kid)s (actual)", kid=prepared.kid)]
    _store_new_key(
        user, prepared, lambda: keys.store_managed_key(db.session, prepared, user), "key_created", said, recovery_file
    )


@keys_group.command("rotate")
@click.option("--holder", required=True, help="Usuario que guardará la nueva clave.")
@click.option("--recovery-file", default=None, help="Dónde escribir el kit de recuperación.")
@domain_command
def keys_rotate(holder: str, recovery_file: str | None) -> None:
    """Crea una nueva clave actual (pide abrir la actual); las anteriores se conservan para informes antiguos."""
    user = _holder(holder)
    current = _secret(
        _("Frase de paso de la clave actual de %(name)s", name=user.username), "FIELDAPP_CURRENT_PASSPHRASE"
    )
    passphrase = _secret(
        _("Frase de paso de la clave para %(name)s", name=user.username), "FIELDAPP_PASSPHRASE", confirm=True
    )
    try:
        rotation = keys.prepare_rotation(db.session, user, current, passphrase, _config().kdf)
    except keys.WrongKeyPassphrase:
        with writing(db.session):
            users.record_failure(db.session, user.id, "unlock")
        raise
    said = [_("Nueva clave actual: %(kid)s", kid=rotation.key.kid)]
    said += [_("%(name)s la recibirá en su próximo desbloqueo.", name=name) for name in rotation.waiting]
    said += [
        _("%(name)s no podrá leer los informes nuevos hasta que se le entregue la clave (fieldapp keys grant).", name=n)
        for n in rotation.left_out
    ]
    _store_new_key(
        user,
        rotation.key,
        lambda: keys.store_rotation(db.session, user, rotation),
        "key_rotated",
        said,
        recovery_file,
        waiting=rotation.waiting,
        left_out=rotation.left_out,
    )


@keys_group.command("import")
@click.argument("pem_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--holder", default=None, help="Para una clave privada: quién la guarda.")
@domain_command
def keys_import(pem_file: str, holder: str | None) -> None:
    """Importa una clave PEM: privada (modo gestionado) o pública (custodia fuera de línea)."""
    pem = Path(pem_file).read_bytes()
    user = _holder(holder) if holder else None
    passphrase = None
    if user is not None:
        passphrase = _secret(
            _("Frase de paso de la clave para %(name)s", name=user.username), "FIELDAPP_PASSPHRASE", confirm=True
        )
    prepared = keys.prepare_import(pem, user.role if user else None, passphrase, _config().kdf)
    actor = user.username if user else "cli"
    with writing(db.session):
        key = keys.store_import(db.session, prepared, user)
        audit.record(db.session, actor, "key_imported", kid=key.kid, managed=user is not None)
        kid = key.kid
    click.echo(
        _(
            "Clave importada: %(kid)s (%(mode)s, actual)",
            kid=kid,
            mode=_("gestionada") if prepared.managed else _("custodia fuera de línea"),
        )
    )


@keys_group.command("grant")
@click.option("--to", "to_user", required=True, help="Usuario que recibe la clave.")
@click.option("--as", "as_user", required=True, help="Administrador que ya tiene la clave.")
@click.option("--kid", default=None, help="Solo esta clave (por defecto, todas las del administrador).")
@domain_command
def keys_grant(to_user: str, as_user: str, kid: str | None) -> None:
    """Entrega la clave a otro titular, cifrada con la frase de paso de ese titular."""
    granter, grantee = _holder(as_user), _holder(to_user)
    granter_pass = _secret(_("Frase de paso de la clave de %(name)s", name=granter.username), "FIELDAPP_PASSPHRASE")
    grantee_pass = _secret(
        _("Nueva frase de paso de la clave para %(name)s", name=grantee.username),
        "FIELDAPP_NEW_PASSPHRASE",
        confirm=True,
    )
    wrapped = keys.prepare_grant(db.session, granter, granter_pass, grantee, grantee_pass, _config().kdf, kid)
    names = granter.username, grantee.username
    with writing(db.session):
        granted = keys.store_grants(db.session, grantee, wrapped)
        audit.record(db.session, names[0], "key_granted", to=names[1], kids=[k.kid for k in granted])
    for key_id in wrapped.wrapped:
        click.echo(_("Clave %(kid)s entregada a %(name)s", kid=key_id, name=names[1]))


@keys_group.command("recover")
@click.argument("kit_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--holder", required=True, help="Usuario que guardará la clave restaurada.")
@domain_command
def keys_recover(kit_file: str, holder: str) -> None:
    """Restaura una clave desde su archivo y su frase de recuperación."""
    user = _holder(holder)
    phrase = _secret(_("Frase de recuperación (12 palabras)"), "FIELDAPP_RECOVERY_PHRASE")
    passphrase = _secret(
        _("Nueva frase de paso de la clave para %(name)s", name=user.username), "FIELDAPP_PASSPHRASE", confirm=True
    )
    prepared = keys.prepare_recovery(Path(kit_file).read_bytes(), phrase, user.role, passphrase, _config().kdf)
    name = user.username
    with writing(db.session):
        keys.store_recovered(db.session, prepared, user)
        audit.record(db.session, name, "key_recovered", kid=prepared.kid)
    click.echo(_("Clave %(kid)s restaurada para %(name)s", kid=prepared.kid, name=name))


@keys_group.command("list")
def keys_list() -> None:
    """Lista las claves: kid, modo, actual, creada, retirada."""
    for key in keys.list_keys(db.session):
        retired = key.retired_on.isoformat() if key.retired_on else "-"
        current = "current" if key.current else "-"
        click.echo(f"{key.kid}\t{key.mode}\t{current}\t{key.created_on.isoformat()}\t{retired}")


# ---------------------------------------------------------------- export


@click.command("export")
@with_appcontext
@click.option("--as", "as_user", required=True, help="Titular de la clave que descifra.")
@click.option("--format", "fmt", type=click.Choice(list(exports.FORMATS)), default="jsonl", show_default=True)
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False), help="Archivo de salida.")
@domain_command
def export(as_user: str, fmt: str, out_path: str) -> None:
    """Descifra todos los informes a un archivo (nunca a la base de datos ni a la carpeta de instancia)."""
    target = Path(out_path).resolve()
    if target.is_relative_to(_config().instance_path):
        raise click.ClickException(_("No se escriben informes descifrados dentro de la carpeta de instancia."))
    user = _holder(as_user)
    opened = keys.prepare_unlock(
        db.session, user, _secret(_("Frase de paso de la clave"), "FIELDAPP_PASSPHRASE"), _config().kdf
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


@click.group("i18n", cls=AppGroup)
def i18n_group() -> None:
    """Traducciones: idiomas, textos por traducir y su avance."""


@i18n_group.command("update")
def i18n_update() -> None:
    """Extrae los textos a translations/messages.pot y los lleva al catálogo de cada idioma."""
    from . import i18n_catalogs

    catalog = i18n_catalogs.extract_template()
    template = translations_dir() / "messages.pot"
    i18n_catalogs.write_template(catalog, template)
    click.echo(_("%(count)s textos en %(path)s", count=len(catalog), path=str(template)))
    for code in i18n_catalogs.update_catalogs(translations_dir()):
        click.echo(_("Catálogo actualizado: %(code)s", code=code))


@i18n_group.command("add")
@click.argument("code")
@click.option("--name", required=True, help="Nombre del idioma en el propio idioma.")
@click.option("--name-es", default=None, help="Nombre en español (por defecto, el mismo).")
@click.option("--fallback", default="es", show_default=True, help="Cadena de respaldo, separada por comas.")
@click.option("--cldr", default="es_PE", show_default=True, help="Locale de CLDR para fechas y números.")
@click.option("--plural", default="nplurals=2; plural=(n != 1);", show_default=True, help="Plural-Forms.")
def i18n_add(code: str, name: str, name_es: str | None, fallback: str, cldr: str, plural: str) -> None:
    """Añade un idioma (también uno que CLDR no conoce) y crea su catálogo."""
    from . import i18n_catalogs, locales

    entry = locales.LocaleEntry(
        code, name, name_es or name, tuple(f.strip() for f in fallback.split(",") if f.strip()), cldr, plural
    )
    try:
        path = i18n_catalogs.add_language(entry, translations_dir())
    except locales.RegistryError as exc:
        raise click.ClickException(exc.render(_)) from None
    click.echo(_("Idioma %(code)s añadido: %(path)s", code=code, path=str(path)))


@i18n_group.command("compile")
def i18n_compile() -> None:
    """Compila los catálogos: .mo para el servidor y JSON para la aplicación de campo."""
    from . import i18n_catalogs

    refused: list[i18n_catalogs.Refused] = []
    for code in i18n_catalogs.compile_catalogs(translations_dir(), refused):
        click.echo(_("Compilado: %(code)s", code=code))
    for item in refused:
        reason = item.problem.render(_) if isinstance(item.problem, DomainError) else str(item.problem)
        click.echo(_("Omitida (%(code)s) «%(msgid)s»: %(reason)s", code=item.code, msgid=item.msgid, reason=reason))


@i18n_group.command("status")
@click.option("--min", "minimum", type=click.FloatRange(0, 100), default=None, help="Porcentaje mínimo exigido.")
def i18n_status(minimum: float | None) -> None:
    """Avance por idioma: traducidos, dudosos (fuzzy), sin traducir y porcentaje."""
    from . import i18n_catalogs

    rows = i18n_catalogs.coverage(translations_dir())
    headings = (_("idioma"), _("traducidos"), _("dudosos"), _("sin traducir"))  # outside the f-string: extracted
    click.echo(f"{headings[0]:8} {headings[1]:>10} {headings[2]:>8} {headings[3]:>13} {'%':>6}")
    for row in rows:
        click.echo(f"{row.code:8} {row.translated:>10} {row.fuzzy:>8} {row.untranslated:>13} {row.percent:>6.1f}")
    below = [row.code for row in rows if minimum is not None and row.percent < minimum]
    if below:
        raise click.ClickException(_("Por debajo de %(min)s %%: %(codes)s", min=minimum, codes=", ".join(below)))


def register_commands(app: Flask) -> None:
    commands = (serve, setup_link, teams, devices_group, users_group, keys_group, export, audit_group, i18n_group)
    for command in commands:
        app.cli.add_command(command)
