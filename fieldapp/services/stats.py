"""The aggregate picture for an unlocked session: counts and shares per answer, computed by streaming through
the reports once. Nothing opened is kept: each report is counted and dropped."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from ..errors import N_
from . import forms
from .inbox import OpenedReport

# (answer, title) in the order shown; "month" is the encounter's month, or the month it arrived.
DIMENSIONS = (
    ("sex", N_("Víctimas por sexo")),
    ("age_band", N_("Víctimas por edad")),
    ("minors", N_("Informes con menores de edad")),
    ("exploitation_type", N_("Tipo de explotación")),
    ("sector", N_("Sector (trabajo forzoso)")),
    ("recruitment_method", N_("Forma de captación")),
    ("nationality", N_("Nacionalidad")),
    ("department", N_("Departamento")),
    ("province", N_("Provincia")),
    ("district", N_("Distrito")),
    ("forced_labour_indicators", N_("Indicadores de trabajo forzoso (OIT)")),
    ("month", N_("Mes")),
)
MINORS_LABELS = {"yes": forms.Shown(N_("Sí"), translate=True)}


@dataclass(frozen=True)
class Row:
    code: str
    label: str
    translate: bool  # a Spanish msgid of the form; place names and unknown codes are shown as they are
    count: int
    share: float  # of all reports counted, so that multiple answers can add up to more than 1


@dataclass
class Breakdown:
    dimension: str
    title: str
    rows: list[Row] = field(default_factory=list)


@dataclass
class Picture:
    reports: int
    unreadable: int  # could not be opened
    malformed: int  # opened, but not a report of a known form: counted apart, never read
    breakdowns: list[Breakdown]


def _codes(report: OpenedReport, dimension: str) -> list[str]:
    answers = report.answers
    if dimension == "month":
        date = answers.get("encounter_date")
        if isinstance(date, str) and len(date) >= 7:
            return [date[:7]]
        # A report read from a bundle does not say when it arrived: without its encounter's date, no month.
        return [report.received_on.isoformat()[:7]] if report.received_on else []
    if dimension == "minors":
        return ["yes"] if answers.get("minors") is True else []
    return forms.answer_codes(answers.get(dimension))


def compute(reports: Iterable[OpenedReport]) -> Picture:
    labels = forms.answer_labels()
    counters = {dimension: Counter() for dimension, _ in DIMENSIONS}
    total = unreadable = malformed = 0
    for report in reports:
        if report.document is None:
            if report.error in forms.DOCUMENT_PROBLEMS:
                malformed += 1
            else:
                unreadable += 1
            continue
        total += 1
        for dimension, _ in DIMENSIONS:
            counters[dimension].update(set(_codes(report, dimension)))
    breakdowns = []
    for dimension, title in DIMENSIONS:
        ordered = sorted(
            counters[dimension].items(),
            key=(lambda kv: kv[0]) if dimension == "month" else (lambda kv: (-kv[1], kv[0])),
        )
        names = MINORS_LABELS if dimension == "minors" else labels.get(dimension, {})
        rows = []
        for code, count in ordered:
            label = forms.shown(names, code)
            rows.append(Row(code, label.text, label.translate, count, count / total if total else 0.0))
        breakdowns.append(Breakdown(dimension, title, rows))
    return Picture(total, unreadable, malformed, breakdowns)
