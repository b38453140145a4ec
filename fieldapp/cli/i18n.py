"""`fieldapp i18n`: languages, strings to translate and their progress."""

from __future__ import annotations

import click
from flask.cli import AppGroup
from flask_babel import gettext as _

from ..errors import DomainError
from ..i18n import translations_dir


@click.group("i18n", cls=AppGroup)
def i18n_group() -> None:
    """Traducciones: idiomas, textos por traducir y su avance."""


@i18n_group.command("update")
def i18n_update() -> None:
    """Extrae los textos a translations/messages.pot y los lleva al catálogo de cada idioma."""
    from ..i18n import catalogs

    catalog = catalogs.extract_template()
    template = translations_dir() / "messages.pot"
    catalogs.write_template(catalog, template)
    click.echo(_("%(count)s textos en %(path)s", count=len(catalog), path=str(template)))
    for code in catalogs.update_catalogs(translations_dir()):
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
    from ..i18n import catalogs, locales

    entry = locales.LocaleEntry(
        code, name, name_es or name, tuple(f.strip() for f in fallback.split(",") if f.strip()), cldr, plural
    )
    try:
        path = catalogs.add_language(entry, translations_dir())
    except locales.RegistryError as exc:
        raise click.ClickException(exc.render(_)) from None
    click.echo(_("Idioma %(code)s añadido: %(path)s", code=code, path=str(path)))


@i18n_group.command("compile")
def i18n_compile() -> None:
    """Compila los catálogos: .mo para el servidor y JSON para la aplicación de campo."""
    from ..i18n import catalogs

    refused: list[catalogs.Refused] = []
    for code in catalogs.compile_catalogs(translations_dir(), refused):
        click.echo(_("Compilado: %(code)s", code=code))
    for item in refused:
        reason = item.problem.render(_) if isinstance(item.problem, DomainError) else str(item.problem)
        click.echo(_("Omitida (%(code)s) «%(msgid)s»: %(reason)s", code=item.code, msgid=item.msgid, reason=reason))


@i18n_group.command("status")
@click.option("--min", "minimum", type=click.FloatRange(0, 100), default=None, help="Porcentaje mínimo exigido.")
def i18n_status(minimum: float | None) -> None:
    """Avance por idioma: traducidos, dudosos (fuzzy), sin traducir y porcentaje."""
    from ..i18n import catalogs

    rows = catalogs.coverage(translations_dir())
    headings = (_("idioma"), _("traducidos"), _("dudosos"), _("sin traducir"))  # outside the f-string: extracted
    click.echo(f"{headings[0]:8} {headings[1]:>10} {headings[2]:>8} {headings[3]:>13} {'%':>6}")
    for row in rows:
        click.echo(f"{row.code:8} {row.translated:>10} {row.fuzzy:>8} {row.untranslated:>13} {row.percent:>6.1f}")
    below = [row.code for row in rows if minimum is not None and row.percent < minimum]
    if below:
        raise click.ClickException(_("Por debajo de %(min)s %%: %(codes)s", min=minimum, codes=", ".join(below)))
