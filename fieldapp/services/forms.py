"""Report form definitions shipped to phones: the JSON files in fieldapp/forms/."""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from ..errors import N_
from ..inputs import has_lone_surrogate

FORMS_DIR = Path(__file__).resolve().parent.parent / "forms"

MALFORMED = N_("informe mal formado")
UNKNOWN_FORM = N_("formulario o versión de formulario desconocidos")
DOCUMENT_PROBLEMS = (MALFORMED, UNKNOWN_FORM)  # opened, but not a report this server can read

# Where each place question finds its names in the definition's `places`.
PLACE_LISTS = {"department": "departments", "province": "provinces", "district": "districts"}
CHOICE_TYPES = ("single", "multiple")
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


@cache
def _forms_by_id() -> dict[str, dict[str, Any]]:
    return {f["id"]: f for f in list_forms()}


def find_form(form_id: object) -> dict[str, Any] | None:
    return _forms_by_id().get(form_id) if type(form_id) is str else None


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


def document_problem(document: object) -> str | None:
    """Why a decrypted document cannot be read as a report of a form this server knows (a msgid), or None.

    A document was written by whoever held a device token: its shape is checked whole before anything reads it:
    known keys, each answer of its question's type, each code one the question offers, each text bounded and
    valid Unicode (JSON's \\u escapes can name half a character).
    """
    if type(document) is not dict or not document.keys() <= DOCUMENT_KEYS:
        return MALFORMED
    definition = find_form(document.get("form"))
    version = document.get("form_version")
    if definition is None or type(version) is not int or not 1 <= version <= definition["version"]:
        return UNKNOWN_FORM
    answers = document.get("answers")
    attachments = document.get("attachments")
    if type(answers) is not dict or not (attachments is None or type(attachments) is list):
        return MALFORMED
    if attachments and has_lone_surrogate(attachments):
        return MALFORMED
    for key in ("locale", "created_at"):
        value = document.get(key)
        if value is not None and not _is_text(value, MAX_META_CHARS):
            return MALFORMED
    return None if _answers_fit(answers, answer_rules(definition["id"])) else MALFORMED


# What an answer must be, by kind: one code, a list of codes, an integer in a range, a boolean, a date, a text.
CODE, CODES, NUMBER, BOOLEAN, DATE, TEXT = "code", "codes", "number", "boolean", "date", "text"
Rule = tuple[str, Any, Any]  # (kind, the codes offered or the lowest number or the longest text, the highest)


@cache
def answer_rules(form_id: str) -> dict[str, Rule]:
    """For each answer a document of the form may hold, the rule its value must follow; built once per process."""
    definition = find_form(form_id)
    if definition is None:
        raise KeyError(form_id)
    labels = answer_labels(form_id)
    rules: dict[str, Rule] = {"minors": (BOOLEAN, None, None)}  # set by the phone from the ages, not asked
    for question in questions(definition):
        kind, codes = question["type"], frozenset(labels[question["id"]])
        if kind == "single" or kind in PLACE_LISTS:
            rules[question["id"]] = (CODE, codes, None)
        elif kind == "multiple":
            rules[question["id"]] = (CODES, codes, None)
        elif kind == "number":
            rules[question["id"]] = (NUMBER, question.get("min", 0), question.get("max", 10**6))
        elif kind == BOOLEAN:
            rules[question["id"]] = (BOOLEAN, None, None)
        elif kind == DATE:
            rules[question["id"]] = (DATE, None, None)
        elif kind == TEXT:
            rules[question["id"]] = (TEXT, question.get("maxlength", MAX_TEXT_CHARS), None)
        # a kind of question this server does not know has no rule: no document can answer it
    return rules


def _answers_fit(answers: dict[str, Any], rules: dict[str, Rule]) -> bool:
    """One pass over the answers, a few lookups each: every page, statistic and export validates on open."""
    try:
        for key, value in answers.items():
            kind, first, second = rules[key]  # an unknown key names no question: the document is not the form's
            if kind == CODE:
                if type(value) is not str or value not in first:
                    return False
            elif kind == CODES:
                if type(value) is not list or not first.issuperset(value):
                    return False
            elif kind == NUMBER:  # a boolean is an int to Python, not to the form
                if type(value) is not int or not first <= value <= second:
                    return False
            elif kind == BOOLEAN:
                if type(value) is not bool:
                    return False
            elif kind == DATE:
                if type(value) is not str or DATE_RE.fullmatch(value) is None:
                    return False
                dt.date.fromisoformat(value)  # a real day, not 2026-02-31
            elif not _is_text(value, first):
                return False
    except (KeyError, TypeError, ValueError):  # TypeError: a list or an object among the codes
        return False
    return True


def _is_text(value: Any, longest: int) -> bool:
    if type(value) is not str or len(value) > longest:
        return False
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
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
