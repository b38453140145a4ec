"""Peru's places in the report form: INEI's 25 departments, 196 provinces and their districts, shipped offline."""

from __future__ import annotations

import json
import re

from fieldapp.services import forms

DEFINITION = next(d for d in forms.list_forms() if d["id"] == "trafficking-report")
PLACES = DEFINITION["places"]
# What the form shipped before every province was listed: stored reports carry these codes.
SHIPPED_BEFORE = {
    "1501": "Lima",
    "1701": "Tambopata",
    "1702": "Manu",
    "1703": "Tahuamanu",
    "2101": "Puno",
    "2102": "Azángaro",
    "2103": "Carabaya",
    "2104": "Chucuito",
    "2105": "El Collao",
    "2106": "Huancané",
    "2107": "Lampa",
    "2108": "Melgar",
    "2109": "Moho",
    "2110": "San Antonio de Putina",
    "2111": "San Román",
    "2112": "Sandia",
    "2113": "Yunguyo",
}


def flat(grouped: dict[str, list[dict[str, str]]]) -> dict[str, str]:
    return {p["code"]: p["label"] for places in grouped.values() for p in places}


def test_every_department_province_and_district_under_its_parent() -> None:
    departments = {p["code"]: p["label"] for p in PLACES["departments"]}
    assert PLACES["scheme"] == "INEI"
    assert list(departments) == [f"{n:02d}" for n in range(1, 26)]
    assert departments["07"] == "Callao" and departments["17"] == "Madre de Dios"
    assert set(PLACES["provinces"]) == set(departments)  # no department without its provinces
    provinces = flat(PLACES["provinces"])
    assert len(provinces) == sum(len(v) for v in PLACES["provinces"].values()) == 196
    assert set(PLACES["districts"]) == set(provinces)  # and no province without its districts
    districts = flat(PLACES["districts"])
    assert len(districts) == sum(len(v) for v in PLACES["districts"].values()) == 1893
    for parent_of, grouped, length in ((departments, PLACES["provinces"], 4), (provinces, PLACES["districts"], 6)):
        for parent, places in grouped.items():
            assert parent in parent_of
            codes = [p["code"] for p in places]
            assert codes == sorted(codes)  # INEI's order: the capital first
            for place in places:
                assert re.fullmatch(rf"{parent}\d{{{length - len(parent)}}}", place["code"]), place
                assert place["label"] and place["label"].strip() == place["label"], place


def test_codes_shipped_before_keep_their_names() -> None:
    provinces = flat(PLACES["provinces"])
    assert {code: provinces.get(code) for code in SHIPPED_BEFORE} == SHIPPED_BEFORE


def test_mining_districts_are_offered_under_their_province() -> None:
    districts = {code: p for code, p in ((p["code"], p) for v in PLACES["districts"].values() for p in v)}
    assert districts["170204"]["label"] == "Huepetuhe" and districts["170204"] in PLACES["districts"]["1702"]
    assert districts["170102"]["label"] == "Inambari" and districts["170102"] in PLACES["districts"]["1701"]
    assert districts["170104"]["label"] == "Laberinto"
    assert districts["211002"]["label"] == "Ananea" and districts["211002"] in PLACES["districts"]["2110"]


def test_district_is_an_optional_question_after_its_province() -> None:
    questions = [q for s in DEFINITION["sections"] for q in s["fields"]]
    ids = [q["id"] for q in questions]
    district = questions[ids.index("district")]
    assert ids.index("department") < ids.index("province") < ids.index("district")
    assert district["type"] == "district" and district["depends_on"] == "province"
    assert not district.get("required") and not district.get("essential")


def test_reports_of_every_version_up_to_the_current_one_are_read() -> None:
    document = {"form": "trafficking-report", "answers": {"department": "17", "province": "1701"}}
    assert DEFINITION["version"] == 2
    assert forms.document_problem(document | {"form_version": 1}) is None  # written before districts existed
    assert forms.document_problem(document | {"form_version": 2, "answers": {"district": "170204"}}) is None
    assert forms.document_problem(document | {"form_version": 3}) == forms.UNKNOWN_FORM


def test_forms_stay_small_enough_for_the_first_install() -> None:
    # The bootstrap carries every form on each sync; the whole first install must stay under 200 KB.
    served = len(json.dumps(forms.list_forms(), separators=(",", ":")).encode())
    assert served < 100_000, served
