"""Statistics: counts and shares per answer, as accessible inline SVG with the numbers beside it."""

from __future__ import annotations

import datetime as dt
import re

from fieldapp.services import stats
from fieldapp.services.inbox import OpenedReport

from .test_dashboard_reports import inbox_org, login, unlock  # noqa: F401  (fixture and helpers)


def table(page: str, dimension: str) -> dict[str, tuple[int, str]]:
    figure = re.search(rf'<figure class="chart" id="chart-{dimension}">(.*?)</figure>', page, re.S).group(1)
    rows = re.findall(r"<tr><td>(.*?)</td><td>(\d+)</td><td>([\d.]+)</td></tr>", figure)
    return {label: (int(count), share) for label, count, share in rows}


def test_counts_and_shares(client, inbox_org) -> None:  # noqa: F811
    login(client, "sara")
    unlock(client)
    page = client.get("/dashboard/stats").get_data(as_text=True)
    assert "3 informes contados." in page
    assert table(page, "exploitation_type") == {"Trabajo forzoso": (2, "66.7"), "Explotación sexual": (1, "33.3")}
    assert table(page, "department") == {"Loreto": (1, "33.3"), "Madre de Dios": (1, "33.3"), "Puno": (1, "33.3")}
    for dimension, _ in stats.DIMENSIONS:
        assert f'id="chart-{dimension}"' in page
    assert page.count('role="img"') == sum(1 for d, _ in stats.DIMENSIONS if table(page, d))
    assert 'aria-labelledby="caption-exploitation_type"' in page
    months = table(page, "month")
    assert len(months) == 1 and next(iter(months)).endswith(f"de {dt.date.today().year}")  # "noviembre de 2026"


def test_filters_apply(client, inbox_org) -> None:  # noqa: F811
    login(client, "sara")
    unlock(client)
    page = client.get("/dashboard/stats?department=21").get_data(as_text=True)
    assert "1 informe contado." in page and table(page, "exploitation_type") == {"Explotación sexual": (1, "100.0")}


def test_locked_session_sees_only_counts(client, inbox_org) -> None:  # noqa: F811
    login(client, "sara")
    page = client.get("/dashboard/stats").get_data(as_text=True)
    assert "Desbloquear para ver las estadísticas" in page and "<svg" not in page and "Nuevo: 3" in page


def test_compute_counts_each_report_once_per_code_and_skips_unreadable() -> None:
    import datetime as dt

    def report(answers: dict | None) -> OpenedReport:
        opened = OpenedReport("r", dt.date(2026, 11, 29), "t", "new", None)
        opened.document = None if answers is None else {"answers": answers}
        return opened

    picture = stats.compute(
        [report({"sex": ["Feminine", "Feminine"], "minors": True}), report({"sex": ["Masculine"]}), report(None)]
    )
    by = {b.dimension: {r.code: r.count for r in b.rows} for b in picture.breakdowns}
    assert picture.reports == 2 and picture.unreadable == 1
    assert by["sex"] == {"Feminine": 1, "Masculine": 1} and by["minors"] == {"yes": 1} and by["month"] == {"2026-11": 2}


def test_places_labelled_from_their_own_list_and_unknown_codes_shown_as_they_are() -> None:
    def report(answers: dict) -> OpenedReport:
        opened = OpenedReport("r", dt.date(2026, 11, 29), "t", "new", None)
        opened.document = {"form": "trafficking-report", "form_version": 1, "answers": answers}
        return opened

    hostile = "100% %(x)s <b>"
    picture = stats.compute(
        [
            report({"department": "1701", "province": "1701", "district": "170204", "sex": [hostile]}),
            report({"department": "17", "province": "17", "sex": ["Feminine"], "minors": True}),
        ]
    )
    rows = {b.dimension: {r.code: (r.label, r.translate) for r in b.rows} for b in picture.breakdowns}
    assert rows["department"] == {"1701": ("1701", False), "17": ("Madre de Dios", False)}  # a place's own name
    assert rows["province"] == {"1701": ("Tambopata", False), "17": ("17", False)}
    assert rows["district"] == {"170204": ("Huepetuhe", False)}
    assert rows["sex"] == {"Feminine": ("Mujer", True), hostile: (hostile, False)}
    assert rows["minors"] == {"yes": ("Sí", True)}


def test_stats_page_counts_hostile_codes_apart_and_never_shows_them(client, org, inbox_org) -> None:  # noqa: F811
    from .test_exports import upload

    hostile = '100% %(x)s <b id="x">Mujer</b>'
    upload(org, client, {"form": "trafficking-report", "form_version": 1, "answers": {"sex": [hostile, "Feminine"]}})
    upload(org, client, {"form": "trafficking-report", "form_version": 1, "answers": {"department": "100%"}})
    upload(org, client, {"form": "trafficking-report", "form_version": 1, "answers": {"sex": ["Feminine"]}})
    login(client, "sara")
    unlock(client)
    answer = client.get("/dashboard/stats?lang=en")
    assert answer.status_code == 200
    page = answer.get_data(as_text=True)
    assert table(page, "sex") == {"Woman": (1, "25.0")}  # of the 4 readable reports
    assert "2 malformed, not counted." in page
    assert "Mujer</b>" not in page and "100%%" not in page and "%(x)s" not in page
