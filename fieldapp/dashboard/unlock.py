"""Unlocking reading: the holder's key passphrase opens the organisation keys for this session only."""

from __future__ import annotations

import base64

from flask import current_app, redirect, render_template, request, session, url_for
from flask_babel import gettext

from ..config import Config
from ..database import writing
from ..errors import DomainError
from ..extensions import db
from ..models import User
from ..services import audit, keys, unlock, users
from . import bp
from .auth import READERS, role_required


def unlocked_keys(user: User):  # type: ignore[no-untyped-def]
    """This session's organisation keys for this request, or None when locked."""
    held = session.get("unlock")
    if not held:
        return None
    opened = unlock.open_keys(db.session, user, held["id"], base64.urlsafe_b64decode(held["key"]))
    if opened is None:
        session.pop("unlock", None)
        return None
    if opened.extend_due:
        with writing(db.session):
            unlock.extend(db.session, held["id"])
    return opened.keys


def refused_key_passphrase(user: User, refusal: DomainError) -> int:
    """Record a refused key passphrase (counted against the account when it was wrong); the answer's status."""
    name = user.username
    with writing(db.session):
        wrong = isinstance(refusal, keys.WrongKeyPassphrase)
        wait = users.record_failure(db.session, user.id, "unlock") if wrong else 0
        audit.record(db.session, name, "unlock_refused")
    return 429 if wait or refusal.status == 429 else refusal.status


@bp.route("/dashboard/unlock", methods=["GET", "POST"])
@role_required(*READERS)
def unlock_reading(user: User):  # type: ignore[no-untyped-def]
    if not unlock.holds_keys(db.session, user):
        return render_template("dashboard/unlock.html", user=user, offline=True, error="")
    if request.method == "GET":
        return render_template("dashboard/unlock.html", user=user, offline=False, error="")
    config: Config = current_app.config["FIELDAPP"]
    try:
        opened = keys.prepare_unlock(db.session, user, request.form.get("key_passphrase", "")[:1024], config.kdf)
    except DomainError as exc:
        status = refused_key_passphrase(user, exc)
        return render_template("dashboard/unlock.html", user=user, offline=False, error=exc.render(gettext)), status
    with writing(db.session):
        completed = keys.store_unlock(db.session, user, opened)
        unlock_id, key = unlock.start(db.session, user, opened.keys)
        users.record_success(db.session, user, "unlock")
        audit.record(db.session, user.username, "unlock", **({"pending_completed": completed} if completed else {}))
    session["unlock"] = {"id": unlock_id, "key": base64.urlsafe_b64encode(key).decode()}
    return redirect(url_for("dashboard.report_list"))


@bp.post("/dashboard/lock")
@role_required(*READERS)
def lock_reading(user: User):  # type: ignore[no-untyped-def]
    held = session.pop("unlock", None)
    if held:
        with writing(db.session):
            unlock.lock(db.session, held["id"])
            audit.record(db.session, user.username, "lock")
    return redirect(url_for("dashboard.report_list"))
