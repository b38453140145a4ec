"""Which language a request is in, and where its words come from.

The UI language may be one CLDR does not know (Shipibo-Konibo, Asháninka…). Flask-Babel parses whatever
the locale selector returns, so the selector returns the language's CLDR *formatting* locale from the
registry (dates, numbers), and UiLanguageDomain loads the UI language's own catalog, then each language of
its fallback chain, ending in Spanish, the source.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from babel import support
from flask import Flask, g, has_request_context, request, session
from flask_babel import Babel, Domain

from . import locales

DEFAULT_LOCALE = locales.SOURCE
TRANSLATIONS_DIR = Path(__file__).resolve().parent.parent / "translations"


@cache
def registry() -> dict[str, locales.LocaleEntry]:
    """The registry, read and validated once per process (languages change with a release)."""
    return locales.load_registry(TRANSLATIONS_DIR / "locales.json")


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
        if not request.path.startswith("/api/"):  # people's pages remember it; the device API stays stateless
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


class UiLanguageDomain(Domain):
    def get_translations(self):  # type: ignore[no-untyped-def]
        if not has_request_context():
            return support.NullTranslations()
        code = ui_language()
        if code not in self.cache:
            chain = [code, *registry()[code].fallback]
            loaded = [support.Translations.load(str(TRANSLATIONS_DIR), [step]) for step in chain]
            found = [t for t in loaded if isinstance(t, support.Translations)]
            merged = found[0] if found else support.NullTranslations()
            for fallback in found[1:]:
                merged.add_fallback(fallback)
            self.cache[code] = merged
        return self.cache[code]


def init_i18n(app: Flask, babel: Babel) -> None:
    registry.cache_clear()
    registry()  # a broken language entry stops the start, not the first request that needs it
    app.config["BABEL_DEFAULT_LOCALE"] = registry()[DEFAULT_LOCALE].cldr
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(TRANSLATIONS_DIR)
    babel.init_app(app, locale_selector=select_locale)
    babel.domain_instance = UiLanguageDomain()
    app.jinja_env.globals["ui_language"] = ui_language
