"""The translator page's work on the catalogs: what is left to translate, and saving one translation.

A saved translation is checked before anything is written (its placeholders match the Spanish source, it
adds no markup, the catalog still compiles), then the .po file is written and every catalog recompiled,
all under the catalogs' lock, so two translators saving at once both keep their work.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from babel import support
from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import read_po

from ..errors import N_, Invalid, NotFound, Unavailable
from ..i18n import catalogs, locales
from ..i18n.checks import Entry, check_translation, entry_of, msgid_of, plural_examples

__all__ = ["SHOWN", "Entry", "check_translation", "entry_of", "plural_examples"]  # the page uses the checks too

SHOWN = ("pending", "fuzzy", "untranslated", "translated", "all")


def _language(registry: dict[str, locales.LocaleEntry], code: str) -> locales.LocaleEntry:
    if code not in registry:
        raise NotFound(N_("El idioma «%(code)s» no está registrado."), code=code)
    if code == locales.SOURCE:
        raise Invalid(N_("El español es el idioma de origen: sus textos se cambian en el código, no aquí."))
    return registry[code]


def _catalog(translations: Path, code: str) -> Catalog:
    path = catalogs.catalog_path(code, translations)
    if not path.exists():
        raise NotFound(N_("El idioma «%(code)s» no tiene catálogo todavía."), code=code)
    return catalogs.read_catalog(path)


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


def save_translation(
    translations: Path,
    code: str,
    msgid: str,
    context: str | None,
    strings: list[str],
    fuzzy: bool,
) -> Entry:
    """Check, write the .po file and recompile every catalog; nothing is written if any step fails."""
    with _writing(translations):
        language = _language(locales.load_registry(translations / "locales.json"), code)
        catalog = _catalog(translations, code)
        message = catalog.get(msgid, context=context or None)
        if message is None:
            raise NotFound(N_("Ese texto no está en el catálogo; puede que haya cambiado. Recargue la página."))
        stored = check_translation(entry_of(message), strings, language)
        message.string = tuple(stored) if message.pluralizable else stored[0]
        _mark(message, fuzzy and any(stored))
        compiled = catalogs.mo_bytes(catalogs.with_plural(catalog, language))
        try:
            support.Translations(io.BytesIO(compiled))  # the catalog must still load where it is used
        except Exception as exc:  # babel/gettext raise several kinds on a broken catalog
            raise Invalid(N_("Con esa traducción el catálogo ya no compila.")) from exc
        _write_and_compile(translations, code, catalog)
        return entry_of(message)


def catalog_bytes(translations: Path, code: str) -> bytes:
    """The language's .po file as it stands, for a translator to open in Poedit."""
    _language(locales.load_registry(translations / "locales.json"), code)
    path = catalogs.catalog_path(code, translations)
    if not path.exists():
        raise NotFound(N_("El idioma «%(code)s» no tiene catálogo todavía."), code=code)
    return path.read_bytes()


@dataclass
class ImportResult:
    applied: int = 0
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
    with _writing(translations):
        return _import(translations, code, uploaded)


@contextlib.contextmanager
def _writing(translations: Path) -> Iterator[None]:
    """The catalogs' lock; a folder the server may not write, or a full disk, is a clear 503."""
    try:
        with catalogs.catalogs_locked(translations):
            yield
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
        message = catalog.get(msgid_of(incoming), context=incoming.context)
        if message is None or message.pluralizable != incoming.pluralizable:
            result.unknown += 1
            continue
        current, offered = entry_of(message), entry_of(incoming)
        if (current.strings, current.fuzzy) == (offered.strings, offered.fuzzy):
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
    path = catalogs.catalog_path(code, translations)
    previous = path.read_bytes()
    catalogs.write_atomically(path, catalogs.po_bytes(catalog))
    try:
        catalogs.compile_unlocked(translations)
    except BaseException:
        catalogs.write_atomically(path, previous)  # the .po file stays in step with what is served...
        with contextlib.suppress(OSError):
            catalogs.compile_unlocked(translations)  # ...and what was compiled follows it back
        raise
