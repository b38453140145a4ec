"""The phone's place questions: provinces under their department, districts under their province, all offline."""

from __future__ import annotations

import uuid

from .conftest import enrol, exported_documents, wait_for_queued

OPTIONS = "select => [...select.options].map((o) => o.value)"


def test_district_follows_its_province_and_is_sealed_as_a_code(page, live_server, tmp_path) -> None:
    enrol(page, live_server)
    page.click("text=Nuevo informe")
    page.wait_for_selector("#f-department")
    assert page.is_hidden("[data-field=province]") and page.is_hidden("[data-field=district]")
    page.select_option("#f-department", "16")  # Loreto: its provinces were missing before
    assert page.is_visible("[data-field=province]") and page.is_hidden("[data-field=district]")
    assert page.eval_on_selector("#f-province", OPTIONS)[:2] == ["", "1601"]
    page.select_option("#f-department", "17")
    page.select_option("#f-province", "1702")
    assert page.eval_on_selector("#f-district", OPTIONS) == ["", "170201", "170202", "170203", "170204"]
    page.select_option("#f-district", "170204")
    page.select_option("#f-department", "21")  # another department: its province and district start over
    assert page.input_value("#f-province") == "" and page.is_hidden("[data-field=district]")
    page.select_option("#f-province", "2110")
    page.select_option("#f-district", "211002")
    tag = uuid.uuid4().hex
    page.check("input[name=place_kind][value=mining_camp]")
    page.check("input[name=exploitation_type][value=SexualExploitation]")
    page.fill("#f-notes", tag)
    page.click("text=Guardar y cifrar")
    page.wait_for_selector("text=Informe guardado y cifrado")
    wait_for_queued(page, 0)
    [doc] = [d for d in exported_documents(live_server, tmp_path) if d["answers"].get("notes") == tag]
    assert doc["form_version"] == 2
    assert {k: doc["answers"][k] for k in ("department", "province", "district")} == {
        "department": "21",
        "province": "2110",
        "district": "211002",
    }
