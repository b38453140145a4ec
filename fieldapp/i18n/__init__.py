"""Which language a request is in, and where its words come from.

The UI language may be one CLDR does not know (Shipibo-Konibo, Asháninka…). Flask-Babel parses whatever
the locale selector returns, so the selector returns the language's CLDR *formatting* locale from the
registry (dates, numbers), and UiLanguageDomain loads the UI language's own catalog, then each language of
its fallback chain, ending in Spanish, the source.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from functools import lru_cache
from pathlib import Path

from babel import support
from babel.dates import format_skeleton
from flask import Flask, current_app, g, has_app_context, has_request_context, request, session
from flask_babel import Babel, Domain, format_decimal, get_locale

from ..config import TRANSLATIONS
from . import locales

DEFAULT_LOCALE = locales.SOURCE


def translations_dir() -> Path:
    if has_app_context():
        return current_app.config["FIELDAPP"].translations_dir
    return Path(os.environ.get("FIELDAPP_TRANSLATIONS") or TRANSLATIONS)  # the command line's help, before the app


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0


def registry() -> dict[str, locales.LocaleEntry]:
    """The registry, validated; read again only when the file changes (`fieldapp i18n add` while serving).
    A change that breaks it while serving is logged and the last good one kept: the site stays up."""
    path = translations_dir() / "locales.json"
    stamp = _mtime(path)
    try:
        entries = _registry_at(path, stamp)
    except locales.RegistryError as exc:
        if path not in _last_good:
            raise  # at start-up: refuse to start
        if (path, stamp) not in _reported:  # once per broken version of the file, not once per request
            _reported.add((path, stamp))
            logging.getLogger(__name__).error("%s Se sigue con el registro anterior.", exc)
        return _last_good[path]
    _last_good[path] = entries
    return entries


_last_good: dict[Path, dict[str, locales.LocaleEntry]] = {}
_reported: set[tuple[Path, int]] = set()


@lru_cache(maxsize=8)
def _registry_at(path: Path, mtime_ns: int) -> dict[str, locales.LocaleEntry]:
    return locales.load_registry(path)


def available_locales() -> list[str]:
    """Every registered language, Spanish (the source) first."""
    return [DEFAULT_LOCALE] + [code for code in registry() if code != DEFAULT_LOCALE]


def language_entries() -> list[locales.LocaleEntry]:
    return [registry()[code] for code in available_locales()]


def ui_language() -> str:
    """Explicit choice (?lang=, then remembered), then the saved choice, then Accept-Language, then Spanish."""
    if not has_request_context():
        return DEFAULT_LOCALE
    if "ui_language" in g:
        return g.ui_language
    offered = registry()
    explicit = request.args.get("lang", "")
    if explicit in offered:
        chosen = explicit
        if request.blueprint == "dashboard":  # the dashboard remembers it; the phone keeps its own, no cookie
            session["lang"] = explicit
    elif session.get("lang") in offered:
        chosen = session["lang"]
    else:
        chosen = request.accept_languages.best_match(list(offered)) or DEFAULT_LOCALE
    g.ui_language = chosen
    return chosen


def select_locale() -> str:
    """The formatting locale: one CLDR has, from the UI language's registry entry."""
    return registry()[ui_language()].cldr


def translations_for(code: str) -> support.NullTranslations:
    """The language's compiled catalog, then each one of its fallback chain; reloaded when a .mo changes
    (the translator page recompiles while the server runs, in every worker process)."""
    directory = translations_dir()
    chain = (code, *registry()[code].fallback)
    stamps = tuple(_mtime(directory / step / "LC_MESSAGES" / "messages.mo") for step in chain)
    return _translations_at(directory, chain, stamps)


@lru_cache(maxsize=32)
def _translations_at(directory: Path, chain: tuple[str, ...], stamps: tuple[int, ...]) -> support.NullTranslations:
    loaded = [support.Translations.load(str(directory), [step]) for step in chain]
    found = [t for t in loaded if isinstance(t, support.Translations)]
    merged = found[0] if found else support.NullTranslations()
    for fallback in found[1:]:
        merged.add_fallback(fallback)
    return merged


def cli_language() -> str:
    """The command line's language: FIELDAPP_LANG when it names a registered language, else Spanish (the
    system locale is not used: servers often default to English where the team reads Spanish)."""
    wanted = os.environ.get("FIELDAPP_LANG", "")
    return wanted if wanted in registry() else DEFAULT_LOCALE


class UiLanguageDomain(Domain):
    def get_translations(self):  # type: ignore[no-untyped-def]
        if has_request_context():
            if "ui_translations" not in g:  # files checked once per request, not once per string
                g.ui_translations = translations_for(ui_language())
            return g.ui_translations
        if has_app_context():  # a `fieldapp` command
            return translations_for(cli_language())
        return support.NullTranslations()


def month_name(value: str) -> str:
    """ "2026-11" as the language's CLDR locale writes a month ("noviembre de 2026")."""
    return month_in(value, get_locale())


def month_in(value: str, locale: object) -> str:
    try:
        month = dt.date(int(value[:4]), int(value[5:7]), 1)
    except (ValueError, TypeError):
        return value
    return format_skeleton("yMMMM", month, locale=locale)


def init_i18n(app: Flask, babel: Babel) -> None:
    # A broken language entry stops the start (strictly: not the last good registry a running one keeps).
    locales.load_registry(app.config["FIELDAPP"].translations_dir / "locales.json")
    with app.app_context():
        app.config["BABEL_DEFAULT_LOCALE"] = registry()[DEFAULT_LOCALE].cldr
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(app.config["FIELDAPP"].translations_dir)
    babel.init_app(app, locale_selector=select_locale)
    babel.domain_instance = UiLanguageDomain()
    # Numbers through the language's CLDR locale, as dates are (Flask-Babel's dateformat filter).
    app.jinja_env.filters["number"] = format_decimal
    app.jinja_env.filters["percent_of_one"] = lambda share: format_decimal(share * 100, format="#,##0.0")
    app.jinja_env.filters["month"] = month_name
    app.jinja_env.globals["ui_language"] = ui_language
    app.jinja_env.globals["ui_direction"] = lambda: registry()[ui_language()].direction
