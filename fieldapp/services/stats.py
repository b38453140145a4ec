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
    ("forced_labour_indicators", N_("Indicadores de trabajo forzoso (OIT)")),
    ("month", N_("Mes")),
)


@dataclass(frozen=True)
class Row:
    code: str
    label: str
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
    unreadable: int
    breakdowns: list[Breakdown]


def _codes(report: OpenedReport, dimension: str) -> list[str]:
    answers = report.answers
    if dimension == "month":
        date = answers.get("encounter_date")
        return [date[:7] if isinstance(date, str) and len(date) >= 7 else report.received_on.isoformat()[:7]]
    if dimension == "minors":
        return ["yes"] if answers.get("minors") is True else []
    value = answers.get(dimension)
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def compute(reports: Iterable[OpenedReport]) -> Picture:
    labels = forms.answer_labels()
    counters = {dimension: Counter() for dimension, _ in DIMENSIONS}
    total = unreadable = 0
    for report in reports:
        if report.document is None:
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
        names = labels.get(dimension, {}) | {"yes": N_("Sí")}
        rows = [Row(code, names.get(code, code), count, count / total if total else 0.0) for code, count in ordered]
        breakdowns.append(Breakdown(dimension, title, rows))
    return Picture(total, unreadable, breakdowns)
