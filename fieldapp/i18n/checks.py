"""Whether a translation can be shown: its placeholders match the Spanish source, it adds no markup and
formats cleanly, and each plural form keeps the number where it must. Pure: the translator page, the
Poedit import and `fieldapp i18n compile` all ask these same questions.
"""

from __future__ import annotations

import gettext
import re
from dataclasses import dataclass
from functools import lru_cache

from babel.messages.catalog import Message

from ..errors import N_, Invalid
from . import locales

MAX_CHARS = 4000
# %(name)s, %(name)d, %s: Python's formatting; {name}: the form's and JavaScript's own.
_PLACEHOLDER_RE = re.compile(r"%\(\w+\)[sdif]|%[sdif]|\{\w*\}")
_MARKUP_RE = re.compile(r"[<>]")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
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


def msgid_of(message: Message) -> str:
    """The Spanish text a message is known by: its msgid, or a plural one's singular."""
    return message.id if isinstance(message.id, str) else message.id[0]


def entry_of(message: Message) -> Entry:
    plural = not isinstance(message.id, str)
    strings = tuple(message.string) if plural else (message.string or "",)
    return Entry(
        msgid_of(message),
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


@lru_cache(maxsize=32)
def plural_examples(language: locales.LocaleEntry) -> tuple[tuple[int, ...], ...]:
    """For each plural form, the first counts that use it: what a translator needs to write it (worked out
    once per rule: compiling a catalog asks for every plural message)."""
    rule = gettext.c2py(language.plural_expression)
    examples: list[list[int]] = [[] for _ in range(language.nplurals)]
    for n in range(0, 1001):
        form = rule(n)
        if len(examples[form]) < 4:
            examples[form].append(n)
    return tuple(tuple(counts) for counts in examples)


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
        counted = {form for form, counts in enumerate(plural_examples(language)) if counts != (1,)}
        for index, text in enumerate(filled):
            found = placeholders(text)
            required = source if index in counted else source - COUNT_PLACEHOLDERS
            if not found <= source or not required <= found:
                raise _placeholder_error(source)
    return cleaned if filled else [""] * len(cleaned)


def _placeholder_error(source: set[str]) -> Invalid:
    shown = ", ".join(sorted(source)) or "—"
    return Invalid(N_("Los marcadores deben ser los mismos que en el texto en español: %(expected)s."), expected=shown)
