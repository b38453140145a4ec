"""The translation catalogs: extracting every user-visible string into one template (translations/messages.pot).

Sources: Python and Jinja (gettext, `_`, `N_`), the field app's `t()` calls, and the report form
definitions' titles, labels, hints and choices. Spanish is the source language: msgids are Spanish.
"""

from __future__ import annotations

import ast
import inspect
import io
import json
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir, extract_python
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import denormalize, read_po, write_po

from ..errors import N_, Invalid
from . import locales
from .checks import check_translation, entry_of, msgid_of
from .files import write_atomically

try:
    import fcntl
except ImportError:  # Windows: one server process, so the thread lock alone is enough
    fcntl = None  # type: ignore[assignment]

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "translations"
TEMPLATE = TRANSLATIONS / "messages.pot"
KEYWORDS = {"_": None, "gettext": None, "N_": None, "ngettext": (1, 2), "lazy_gettext": None, "t": None, "tn": (1, 2)}
FORM_TEXT_KEYS = ("title", "label", "hint")


def extract_form(fileobj: IO[bytes], keywords: Any, comment_tags: Any, options: Any) -> Iterator[tuple]:
    """Babel extractor for report form definitions: every title, label and hint (place names are proper
    nouns and stay as they are)."""
    text = fileobj.read().decode("utf-8")
    definition = json.loads(text)

    def line_of(message: str) -> int:
        position = text.find(json.dumps(message, ensure_ascii=False))
        return text.count("\n", 0, position) + 1 if position >= 0 else 1

    form = f"Formulario «{definition.get('title', definition.get('id'))}»"

    def where(key: str, holder: dict, parents: list[dict]) -> str:
        """Where a text stands, in the words a translator reads the form in (the question it belongs to)."""
        field = next((p for p in reversed(parents) if "type" in p and "label" in p), None)
        section = next((p for p in reversed(parents) if "fields" in p), None)
        if holder is definition:
            return f"{form}: título"
        if "fields" in holder:
            return f"{form}: título de sección"
        if "type" in holder and key == "label":
            return f"{form}: pregunta de la sección «{section['title'] if section else ''}»"
        if "type" in holder and key == "hint":
            return f"{form}: ayuda de la pregunta «{holder.get('label', '')}»"
        if field is not None:
            return f"{form}: respuesta posible a «{field['label']}»"
        return f"{form}: {key}"

    def walk(node: Any, parents: list[dict]) -> Iterator[tuple]:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "places":
                    continue
                if key in FORM_TEXT_KEYS and isinstance(value, str):
                    yield line_of(value), "_", value, [where(key, node, parents)]
                else:
                    yield from walk(value, [*parents, node])
        elif isinstance(node, list):
            for item in node:
                yield from walk(item, parents)

    yield from walk(definition, [])


def extract_cli(fileobj: IO[bytes], keywords: Any, comment_tags: Any, options: Any) -> Iterator[tuple]:
    """Babel extractor for the command line: what the Python extractor finds, plus the help click shows,
    each command's docstring and each option's help= text."""
    source = fileobj.read()
    yield from extract_python(io.BytesIO(source), keywords, comment_tags, options)
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef) and any(_is_click_command(d) for d in node.decorator_list):
            help_text = ast.get_docstring(node)  # cleaned as click cleans it, so the msgid matches
            if help_text:
                yield node.lineno, "_", help_text, ["help of a fieldapp command"]
        elif isinstance(node, ast.Call):
            for keyword in node.keywords:
                value = keyword.value
                if keyword.arg == "help" and isinstance(value, ast.Constant) and isinstance(value.value, str):
                    yield value.lineno, "_", inspect.cleandoc(value.value), ["help of a fieldapp option"]


def _is_click_command(decorator: ast.expr) -> bool:
    func = decorator.func if isinstance(decorator, ast.Call) else decorator
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    return name in ("command", "group")


def extract_template(project: str = "fieldapp", version: str = "1") -> Catalog:
    with open(ROOT / "babel.cfg") as mapping:
        method_map, options_map = parse_mapping_cfg(mapping)
    catalog = Catalog(
        project=project,
        version=version,
        msgid_bugs_address=None,
        copyright_holder="fieldapp",
        header_comment=TEMPLATE_HEADER,
        charset="utf-8",
        fuzzy=False,
    )
    for filename, lineno, message, comments, context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=KEYWORDS, strip_comment_tags=True
    ):
        if not message or (isinstance(message, tuple) and not message[0]):
            continue
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return catalog


TEMPLATE_HEADER = (
    "# fieldapp's user-visible texts, in Spanish, the source language.\n"
    "# Made by `fieldapp i18n update` from the code and the form definitions: do not edit by hand."
)
_CREATION_DATE_RE = re.compile(rb'^"POT-Creation-Date: .*"$', re.MULTILINE)


def write_template(catalog: Catalog, path: Path | None = None) -> None:
    """No line numbers, and the old creation date kept when no string changed: the template changes only
    when the texts do."""
    path = path or TEMPLATE
    buffer = io.BytesIO()
    write_po(buffer, catalog, omit_header=False, sort_output=True, include_lineno=False, width=100)
    data = buffer.getvalue()
    if path.exists() and _CREATION_DATE_RE.sub(b"", path.read_bytes()) == _CREATION_DATE_RE.sub(b"", data):
        return
    write_atomically(path, data)


def template_ids(path: Path | None = None) -> set[str]:
    return {msgid_of(m) for m in read_catalog(path or TEMPLATE) if m.id}


# ---------------------------------------------------------------- catalogs per language


def catalog_path(code: str, translations: Path | None = None) -> Path:
    return (translations or TRANSLATIONS) / code / "LC_MESSAGES" / "messages.po"


def app_catalog_path(code: str, translations: Path | None = None) -> Path:
    """The field app's compiled catalog (JSON), a build product beside the server's .mo."""
    return (translations or TRANSLATIONS) / code / "LC_MESSAGES" / "messages.json"


def read_catalog(path: Path) -> Catalog:
    data = path.read_bytes()
    catalog = read_po(io.BytesIO(data))
    for msgid, previous in previous_msgids(data.decode("utf-8", "replace")).items():
        message = catalog.get(msgid)
        if message is not None and message.fuzzy:
            message.previous_id = [previous]
    return catalog


def previous_msgids(text: str) -> dict[str, str]:
    """msgid -> the Spanish a fuzzy translation was written for (`#| msgid`, which Babel's reader drops;
    kept so that the translator page and Poedit can show what changed)."""
    found: dict[str, str] = {}
    for block in re.split(r"\n\s*\n", text):
        lines = block.splitlines()
        previous = _po_string(lines, "#| msgid ", "#| ")
        current = _po_string(lines, "msgid ", "")
        if previous and current:
            found[current] = previous
    return found


def _po_string(lines: list[str], keyword: str, prefix: str) -> str | None:
    """The string after `keyword` in a .po block, continuation lines included."""
    for index, line in enumerate(lines):
        if line.startswith(keyword):
            parts = [line[len(keyword) :]]
            for following in lines[index + 1 :]:
                if not following.startswith(prefix + '"'):
                    break
                parts.append(following[len(prefix) :])
            return denormalize("\n".join(parts))
    return None


def po_bytes(catalog: Catalog) -> bytes:
    buffer = io.BytesIO()
    # include_previous: a fuzzy match keeps the Spanish it was written for (#| msgid), which Poedit shows.
    write_po(buffer, catalog, sort_output=True, include_lineno=False, width=100, include_previous=True)
    return buffer.getvalue()


def mo_bytes(catalog: Catalog) -> bytes:
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    return buffer.getvalue()


@contextmanager
def catalogs_locked(translations: Path | None = None) -> Iterator[None]:
    """One writer at a time (two translators saving, or a save beside `fieldapp i18n compile`)."""
    translations = translations or TRANSLATIONS
    with _threads:
        if fcntl is None:
            yield
            return
        fd = os.open(translations / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock


_threads = threading.Lock()


def with_plural(catalog: Catalog, entry: locales.LocaleEntry) -> Catalog:
    """The language's own plural rule, from the registry: CLDR may not know the language at all."""
    catalog._num_plurals = entry.nplurals
    catalog._plural_expr = entry.plural_expression
    return catalog


def add_language(entry: locales.LocaleEntry, translations: Path | None = None) -> Path:
    """Register a language and create its empty catalog from the template."""
    translations = translations or TRANSLATIONS
    with catalogs_locked(translations):
        registry = locales.load_registry(translations / "locales.json")
        if entry.code in registry:
            raise locales.RegistryError(N_("El idioma «%(code)s» ya está registrado."), code=entry.code)
        registry[entry.code] = entry
        locales.save_registry(registry, translations / "locales.json")  # validated before it is written
        template = read_catalog(translations / "messages.pot")
        catalog = Catalog(  # CLDR need not know the code
            locale=entry.code,
            project="fieldapp",
            version="1",
            copyright_holder="fieldapp",
            msgid_bugs_address=None,
            language_team=entry.name_es,
            last_translator="—",
            header_comment=(
                f"# fieldapp in {entry.name_es} ({entry.code}), translated from Spanish.\n"
                "# An uncertain translation is marked fuzzy and is not shown until a translator confirms it."
            ),
            fuzzy=False,
        )
        catalog.update(template)
        path = catalog_path(entry.code, translations)
        write_atomically(path, po_bytes(with_plural(catalog, entry)))
    return path


def update_catalogs(translations: Path | None = None) -> list[str]:
    """Merge the template into every language's catalog (new strings empty, changed ones fuzzy)."""
    translations = translations or TRANSLATIONS
    updated = []
    with catalogs_locked(translations):
        template = read_catalog(translations / "messages.pot")
        for code, entry in locales.load_registry(translations / "locales.json").items():
            path = catalog_path(code, translations)
            if code == locales.SOURCE or not path.exists():
                continue
            catalog = read_catalog(path)
            catalog.update(template, no_fuzzy_matching=False)
            # A string gone from the code keeps its translation as obsolete (#~) for reuse; an empty one goes.
            catalog.obsolete = {
                key: m for key, m in catalog.obsolete.items() if is_translated(m) and key not in catalog
            }
            write_atomically(path, po_bytes(with_plural(catalog, entry)))
            updated.append(code)
    return updated


def _confirmed(catalog: Catalog, code: str) -> dict[str, object]:
    """msgid -> translation, for confirmed (not fuzzy) translations; a plural one keeps its language, whose
    rule picks the form."""
    confirmed: dict[str, object] = {}
    for message in catalog:
        if not message.id or message.fuzzy:
            continue
        if isinstance(message.id, str):
            if message.string:
                confirmed[message.id] = message.string
        elif all(message.string):
            confirmed[message.id[0]] = {"lang": code, "forms": list(message.string)}
    return confirmed


# The phone shows only these strings: its own, the forms', and those of its shell page and looks.
APP_SOURCES = ("static/", "fieldapp/forms/", "fieldapp/templates/app.html", "fieldapp/looks.py")


def app_msgids(template: Catalog) -> set[str]:
    """The msgids the field app shows; the dashboard's and the server's stay out of the phone's download."""
    return {msgid_of(m) for m in template if m.id and any(path.startswith(APP_SOURCES) for path, _ in m.locations)}


def app_catalog(
    code: str, registry: dict[str, locales.LocaleEntry], confirmed: dict[str, dict], wanted: set[str]
) -> dict:
    """The field app's catalog for one language: its words, then its fallback chain's, and the plural
    rule of every language in the chain."""
    entry = registry[code]
    chain = (code, *entry.fallback)
    messages: dict[str, object] = {}
    for step in reversed(chain):  # the nearest language wins
        messages.update((msgid, text) for msgid, text in confirmed.get(step, {}).items() if msgid in wanted)
    formats = list(dict.fromkeys(registry[step].cldr for step in chain))
    return {
        "code": code,
        "cldr": entry.cldr,
        "formats": formats,  # a phone's browser may lack the first one's data: it uses the first it has
        "direction": entry.direction,
        "plurals": {step: registry[step].plural_expression for step in chain},
        "messages": messages,
    }


@dataclass(frozen=True)
class Refused:
    """A confirmed translation left out of the compiled catalogs: shown, it would break a page."""

    code: str
    msgid: str
    problem: Exception  # the check's Invalid, with its own words


def compile_catalogs(translations: Path | None = None, refused: list[Refused] | None = None) -> list[str]:
    """Each catalog as .mo for the server and as JSON for the field app, the fallback chain applied."""
    translations = translations or TRANSLATIONS
    with catalogs_locked(translations):
        return compile_unlocked(translations, refused)


def compile_unlocked(translations: Path, refused: list[Refused] | None = None) -> list[str]:
    """compile_catalogs for a caller already holding the catalogs' lock."""
    registry = locales.load_registry(translations / "locales.json")
    wanted = app_msgids(read_catalog(translations / "messages.pot"))
    confirmed = {}
    for code, entry in registry.items():
        path = catalog_path(code, translations)
        if path.exists():
            catalog = with_plural(read_catalog(path), entry)
            for problem in _set_aside_broken(catalog, entry):
                if refused is not None:
                    refused.append(problem)
            confirmed[code] = _confirmed(catalog, code)
            write_atomically(path.with_suffix(".mo"), mo_bytes(catalog))
    for code in registry:
        data = json.dumps(app_catalog(code, registry, confirmed, wanted), ensure_ascii=False, sort_keys=True)
        write_atomically(app_catalog_path(code, translations), data.encode("utf-8"))
    return list(registry)


def _set_aside_broken(catalog: Catalog, entry: locales.LocaleEntry) -> list[Refused]:
    """A translation edited outside the translator page (Poedit, by hand) that fails its checks is
    compiled as not confirmed, so Spanish shows in its place rather than a broken page."""
    refused = []
    for message in catalog:
        if not message.id or message.fuzzy or not is_translated(message):
            continue
        found = entry_of(message)
        try:
            check_translation(found, list(found.strings), entry)
        except Invalid as exc:
            message.flags.add("fuzzy")  # in this compiled copy only; the .po file is left as it is
            refused.append(Refused(entry.code, found.msgid, exc))
    return refused


def is_translated(message: Message) -> bool:
    """Every form written (a plural message has one per plural form of the language)."""
    strings = message.string if isinstance(message.string, (tuple, list)) else (message.string,)
    return bool(strings) and all(strings)


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
        messages = [m for m in read_catalog(path) if m.id] if path.exists() else []
        translated = sum(1 for m in messages if is_translated(m) and not m.fuzzy)
        fuzzy = sum(1 for m in messages if m.fuzzy)
        rows.append(Coverage(code, translated, fuzzy, total - translated - fuzzy))
    return rows
