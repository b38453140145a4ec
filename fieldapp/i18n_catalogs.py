"""The translation catalogs: extracting every user-visible string into one template (translations/messages.pot).

Sources: Python and Jinja (gettext, `_`, `N_`), the field app's `t()` calls, and the report form
definitions' titles, labels, hints and choices. Spanish is the source language: msgids are Spanish.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from . import locales
from .errors import N_

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "translations"
TEMPLATE = TRANSLATIONS / "messages.pot"
KEYWORDS = {"_": None, "gettext": None, "N_": None, "ngettext": (1, 2), "lazy_gettext": None, "t": None}
FORM_TEXT_KEYS = ("title", "label", "hint")


def extract_form(fileobj: IO[bytes], keywords: Any, comment_tags: Any, options: Any) -> Iterator[tuple]:
    """Babel extractor for report form definitions: every title, label and hint (place names are proper
    nouns and stay as they are)."""
    text = fileobj.read().decode("utf-8")
    definition = json.loads(text)

    def line_of(message: str) -> int:
        position = text.find(json.dumps(message, ensure_ascii=False))
        return text.count("\n", 0, position) + 1 if position >= 0 else 1

    def walk(node: Any, path: str) -> Iterator[tuple]:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "places":
                    continue
                if key in FORM_TEXT_KEYS and isinstance(value, str):
                    yield line_of(value), "_", value, [f"form {definition.get('id')}: {path}{key}"]
                else:
                    yield from walk(value, f"{path}{key}.")
        elif isinstance(node, list):
            for item in node:
                yield from walk(item, path)

    yield from walk(definition, "")


def extract_template(project: str = "fieldapp", version: str = "1") -> Catalog:
    with open(ROOT / "babel.cfg") as mapping:
        method_map, options_map = parse_mapping_cfg(mapping)
    catalog = Catalog(project=project, version=version, msgid_bugs_address=None, charset="utf-8", fuzzy=False)
    for filename, lineno, message, comments, context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=KEYWORDS, strip_comment_tags=True
    ):
        if not message or (isinstance(message, tuple) and not message[0]):
            continue
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return catalog


def write_template(catalog: Catalog, path: Path | None = None) -> None:
    path = path or TRANSLATIONS / "messages.pot"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as out:
        # No creation date and no line numbers: the template changes only when the strings change.
        write_po(out, catalog, omit_header=False, sort_output=True, include_lineno=False, width=100)


def template_ids(path: Path | None = None) -> set[str]:
    with open(path or TRANSLATIONS / "messages.pot", "rb") as handle:
        return {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(handle) if m.id}


# ---------------------------------------------------------------- catalogs per language

STATIC_CATALOGS = ROOT / "static" / "i18n"


def catalog_path(code: str, translations: Path | None = None) -> Path:
    return (translations or TRANSLATIONS) / code / "LC_MESSAGES" / "messages.po"


def _read(path: Path) -> Catalog:
    with open(path, "rb") as handle:
        return read_po(handle)


def _write(catalog: Catalog, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as out:
        write_po(out, catalog, sort_output=True, include_lineno=False, width=100)


def _with_plural(catalog: Catalog, entry: locales.LocaleEntry) -> Catalog:
    """The language's own plural rule, from the registry: CLDR may not know the language at all."""
    nplurals, expr = locales._PLURAL_RE.match(entry.plural).groups()
    catalog._num_plurals = int(nplurals)
    catalog._plural_expr = expr
    return catalog


def add_language(entry: locales.LocaleEntry, translations: Path | None = None) -> Path:
    """Register a language and create its empty catalog from the template."""
    translations = translations or TRANSLATIONS
    registry = locales.load_registry(translations / "locales.json")
    if entry.code in registry:
        raise locales.RegistryError(N_("El idioma «%(code)s» ya está registrado."), code=entry.code)
    registry[entry.code] = entry
    locales.save_registry(registry, translations / "locales.json")  # validated before it is written
    template = _read(translations / "messages.pot")
    catalog = Catalog(locale=entry.code, project="fieldapp", fuzzy=False)  # CLDR need not know the code
    catalog.update(template)
    path = catalog_path(entry.code, translations)
    _write(_with_plural(catalog, entry), path)
    return path


def update_catalogs(translations: Path | None = None) -> list[str]:
    """Merge the template into every language's catalog (new strings empty, changed ones fuzzy)."""
    translations = translations or TRANSLATIONS
    template = _read(translations / "messages.pot")
    updated = []
    for code, entry in locales.load_registry(translations / "locales.json").items():
        path = catalog_path(code, translations)
        if code == locales.SOURCE or not path.exists():
            continue
        catalog = _read(path)
        catalog.update(template, no_fuzzy_matching=False)
        _write(_with_plural(catalog, entry), path)
        updated.append(code)
    return updated


def _confirmed(catalog: Catalog) -> dict[str, str]:
    """msgid -> translation, for confirmed (not fuzzy) singular translations."""
    return {m.id: m.string for m in catalog if m.id and isinstance(m.id, str) and m.string and not m.fuzzy}


def compile_catalogs(translations: Path | None = None, static_catalogs: Path | None = None) -> list[str]:
    """Each catalog as .mo for the server and as JSON for the field app, the fallback chain applied."""
    translations = translations or TRANSLATIONS
    static_catalogs = static_catalogs or STATIC_CATALOGS
    registry = locales.load_registry(translations / "locales.json")
    static_catalogs.mkdir(parents=True, exist_ok=True)
    confirmed = {}
    for code in registry:
        path = catalog_path(code, translations)
        if path.exists():
            catalog = _read(path)
            confirmed[code] = _confirmed(catalog)
            with open(path.with_suffix(".mo"), "wb") as out:
                write_mo(out, catalog, use_fuzzy=False)
    compiled = []
    for code, entry in registry.items():
        merged: dict[str, str] = {}
        for step in reversed((code, *entry.fallback)):  # the nearest language wins
            merged.update(confirmed.get(step, {}))
        (static_catalogs / f"{code}.json").write_text(json.dumps(merged, ensure_ascii=False, sort_keys=True), "utf-8")
        compiled.append(code)
    return compiled


@dataclass(frozen=True)
class Coverage:
    code: str
    translated: int
    fuzzy: int
    untranslated: int

    @property
    def percent(self) -> float:
        total = self.translated + self.fuzzy + self.untranslated
        return 100.0 * self.translated / total if total else 100.0


def coverage(translations: Path | None = None) -> list[Coverage]:
    """Per language: confirmed, fuzzy (not shown until confirmed) and untranslated strings."""
    translations = translations or TRANSLATIONS
    total = len(template_ids(translations / "messages.pot"))
    rows = []
    for code in locales.load_registry(translations / "locales.json"):
        path = catalog_path(code, translations)
        if code == locales.SOURCE:
            rows.append(Coverage(code, total, 0, 0))  # the source language is its own translation
            continue
        messages = [m for m in _read(path) if m.id] if path.exists() else []
        translated = sum(1 for m in messages if m.string and not m.fuzzy)
        fuzzy = sum(1 for m in messages if m.fuzzy)
        rows.append(Coverage(code, translated, fuzzy, total - translated - fuzzy))
    return rows
