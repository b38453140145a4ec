"""Every user-visible string is in the one translation template, whatever kind of file it lives in."""

from __future__ import annotations

import json
import re
from pathlib import Path

from fieldapp import i18n_catalogs

ROOT = Path(__file__).resolve().parent.parent


def test_template_is_up_to_date() -> None:
    """Fails when a string was added or changed in Python, Jinja, the field app or a form without running
    `fieldapp i18n update`."""
    extracted = {m.id if isinstance(m.id, str) else m.id[0] for m in i18n_catalogs.extract_template() if m.id}
    committed = i18n_catalogs.template_ids()
    assert extracted - committed == set(), "run: fieldapp i18n update"
    assert committed - extracted == set(), "run: fieldapp i18n update"


def test_every_kind_of_source_is_extracted() -> None:
    ids = i18n_catalogs.template_ids()
    assert "Solicitud mal formada" in ids  # Python, marked with N_
    assert "Desbloquear la lectura" in ids  # Jinja
    assert "%(sent)s de %(total)s enviados" in ids  # the field app's t()
    form = json.loads((ROOT / "fieldapp/forms/trafficking-report.json").read_text("utf-8"))
    texts = set()

    def walk(node) -> None:  # type: ignore[no-untyped-def]
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "places":
                    continue
                if key in ("title", "label", "hint") and isinstance(value, str):
                    texts.add(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(form)
    assert len(texts) >= 90 and texts <= ids  # every label, hint and choice of the form
    assert "Madre de Dios" not in ids  # place names are proper nouns, not translated


def test_every_t_call_in_the_field_app_has_a_literal_msgid() -> None:
    """t(variable) cannot be extracted: the field app passes literal Spanish strings, or a form definition's
    own title, label or hint (extracted from the form files)."""
    calls = 0
    for path in (ROOT / "static/js").rglob("*.js"):
        for number, line in enumerate(path.read_text("utf-8").splitlines(), 1):
            code = line.split("//", 1)[0]
            for call in re.finditer(r"(?<![\w.])(?<!function )t\(\s*([^,)]+)", code):
                calls += 1
                argument = call.group(1).strip()
                literal = argument.startswith('"')
                from_form = re.fullmatch(r"\w+\.(label|hint|title)", argument)
                assert literal or from_form, f"{path.name}:{number}: t({argument}) cannot be extracted"
    assert calls > 50
