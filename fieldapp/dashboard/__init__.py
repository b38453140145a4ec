"""The supervisor-facing pages (server-rendered): first-run setup, login, and what each role may see."""

from flask import Blueprint

bp = Blueprint("dashboard", __name__)

from . import admin, bundles, export, inbox, relay, setup, stats, teams, translations, unlock, views  # noqa: E402,F401  (views register themselves on bp)


@bp.app_context_processor
def labels() -> dict[str, object]:
    """Words for codes, in the reader's language."""
    from flask_babel import gettext

    from ..services.audit import ACTION_LABELS
    from ..services.inbox import STATUS_LABELS, TARGET_LABELS
    from ..services.users import ROLE_LABELS

    return {
        "status_label": lambda code: gettext(STATUS_LABELS.get(code, code)),
        "target_label": lambda code: gettext(TARGET_LABELS.get(code, code)),
        "role_label": lambda code: gettext(ROLE_LABELS.get(code, code)),
        "action_label": lambda code: gettext(ACTION_LABELS[code]) if code in ACTION_LABELS else code,
    }
