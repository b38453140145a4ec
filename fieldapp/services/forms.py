"""Report form definitions shipped to phones: the JSON files in fieldapp/forms/."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

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
    places = {p["code"]: p["label"] for p in definition.get("places", {}).get("departments", [])}
    for provinces in definition.get("places", {}).get("provinces", {}).values():
        places.update({p["code"]: p["label"] for p in provinces})
    described = []
    for section in definition["sections"]:
        for question in section["fields"]:
            if question["id"] not in answers:
                continue
            value = answers[question["id"]]
            choices = {c["code"]: c["label"] for c in question.get("choices", [])} | places
            values = value if isinstance(value, list) else [value]
            if question["type"] == "boolean":
                values = ["Sí" if value is True else "No"]
            described.append((question["label"], [choices.get(str(v), str(v)) for v in values]))
    return described
