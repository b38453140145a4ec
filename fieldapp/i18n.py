"""Locales: which ones the server offers and how a request's locale is chosen."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from flask import Flask, has_request_context, request
from flask_babel import Babel, get_locale

DEFAULT_LOCALE = "es"
TRANSLATIONS_DIR = Path(__file__).resolve().parent.parent / "translations"


@cache
def available_locales() -> list[str]:
    """Spanish (the source) plus every language with a compiled catalog, read once per process."""
    found = sorted(p.parent.parent.name for p in TRANSLATIONS_DIR.glob("*/LC_MESSAGES/messages.mo"))
    return [DEFAULT_LOCALE] + [code for code in found if code != DEFAULT_LOCALE]


def select_locale() -> str:
    """Explicit choice (?lang=), then Accept-Language, then Spanish (also for the CLI)."""
    if not has_request_context():
        return DEFAULT_LOCALE
    offered = available_locales()
    explicit = request.args.get("lang", "")
    if explicit in offered:
        return explicit
    return request.accept_languages.best_match(offered) or DEFAULT_LOCALE


def init_i18n(app: Flask, babel: Babel) -> None:
    from .locales import load_registry

    load_registry()  # a broken language entry stops the start, not the first request that needs it
    app.config["BABEL_DEFAULT_LOCALE"] = DEFAULT_LOCALE
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(TRANSLATIONS_DIR)
    babel.init_app(app, locale_selector=select_locale)
    app.jinja_env.globals["get_locale"] = get_locale
