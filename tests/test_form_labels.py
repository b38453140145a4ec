"""Answer labels come from the form definition, per question; a value with no label is shown as itself."""

from __future__ import annotations

import html
import re

import pytest

from fieldapp.services import forms

from .test_dashboard_reports import inbox_org, login, unlock  # noqa: F401  (fixture and helpers)
from .test_exports import expected_error, upload, upload_hostile

PLACE_LISTS = {"department": "departments", "province": "provinces", "district": "districts"}


def questions_of(definition: dict) -> list[dict]:
    return [question for section in definition["sections"] for question in section["fields"]]


def places_of(definition: dict, kind: str) -> dict[str, str]:
    listed = definition.get("places", {}).get(PLACE_LISTS[kind], [])
    groups = [listed] if isinstance(listed, list) else list(listed.values())
    return {place["code"]: place["label"] for group in groups for place in group}


def expected_labels(definition: dict, question: dict) -> dict[str, tuple[str, bool]]:
    """What the question itself offers: (label, is a msgid) by code."""
    if question["type"] in ("single", "multiple"):
        return {c["code"]: (c["label"], True) for c in question["choices"]}
    if question["type"] == "boolean":
        return {"yes": ("Sí", True), "no": ("No", True)}
    if question["type"] in PLACE_LISTS:
        return {code: (label, False) for code, label in places_of(definition, question["type"]).items()}
    return {}


def colliding_codes(definition: dict) -> set[str]:
    """Codes that mean something to some question: numbers 1-25 (plain and as INEI writes them), every place
    code and every choice code of every question."""
    codes = {str(n) for n in range(1, 26)} | {f"{n:02d}" for n in range(1, 26)} | {"yes", "no"}
    for kind in PLACE_LISTS:
        codes |= set(places_of(definition, kind))
    for question in questions_of(definition):
        codes |= {c["code"] for c in question.get("choices", [])}
    return codes


FORM_QUESTIONS = [
    (definition["id"], question["id"]) for definition in forms.list_forms() for question in questions_of(definition)
]


@pytest.mark.parametrize(("form_id", "question_id"), FORM_QUESTIONS)
def test_every_question_labels_only_its_own_codes(form_id: str, question_id: str) -> None:
    definition = next(d for d in forms.list_forms() if d["id"] == form_id)
    question = next(q for q in questions_of(definition) if q["id"] == question_id)
    expected = expected_labels(definition, question)
    labels = forms.answer_labels(form_id)[question_id]
    for code in sorted(colliding_codes(definition)):
        label = forms.shown(labels, code)
        want = expected.get(code, (code, False))
        assert (label.text, label.translate) == want, (question_id, code)


def test_shared_codes_and_numbers_keep_each_question_apart() -> None:
    labels = forms.answer_labels()
    assert forms.shown(labels["people_count"], "12") == forms.Shown("12", translate=False)  # was "Junín"
    assert forms.shown(labels["department"], "12").text == "Junín"
    assert forms.shown(labels["department"], "1701").text == "1701"  # a province code is not a department
    assert forms.shown(labels["province"], "1701").text == "Tambopata"
    assert forms.shown(labels["district"], "170204").text == "Huepetuhe"
    assert forms.shown(labels["indigenous"], "yes").text == "Sí"  # the same code in two questions
    assert forms.shown(labels["consent_to_refer"], "unknown").text == "No se sabe"
    assert forms.shown(labels["nationality"], "unknown").text == "No se sabe"
    assert forms.shown(labels["exploitation_type"], "Other").text == "Otro"
    assert forms.shown(labels["recruitment_method"], "Other").text == "Otra"
    assert forms.shown(labels["sex"], "17").text == "17"  # a department code given to a choice question
    assert forms.shown(labels["notes"], "21").text == "21"


def test_describe_answers_walks_every_question_with_colliding_values() -> None:
    for definition in forms.list_forms():
        for code in sorted(colliding_codes(definition)):
            answers = {}
            for question in questions_of(definition):
                kind = question["type"]
                if kind == "multiple":
                    answers[question["id"]] = [code, code]
                elif kind == "number":
                    answers[question["id"]] = int(code) if code.isdigit() else 7
                elif kind == "boolean":
                    answers[question["id"]] = True
                elif kind == "date":
                    answers[question["id"]] = "2026-11-29"
                else:
                    answers[question["id"]] = code
            document = {"form": definition["id"], "form_version": definition["version"], "answers": answers}
            described = dict(forms.describe_answers(document))
            for question in questions_of(definition):
                expected = expected_labels(definition, question)
                values = forms.answer_codes(answers[question["id"]])
                want = [forms.Shown(*expected.get(v, (v, False))) for v in values]
                assert described[question["label"]] == want, (question["id"], code)


def shown_answers(page: str) -> dict[str, list[str]]:
    return {
        html.unescape(label): [html.unescape(v) for v in re.split(r", (?![^<]*>)", values)]
        for label, values in re.findall(r"<dt>(.*?)</dt><dd>(.*?)</dd>", page, re.S)
    }


def test_report_page_shows_each_answer_by_its_own_question(org, client, inbox_org) -> None:  # noqa: F811
    hostile = '<b id="x">Junín</b> 100% %(rid)s {{ 7*7 }}'
    answers = {"people_count": 12, "department": "17", "province": "1701", "place_kind": "mining_camp"}
    rid = upload(
        org,
        client,
        {
            "form": "trafficking-report",
            "form_version": 1,
            "locale": "es",
            "answers": answers | {"sex": ["Feminine"], "notes": hostile, "urgent": True},
        },
    )
    login(client, "sara")
    unlock(client)
    answer = client.get(f"/dashboard/reports/{rid}")
    assert answer.status_code == 200
    page = answer.get_data(as_text=True)
    shown = shown_answers(page)
    assert shown["Número de personas afectadas"] == ["12"]  # a number, never looked up as a place
    assert shown["Departamento"] == ["Madre de Dios"] and shown["Provincia"] == ["Tambopata"]
    assert shown["Sexo"] == ["Mujer"]
    assert shown["Notas"] == [hostile]  # escaped, never formatted
    assert shown["Hay peligro inmediato"] == ["Sí"]
    assert '<b id="x">' not in page


def test_answers_the_form_does_not_offer_make_a_malformed_report_shown_escaped(org, client, inbox_org) -> None:  # noqa: F811
    hostile = '<b id="x">Junín</b> 100% %(rid)s {{ 7*7 }}'
    rid = upload(
        org,
        client,
        {
            "form": "trafficking-report",
            "form_version": 1,
            "answers": {"department": "1701", "place_kind": "Campamento minero", "sex": [hostile]},
        },
    )
    login(client, "sara")
    unlock(client)
    answer = client.get(f"/dashboard/reports/{rid}")
    assert answer.status_code == 200
    page = answer.get_data(as_text=True)
    assert "informe mal formado" in page and "<dt>" not in page
    raw = html.unescape(re.search(r'<pre class="raw">(.*?)</pre>', page, re.S).group(1))
    assert '"1701"' in raw and "Junín" in raw and "Campamento minero" in raw  # what came, for a person to judge
    assert '<b id="x">' not in page and "100% %(rid)s" in html.unescape(page)


def test_english_page_translates_labels_but_not_values(org, client, inbox_org) -> None:  # noqa: F811
    rid = upload(
        org,
        client,
        {
            "form": "trafficking-report",
            "form_version": 1,
            "locale": "es",
            "answers": {"department": "17", "notes": "Otro", "sex": ["Feminine"], "urgent": True},
        },
    )
    login(client, "sara")
    unlock(client)
    page = html.unescape(client.get(f"/dashboard/reports/{rid}?lang=en").get_data(as_text=True))
    assert "<dd>Woman</dd>" in page and "<dd>Yes</dd>" in page
    assert "<dd>Madre de Dios</dd>" in page  # a proper name
    assert "<dd>Otro</dd>" in page  # a text is never looked up in the catalog, though "Otro" is a msgid


def test_malformed_documents_named_on_their_page_and_in_statistics(org, client, inbox_org) -> None:  # noqa: F811
    rids, good = upload_hostile(org, client)
    login(client, "sara")
    unlock(client)
    for name, rid in rids.items():
        answer = client.get(f"/dashboard/reports/{rid}")
        assert answer.status_code == 200, name
        assert expected_error(name) in answer.get_data(as_text=True), name
    assert "Madre de Dios" in client.get(f"/dashboard/reports/{good}").get_data(as_text=True)
    listing = client.get("/dashboard/reports")
    assert listing.status_code == 200
    stats = client.get("/dashboard/stats")
    assert stats.status_code == 200
    assert f"{len(rids)} mal formados, no contados." in stats.get_data(as_text=True)
