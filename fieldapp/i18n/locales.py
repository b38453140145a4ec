"""The locale registry (translations/locales.json): which languages exist and how each one falls back.

A language may have no locale data in CLDR (Aymara, Shipibo-Konibo, Asháninka…): it is still a first-class
language. Its entry names the CLDR locale used for dates and numbers, and its plural rule comes from its
own entry, so nothing ever asks CLDR about the language itself.
"""

from __future__ import annotations

import gettext
import json
import re
from dataclasses import dataclass
from pathlib import Path

from babel import Locale, UnknownLocaleError

from ..errors import N_, Invalid
from .files import write_atomically

REGISTRY = Path(__file__).resolve().parents[2] / "translations" / "locales.json"
SOURCE = "es"
_CODE_RE = re.compile(r"[a-z]{2,3}(_[A-Z]{2})?")
_PLURAL_RE = re.compile(r"^nplurals=(\d+); plural=(.+);$")


class RegistryError(Invalid):
    """A registry entry that must not start the server; the message names the entry and the problem."""


@dataclass(frozen=True)
class LocaleEntry:
    code: str
    name: str  # in the language itself
    name_es: str  # in Spanish, the translators' common language
    fallback: tuple[str, ...]  # the chain after this language, ending with Spanish
    cldr: str  # the CLDR locale for dates and numbers
    plural: str  # gettext Plural-Forms
    direction: str = "ltr"

    @property
    def nplurals(self) -> int:
        return int(_PLURAL_RE.match(self.plural).group(1))  # type: ignore[union-attr]

    @property
    def plural_expression(self) -> str:
        """The C expression choosing a plural form from n, as gettext and the field app evaluate it."""
        return _PLURAL_RE.match(self.plural).group(2).strip()  # type: ignore[union-attr]


def _check(code: str, raw: dict, codes: set[str]) -> LocaleEntry:
    def fail(msgid: str, **params: object) -> RegistryError:
        return RegistryError(msgid, code=code, **params)

    if not _CODE_RE.fullmatch(code):
        raise fail(
            N_("Idioma «%(code)s»: el código debe ser ISO 639-1 o 639-3 (2 o 3 minúsculas), y opcionalmente _REGIÓN.")
        )
    for key in ("name", "name_es", "cldr", "plural"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            raise fail(N_("Idioma «%(code)s»: falta «%(key)s»."), key=key)
    fallback = raw.get("fallback", [])
    if not isinstance(fallback, list) or any(f not in codes for f in fallback) or code in fallback:
        raise fail(N_("Idioma «%(code)s»: el respaldo debe nombrar idiomas registrados, no a sí mismo."))
    if code != SOURCE and (not fallback or fallback[-1] != SOURCE):
        raise fail(N_("Idioma «%(code)s»: la cadena de respaldo debe terminar en «%(source)s»."), source=SOURCE)
    try:
        Locale.parse(raw["cldr"])  # the formatting locale must be one CLDR has; the language itself need not be
    except (UnknownLocaleError, ValueError) as exc:
        raise fail(N_("Idioma «%(code)s»: «%(cldr)s» no es un locale de CLDR."), cldr=raw["cldr"]) from exc
    match = _PLURAL_RE.match(raw["plural"].strip())
    if not match or not 1 <= int(match.group(1)) <= 6 or not _plural_rule_works(match.group(2), int(match.group(1))):
        raise fail(N_("Idioma «%(code)s»: las formas de plural deben ser como «nplurals=2; plural=(n != 1);»."))
    if raw.get("direction", "ltr") not in ("ltr", "rtl"):
        raise fail(N_("Idioma «%(code)s»: la dirección debe ser «ltr» o «rtl»."))
    return LocaleEntry(
        code,
        raw["name"],
        raw["name_es"],
        tuple(fallback),
        raw["cldr"],
        raw["plural"].strip(),
        raw.get("direction", "ltr"),
    )


def _plural_rule_works(expression: str, nplurals: int) -> bool:
    """gettext can evaluate it, and it picks one of the declared forms for every count tried."""
    try:
        rule = gettext.c2py(expression)
        return all(0 <= rule(n) < nplurals for n in range(0, 1001))
    except (ValueError, SyntaxError, RecursionError, ZeroDivisionError, TypeError):
        return False


def load_registry(path: Path = REGISTRY) -> dict[str, LocaleEntry]:
    """The whole registry, validated; raises RegistryError on the first broken entry."""
    try:
        raw = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise RegistryError(N_("No se puede leer %(path)s como JSON."), path=str(path)) from exc
    return check_registry(raw, path)


def check_registry(raw: object, path: Path = REGISTRY) -> dict[str, LocaleEntry]:
    """A registry's JSON content, validated; raises RegistryError on the first broken entry."""
    if not isinstance(raw, dict) or SOURCE not in raw:
        raise RegistryError(
            N_("%(path)s debe registrar al menos el idioma de origen, «%(source)s»."), path=str(path), source=SOURCE
        )
    return {code: _check(code, entry if isinstance(entry, dict) else {}, set(raw)) for code, entry in raw.items()}


def as_json(entries: dict[str, LocaleEntry]) -> dict[str, dict[str, object]]:
    return {
        e.code: {
            "name": e.name,
            "name_es": e.name_es,
            "fallback": list(e.fallback),
            "cldr": e.cldr,
            "plural": e.plural,
            "direction": e.direction,
        }
        for e in entries.values()
    }


def save_registry(entries: dict[str, LocaleEntry], path: Path = REGISTRY) -> None:
    """Writes only a registry that validates: a refused language never reaches the file."""
    data = as_json(entries)
    check_registry(data, path)
    # A running server never reads half a registry.
    write_atomically(path, (json.dumps(data, ensure_ascii=False, indent=1) + "\n").encode("utf-8"))
