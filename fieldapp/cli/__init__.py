"""The `fieldapp` command: serve, set up, and manage teams, devices, users, keys and exports."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import click
from flask import Flask
from flask.cli import FlaskGroup, routes_command, shell_command

from .. import create_app
from ..errors import N_, DomainError
from ..i18n import cli_language, translations_for


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
    """Help texts are Spanish msgids (extracted by catalogs.extract_cli), shown translated."""
    if command is None:
        return command
    translate = _cli_translate()
    if command.name in BORROWED_COMMANDS and command.__dict__.get("_fieldapp_help_source") is None:
        command._fieldapp_help_source = BORROWED_COMMANDS[command.name]  # type: ignore[attr-defined]
        command.short_help = None  # Flask's own English summary would win over the translated help in a listing
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


def _add_serverless_commands() -> None:
    from .decrypt import decrypt, report  # run where there is no server: they never load the app
    from .keys import keys_group  # its `sign` runs where the organisation key is; the rest load the app

    main.add_command(decrypt)
    main.add_command(report)
    main.add_command(keys_group)


_add_serverless_commands()


def register_commands(app: Flask) -> None:
    from .audit import audit_group
    from .bundle import bundle_group
    from .devices import devices_group
    from .export import export
    from .i18n import i18n_group
    from .keys import keys_group
    from .relay import relay_group, relays_group
    from .serve import serve, setup_link
    from .teams import teams_group
    from .tls import tls_group
    from .users import users_group

    commands = (
        serve,
        setup_link,
        teams_group,
        devices_group,
        users_group,
        keys_group,
        export,
        bundle_group,
        audit_group,
        i18n_group,
        tls_group,
        relay_group,
        relays_group,
    )
    for command in commands:
        app.cli.add_command(command)
