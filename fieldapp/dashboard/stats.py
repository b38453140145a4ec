"""The statistics page: counts and shares over any filter, for an unlocked session."""

from __future__ import annotations

from flask import render_template

from ..extensions import db
from ..models import ReportStatus, User
from ..services import inbox, stats, unlock
from . import bp
from .auth import READERS, role_required
from .inbox import parse_filters
from .unlock import unlocked_keys

CHART_WIDTH = 300  # SVG user units; the chart scales to its box


@bp.get("/dashboard/stats")
@role_required(*READERS)
def statistics(user: User):  # type: ignore[no-untyped-def]
    filters = parse_filters()
    private_keys = unlocked_keys(user)
    picture = (
        stats.compute(inbox.iter_matching(db.session, filters, private_keys)) if private_keys is not None else None
    )
    return render_template(
        "dashboard/stats.html",
        user=user,
        picture=picture,
        filters=filters,
        counts=inbox.counts_by_status(db.session),
        statuses=[s.value for s in ReportStatus],
        chart_width=CHART_WIDTH,
        offline=not unlock.holds_keys(db.session, user),
    )
