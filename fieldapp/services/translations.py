"""The translator page's work on the catalogs: what is left to translate, and saving one translation.

A saved translation is checked before anything is written (its placeholders match the Spanish source, it
adds no markup, the catalog still compiles), then the .po file is written and every catalog recompiled,
all under the catalogs' lock, so two translators saving at once both keep their work.
"""

from __future__ import annotations

import contextlib
import gettext
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from babel import support
from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import read_po

from .. import i18n_catalogs, locales
from ..errors import N_, Invalid, NotFound, Unavailable

MAX_CHARS = 4000
# %(name)s, %(name)d, %s: Python's formatting; {name}: the form's and JavaScript's own.
_PLACEHOLDER_RE = re.compile(r"%\(\w+\)[sdif]|%[sdif]|\{\w*\}")
_MARKUP_RE = re.compile(r"[<>]")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
SHOWN = ("pending", "fuzzy", "untranslated", "translated", "all")
COUNT_PLACEHOLDERS = {"%(num)s", "%(count)s", "%(num)d", "%(count)d"}


@dataclass(frozen=True)
class Entry:
    msgid: str
    msgid_plural: str | None
    context: str | None
    strings: tuple[str, ...]  # the translation; one per plural form for a plural message
    fuzzy: bool
    places: tuple[str, ...]  # the files it appears in
    notes: tuple[str, ...]  # where in a file (e.g. which question of the form)
    previous: str | None = None  # for a fuzzy match: the Spanish text the translation was written for

    @property
    def state(self) -> str:
        if not any(self.strings):
            return "untranslated"
        return "fuzzy" if self.fuzzy else "translated"


def entry_of(message: Message) -> Entry:
    plural = not isinstance(message.id, str)
    strings = tuple(message.string) if plural else (message.string or "",)
    return Entry(
        message.id[0] if plural else message.id,
        message.id[1] if plural else None,
        message.context,
        tuple(s or "" for s in strings),
        message.fuzzy,
        tuple(sorted({path for path, _ in message.locations})),
        tuple(message.auto_comments),
        _previous(message),
    )


def _previous(message: Message) -> str | None:
    previous = message.previous_id
    if not previous:
        return None
    return previous if isinstance(previous, str) else previous[0]


def _language(registry: dict[str, locales.LocaleEntry], code: str) -> locales.LocaleEntry:
    if code not in registry:
        raise NotFound(N_("El idioma «%(code)s» no está registrado."), code=code)
    if code == locales.SOURCE:
        raise Invalid(N_("El español es el idioma de origen: sus textos se cambian en el código, no aquí."))
    return registry[code]


def _catalog(translations: Path, code: str) -> Catalog:
    path = i18n_catalogs.catalog_path(code, translations)
    if not path.exists():
        raise NotFound(N_("El idioma «%(code)s» no tiene catálogo todavía."), code=code)
    return i18n_catalogs.read_catalog(path)


def list_entries(translations: Path, code: str, shown: str = "pending", query: str = "") -> list[Entry]:
    """The language's strings in the order of the catalog: pending (untranslated or fuzzy) by default."""
    _language(locales.load_registry(translations / "locales.json"), code)
    wanted = {"pending": {"untranslated", "fuzzy"}, "all": {"untranslated", "fuzzy", "translated"}}.get(shown, {shown})
    needle = query.casefold().strip()
    entries = []
    for message in _catalog(translations, code):
        if not message.id:
            continue
        entry = entry_of(message)
        haystack = " ".join((entry.msgid, entry.msgid_plural or "", *entry.strings)).casefold()
        if entry.state in wanted and needle in haystack:
            entries.append(entry)
    return entries


def find_entry(translations: Path, code: str, msgid: str, context: str | None = None) -> Entry | None:
    message = _catalog(translations, code).get(msgid, context=context or None)
    return entry_of(message) if message is not None and msgid else None


def plural_examples(language: locales.LocaleEntry) -> list[list[int]]:
    """For each plural form, the first counts that use it: what a translator needs to write it."""
    rule = gettext.c2py(language.plural_expression)
    examples: list[list[int]] = [[] for _ in range(language.nplurals)]
    for n in range(0, 1001):
        form = rule(n)
        if len(examples[form]) < 4:
            examples[form].append(n)
    return examples


class _AnyValues(dict):
    def __missing__(self, key: str) -> int:
        return 1


def formats_cleanly(text: str) -> bool:
    """Whether Python's % formatting (which the pages apply, even with no values) accepts the text."""
    try:
        text % _AnyValues()
    except (ValueError, TypeError, KeyError):
        return False
    return True


def placeholders(text: str) -> set[str]:
    return set(_PLACEHOLDER_RE.findall(text))


def check_translation(entry: Entry, strings: list[str], language: locales.LocaleEntry) -> list[str]:
    """The translation as it will be stored; raises Invalid on one that would break a page or lose a value."""
    nplurals = language.nplurals
    expected_count = nplurals if entry.msgid_plural is not None else 1
    if len(strings) != expected_count:
        raise Invalid(N_("Se esperaban %(count)s formas de la traducción."), count=expected_count)
    cleaned = [s.replace("\r\n", "\n").replace("\r", "\n") for s in strings]
    filled = [s for s in cleaned if s.strip()]
    if filled and len(filled) != len(cleaned):
        raise Invalid(N_("Escriba todas las formas de plural, o ninguna."))
    for text in filled:
        if len(text) > MAX_CHARS:
            raise Invalid(N_("La traducción es demasiado larga (máximo %(max)s caracteres)."), max=MAX_CHARS)
        if _CONTROL_RE.search(text):
            raise Invalid(N_("La traducción contiene caracteres de control."))
        source_text = entry.msgid if entry.msgid_plural is None else entry.msgid + entry.msgid_plural
        if _MARKUP_RE.search(text) and not _MARKUP_RE.search(source_text):
            raise Invalid(N_("La traducción no puede llevar «<» ni «>»: las páginas los leerían como código."))
        if formats_cleanly(source_text) and not formats_cleanly(text):
            raise Invalid(
                N_("Un signo de porcentaje suelto rompería la página: escriba dos seguidos para mostrar uno.")
            )
    source = placeholders(entry.msgid)
    if entry.msgid_plural is None:
        if filled and placeholders(filled[0]) != source:
            raise _placeholder_error(source)
    elif filled:
        # Only a form used for the count 1 alone may leave the number out ("un informe"); none may drop
        # another value.
        source |= placeholders(entry.msgid_plural)
        counted = {form for form, counts in enumerate(plural_examples(language)) if counts != [1]}
        for index, text in enumerate(filled):
            found = placeholders(text)
            required = source if index in counted else source - COUNT_PLACEHOLDERS
            if not found <= source or not required <= found:
                raise _placeholder_error(source)
    return cleaned if filled else [""] * len(cleaned)


def _placeholder_error(source: set[str]) -> Invalid:
    shown = ", ".join(sorted(source)) or "—"
    return Invalid(N_("Los marcadores deben ser los mismos que en el texto en español: %(expected)s."), expected=shown)


def save_translation(
    translations: Path,
    code: str,
    msgid: str,
    context: str | None,
    strings: list[str],
    fuzzy: bool,
) -> Entry:
    """Check, write the .po file and recompile every catalog; nothing is written if any step fails."""
    try:
        return _save(translations, code, msgid, context, strings, fuzzy)
    except OSError as exc:  # a folder the server may not write, a full disk
        raise Unavailable(
            N_("El servidor no pudo escribir los catálogos; quien lo administra debe revisar la carpeta translations.")
        ) from exc


def _save(translations: Path, code: str, msgid: str, context: str | None, strings: list[str], fuzzy: bool) -> Entry:
    with i18n_catalogs.catalogs_locked(translations):
        language = _language(locales.load_registry(translations / "locales.json"), code)
        catalog = _catalog(translations, code)
        message = catalog.get(msgid, context=context or None)
        if message is None:
            raise NotFound(N_("Ese texto no está en el catálogo; puede que haya cambiado. Recargue la página."))
        stored = check_translation(entry_of(message), strings, language)
        message.string = tuple(stored) if message.pluralizable else stored[0]
        _mark(message, fuzzy and any(stored))
        compiled = i18n_catalogs.mo_bytes(i18n_catalogs.with_plural(catalog, language))
        try:
            support.Translations(io.BytesIO(compiled))  # the catalog must still load where it is used
        except Exception as exc:  # babel/gettext raise several kinds on a broken catalog
            raise Invalid(N_("Con esa traducción el catálogo ya no compila.")) from exc
        _write_and_compile(translations, code, catalog)
        return entry_of(message)


def catalog_bytes(translations: Path, code: str) -> bytes:
    """The language's .po file as it stands, for a translator to open in Poedit."""
    _language(locales.load_registry(translations / "locales.json"), code)
    path = i18n_catalogs.catalog_path(code, translations)
    if not path.exists():
        raise NotFound(N_("El idioma «%(code)s» no tiene catálogo todavía."), code=code)
    return path.read_bytes()


@dataclass
class ImportResult:
    applied: int = 0
    unchanged: int = 0
    unknown: int = 0  # no longer in the template: the code changed since the file was downloaded
    refused: list[tuple[str, Invalid]] = field(default_factory=list)


def import_catalog(translations: Path, code: str, data: bytes) -> ImportResult:
    """A .po file edited in Poedit, merged string by string: each changed translation passes the same checks
    as on the page or is refused with its reason; the rest is applied, written and compiled at once."""
    try:
        uploaded = read_po(io.BytesIO(data), abort_invalid=True)
    except Exception as exc:  # babel raises several kinds on a file that is not a catalog
        raise Invalid(N_("El archivo no es un catálogo .po que se pueda leer.")) from exc
    if not any(message.id for message in uploaded):
        raise Invalid(N_("El archivo no es un catálogo .po que se pueda leer."))
    if uploaded.locale_identifier and uploaded.locale_identifier != code:
        raise Invalid(
            N_("Ese archivo es del idioma «%(found)s», no de «%(code)s»."), found=uploaded.locale_identifier, code=code
        )
    try:
        with i18n_catalogs.catalogs_locked(translations):
            return _import(translations, code, uploaded)
    except OSError as exc:
        raise Unavailable(
            N_("El servidor no pudo escribir los catálogos; quien lo administra debe revisar la carpeta translations.")
        ) from exc


def _import(translations: Path, code: str, uploaded: Catalog) -> ImportResult:
    language = _language(locales.load_registry(translations / "locales.json"), code)
    catalog = _catalog(translations, code)
    result = ImportResult()
    for incoming in uploaded:
        if not incoming.id:
            continue
        key = incoming.id if isinstance(incoming.id, str) else incoming.id[0]
        message = catalog.get(key, context=incoming.context)
        if message is None or message.pluralizable != incoming.pluralizable:
            result.unknown += 1
            continue
        current, offered = entry_of(message), entry_of(incoming)
        if (current.strings, current.fuzzy) == (offered.strings, offered.fuzzy):
            result.unchanged += 1
            continue
        try:
            stored = check_translation(current, list(offered.strings), language)
        except Invalid as exc:
            result.refused.append((current.msgid, exc))
            continue
        message.string = tuple(stored) if message.pluralizable else stored[0]
        _mark(message, offered.fuzzy and any(stored))
        result.applied += 1
    if result.applied:
        _write_and_compile(translations, code, catalog)
    return result


def _mark(message: Message, fuzzy: bool) -> None:
    """Fuzzy, or confirmed: then the old Spanish it was matched from is no longer of use."""
    if fuzzy:
        message.flags.add("fuzzy")
    else:
        message.flags.discard("fuzzy")
        message.previous_id = []


def _write_and_compile(translations: Path, code: str, catalog: Catalog) -> None:
    """The .po file, then every compiled catalog; if compiling fails, the .po file is put back."""
    path = i18n_catalogs.catalog_path(code, translations)
    previous = path.read_bytes()
    i18n_catalogs.write_atomically(path, i18n_catalogs.po_bytes(catalog))
    try:
        i18n_catalogs.compile_unlocked(translations)
    except BaseException:
        i18n_catalogs.write_atomically(path, previous)  # the .po file stays in step with what is served...
        with contextlib.suppress(OSError):
            i18n_catalogs.compile_unlocked(translations)  # ...and what was compiled follows it back
        raise
