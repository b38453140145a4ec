"""Report form definitions shipped to phones: the JSON files in fieldapp/forms/."""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from .. import crypto
from ..errors import N_

FORMS_DIR = Path(__file__).resolve().parent.parent / "forms"

MALFORMED = N_("informe mal formado")
UNKNOWN_FORM = N_("formulario o versión de formulario desconocidos")
DOCUMENT_PROBLEMS = (MALFORMED, UNKNOWN_FORM)  # opened, but not a report this server can read

# Where each place question finds its names in the definition's `places`.
PLACE_LISTS = {"department": "departments", "province": "provinces", "district": "districts"}
CHOICE_TYPES = ("single", "multiple")
# The type each kind of answer must have; place answers are codes, like a single choice.
ANSWER_TYPES: dict[str, type] = {
    "single": str,
    "department": str,
    "province": str,
    "district": str,
    "date": str,
    "text": str,
    "boolean": bool,
    "number": int,
    "multiple": list,
}
DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class Shown:
    """An answer as it is shown: a Spanish msgid of the form (`translate`), or a text shown as it is: a
    place's proper name, or a value the question has no label for (escaped by the page, never translated)."""

    text: str
    translate: bool


@cache
def list_forms() -> list[dict[str, Any]]:
    """Every form definition, read once per process (they change only with a release)."""
    return [json.loads(path.read_text("utf-8")) for path in sorted(FORMS_DIR.glob("*.json"))]


def find_form(form_id: object) -> dict[str, Any] | None:
    return next((f for f in list_forms() if f.get("id") == form_id), None)


def questions(definition: dict[str, Any]) -> list[dict[str, Any]]:
    """Every question of a form, in its order."""
    return [question for section in definition["sections"] for question in section["fields"]]


def answer_code(value: Any) -> str:
    """An answer value as the code it stands for (a boolean is `yes` or `no`)."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def answer_codes(value: Any) -> list[str]:
    """The codes of one answer: a list gives one each, a missing answer none."""
    if value is None:
        return []
    return [answer_code(v) for v in value] if isinstance(value, list) else [answer_code(value)]


def shown(labels: dict[str, Shown], code: str) -> Shown:
    """The label a question gives a code, or the code itself."""
    return labels.get(code) or Shown(code, translate=False)


MAX_TEXT_CHARS = 4000  # a text question without its own maxlength
MAX_META_CHARS = 64  # locale, created_at: short by nature
DOCUMENT_KEYS = frozenset({"form", "form_version", "created_at", "locale", "answers", "attachments"})
DERIVED_ANSWERS = {"minors": bool}  # set by the phone from other answers, not asked


def document_problem(document: object) -> str | None:
    """Why a decrypted document cannot be read as a report of a form this server knows (a msgid), or None.

    A document was written by whoever held a device token: its shape is checked whole before anything reads it:
    known keys, valid Unicode, each answer of its question's type, each code one the question offers, each
    text bounded.
    """
    if not isinstance(document, dict) or not document.keys() <= DOCUMENT_KEYS:
        return MALFORMED
    try:
        crypto.encode_document(document)
    except (UnicodeEncodeError, ValueError, TypeError, RecursionError):  # lone surrogates, or too deep to write
        return MALFORMED
    definition = find_form(document.get("form"))
    version = document.get("form_version")
    if definition is None or type(version) is not int or not 1 <= version <= definition["version"]:
        return UNKNOWN_FORM
    answers = document.get("answers")
    if not isinstance(answers, dict) or not isinstance(document.get("attachments", []), list):
        return MALFORMED
    for key in ("locale", "created_at"):
        value = document.get(key, "")
        if not isinstance(value, str) or len(value) > MAX_META_CHARS:
            return MALFORMED
    by_id = {question["id"]: question for question in questions(definition)}
    codes = answer_labels(definition["id"])
    for key, value in answers.items():
        question = by_id.get(key)
        if question is None:
            if not isinstance(value, DERIVED_ANSWERS.get(key, ())):
                return MALFORMED
        elif not _has_type(value, question) or not _has_known_codes(value, question, codes[key]):
            return MALFORMED
    return None


def _has_type(value: Any, question: dict[str, Any]) -> bool:
    question_type = question["type"]
    expected = ANSWER_TYPES.get(question_type)
    if expected is None:
        return False
    if expected is int:  # a boolean is an int to Python, not to the form
        return type(value) is int and question.get("min", 0) <= value <= question.get("max", 10**6)
    if question_type == "date":
        return isinstance(value, str) and DATE_RE.fullmatch(value) is not None and _is_date(value)
    if question_type == "text":
        return isinstance(value, str) and len(value) <= question.get("maxlength", MAX_TEXT_CHARS)
    if expected is list:
        return (
            isinstance(value, list) and all(isinstance(code, str) for code in value) and len(set(value)) == len(value)
        )
    return isinstance(value, expected)


def _has_known_codes(value: Any, question: dict[str, Any], labels: dict[str, Shown]) -> bool:
    """A choice or place answer names only codes the question offers; other answers have no codes."""
    if question["type"] not in CHOICE_TYPES and question["type"] not in PLACE_LISTS:
        return True
    return all(code in labels for code in (value if isinstance(value, list) else [value]))


def _is_date(text: str) -> bool:
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True


def describe_answers(document: dict[str, Any]) -> list[tuple[str, list[Shown]]]:
    """(question label, answers shown) in the form's order, for a document document_problem accepted;
    question labels are Spanish msgids."""
    definition = find_form(document.get("form"))
    answers = document.get("answers")
    if definition is None or not isinstance(answers, dict):
        return []
    labels = answer_labels(definition["id"])
    return [
        (question["label"], [shown(labels[question["id"]], code) for code in answer_codes(answers[question["id"]])])
        for question in questions(definition)
        if question["id"] in answers
    ]


def question_labels(definition: dict[str, Any], question: dict[str, Any]) -> dict[str, Shown]:
    """Code -> label for one question: its own choices, the places of its kind, yes and no; none for numbers,
    dates and texts."""
    kind = question["type"]
    if kind in CHOICE_TYPES:
        return {choice["code"]: Shown(choice["label"], translate=True) for choice in question["choices"]}
    if kind == "boolean":
        return {"yes": Shown(N_("Sí"), translate=True), "no": Shown(N_("No"), translate=True)}
    if kind in PLACE_LISTS:
        places = definition.get("places", {}).get(PLACE_LISTS[kind], [])
        # Departments are one list; provinces and districts are listed under the place they belong to.
        groups = [places] if isinstance(places, list) else list(places.values())
        return {place["code"]: Shown(place["label"], translate=False) for group in groups for place in group}
    return {}


@cache
def answer_labels(form_id: str = "trafficking-report") -> dict[str, dict[str, Shown]]:
    """For each question, code -> label (see question_labels), read once per process."""
    definition = find_form(form_id)
    if definition is None:
        raise KeyError(form_id)
    return {question["id"]: question_labels(definition, question) for question in questions(definition)}
