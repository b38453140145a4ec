"""The words a locked phone keeps readable: exactly those its locked screens use, and none that says what the
app is for, in Spanish or in any shipped translation."""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path

from fieldapp.i18n import catalogs

ROOT = Path(__file__).resolve().parent.parent
LOCK_SCREENS = ROOT / "static" / "js" / "ui" / "lock.js"
PURPOSE_WORDS = ("trata", "explotacion", "victima", "informe", "reporte", "denuncia", "report", "trafficking")


def locked_words() -> list[str]:
    source = LOCK_SCREENS.read_text("utf-8")
    listed = source[source.index("export const LOCKED_WORDS = [") : source.index("];")]
    return json.loads(listed[listed.index("[") :].rstrip().rstrip(",") + "]")


def folded(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text.lower()) if not unicodedata.combining(c))


def test_every_word_of_the_locked_screens_is_listed_and_nothing_else() -> None:
    used = set(re.findall(r'\bt\("((?:[^"\\]|\\.)*)"', LOCK_SCREENS.read_text("utf-8")))
    assert used == set(locked_words())


def test_no_locked_word_says_what_the_app_is_for_in_any_language() -> None:
    words = locked_words()
    translations = ROOT / "translations"
    texts = list(words)
    for code_dir in sorted(p for p in translations.iterdir() if p.is_dir() and p.name != "es"):
        path = catalogs.app_catalog_path(code_dir.name, translations)
        if path.exists():
            messages = json.loads(path.read_text("utf-8"))["messages"]
            texts += [messages[w] for w in words if isinstance(messages.get(w), str)]
    assert [t for t in texts if any(w in folded(t) for w in PURPOSE_WORDS)] == []
