"""The locale registry (translations/locales.json): which languages exist and how each one falls back.

A language may have no locale data in CLDR (Aymara, Shipibo-Konibo, Asháninka…): it is still a first-class
language. Its entry names the CLDR locale used for dates and numbers, and its plural rule comes from its
own entry, so nothing ever asks CLDR about the language itself.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from babel import Locale, UnknownLocaleError

REGISTRY = Path(__file__).resolve().parent.parent / "translations" / "locales.json"
SOURCE = "es"
_CODE_RE = re.compile(r"^[a-z]{2,3}(_[A-Z]{2})?$")
_PLURAL_RE = re.compile(r"^nplurals=(\d+); plural=(.+);$")


class RegistryError(Exception):
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


def _check(code: str, raw: dict, codes: set[str]) -> LocaleEntry:
    def fail(problem: str) -> RegistryError:
        return RegistryError(f"translations/locales.json, {code!r}: {problem}")

    if not _CODE_RE.match(code):
        raise fail("the code must be ISO 639-1 or 639-3 (2 or 3 lowercase letters), optionally _REGION")
    for key in ("name", "name_es", "cldr", "plural"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            raise fail(f"'{key}' is missing")
    fallback = raw.get("fallback", [])
    if not isinstance(fallback, list) or any(f not in codes for f in fallback) or code in fallback:
        raise fail("'fallback' must list registered languages, not itself")
    if code != SOURCE and (not fallback or fallback[-1] != SOURCE):
        raise fail(f"the fallback chain must end with the source language, '{SOURCE}'")
    try:
        Locale.parse(raw["cldr"])  # the formatting locale must be one CLDR has; the language itself need not be
    except (UnknownLocaleError, ValueError) as exc:
        raise fail(f"'cldr' {raw['cldr']!r} is not a CLDR locale") from exc
    match = _PLURAL_RE.match(raw["plural"].strip())
    if not match or not 1 <= int(match.group(1)) <= 6:
        raise fail("'plural' must look like 'nplurals=2; plural=(n != 1);'")
    if raw.get("direction", "ltr") not in ("ltr", "rtl"):
        raise fail("'direction' must be 'ltr' or 'rtl'")
    return LocaleEntry(
        code,
        raw["name"],
        raw["name_es"],
        tuple(fallback),
        raw["cldr"],
        raw["plural"].strip(),
        raw.get("direction", "ltr"),
    )


def load_registry(path: Path = REGISTRY) -> dict[str, LocaleEntry]:
    """The whole registry, validated; raises RegistryError on the first broken entry."""
    try:
        raw = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise RegistryError(f"{path}: cannot be read as JSON ({exc})") from exc
    if not isinstance(raw, dict) or SOURCE not in raw:
        raise RegistryError(f"{path}: must be an object with at least the source language '{SOURCE}'")
    return {code: _check(code, entry if isinstance(entry, dict) else {}, set(raw)) for code, entry in raw.items()}


def save_registry(entries: dict[str, LocaleEntry], path: Path = REGISTRY) -> None:
    data = {
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
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", "utf-8")
