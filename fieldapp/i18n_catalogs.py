"""The translation catalogs: extracting every user-visible string into one template (translations/messages.pot).

Sources: Python and Jinja (gettext, `_`, `N_`), the field app's `t()` calls, and the report form
definitions' titles, labels, hints and choices. Spanish is the source language: msgids are Spanish.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import write_po

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


def write_template(catalog: Catalog, path: Path = TEMPLATE) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as out:
        # No creation date and no line numbers: the template changes only when the strings change.
        write_po(out, catalog, omit_header=False, sort_output=True, include_lineno=False, width=100)


def template_ids(path: Path = TEMPLATE) -> set[str]:
    from babel.messages.pofile import read_po

    with open(path, "rb") as handle:
        return {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(handle) if m.id}
