"""Report form definitions shipped to phones: the JSON files in fieldapp/forms/."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from ..errors import N_

FORMS_DIR = Path(__file__).resolve().parent.parent / "forms"


@cache
def list_forms() -> list[dict[str, Any]]:
    """Every form definition, read once per process (they change only with a release)."""
    return [json.loads(path.read_text("utf-8")) for path in sorted(FORMS_DIR.glob("*.json"))]


def describe_answers(document: dict[str, Any]) -> list[tuple[str, list[str]]]:
    """(question label, answer labels) in the form's order; labels are Spanish msgids, codes kept if unknown."""
    definition = next((f for f in list_forms() if f.get("id") == document.get("form")), None)
    answers = document.get("answers") if isinstance(document.get("answers"), dict) else {}
    if definition is None:
        return [(key, [str(value)]) for key, value in answers.items()]
    labels = answer_labels(definition["id"])
    described = []
    for section in definition["sections"]:
        for question in section["fields"]:
            if question["id"] not in answers:
                continue
            value = answers[question["id"]]
            if question["type"] == "boolean":
                described.append((question["label"], [N_("Sí") if value is True else N_("No")]))
                continue
            values = value if isinstance(value, list) else [value]
            described.append((question["label"], [labels[question["id"]].get(str(v), str(v)) for v in values]))
    return described


@cache
def answer_labels(form_id: str = "trafficking-report") -> dict[str, dict[str, str]]:
    """For each question, code -> Spanish label (places included), read once per process."""
    definition = next(f for f in list_forms() if f.get("id") == form_id)
    places = {p["code"]: p["label"] for p in definition.get("places", {}).get("departments", [])}
    for provinces in definition.get("places", {}).get("provinces", {}).values():
        places.update({p["code"]: p["label"] for p in provinces})
    return {
        q["id"]: {c["code"]: c["label"] for c in q.get("choices", [])} | places
        for section in definition["sections"]
        for q in section["fields"]
    }
