"""Dashboard views: login, home and the audit trail. Thin: the work is in services."""

from __future__ import annotations

from flask import current_app, redirect, render_template, request, session, url_for
from flask_babel import gettext

from ..config import Config
from ..database import writing
from ..extensions import db
from ..inputs import same_site_path
from ..models import Role, User
from ..services import audit, unlock, users
from . import bp
from .auth import ALL_ROLES, current_user, log_in, log_out, role_required


def _safe_next(target: str | None) -> str:
    """Only a path on this site: a login link must not send anyone elsewhere, nor break the Location header."""
    return same_site_path(target) or url_for("dashboard.home")


@bp.route("/dashboard/login", methods=["GET", "POST"])
def login():  # type: ignore[no-untyped-def]
    if request.method == "GET":
        if current_user() is not None:
            return redirect(url_for("dashboard.home"))
        return render_template("dashboard/login.html", error="", username="")
    config: Config = current_app.config["FIELDAPP"]
    username = request.form.get("username", "")[:64]
    try:
        user = users.check_login(db.session, username, request.form.get("passphrase", "")[:1024], config.kdf)
    except users.LoginRefused as refused:
        with writing(db.session):  # the failure count and any lock are kept even though the login is refused
            counted = users.record_failure(db.session, refused.user_id, "login") if refused.user_id else 0
            wait = refused.wait_seconds or counted
            audit.record(db.session, username.strip().lower() or "-", "login_refused", wait_seconds=wait)
        status = 429 if wait else 401
        return render_template("dashboard/login.html", error=refused.render(gettext), username=username), status
    with writing(db.session):
        users.record_success(db.session, user, "login")
        audit.record(db.session, user.username, "login")
    log_in(user)
    return redirect(_safe_next(request.args.get("next")))


# Cookies and cache only: "storage" would also wipe a phone app's outbox kept by the same browser.
CLEAR_ON_LOGOUT = '"cache", "cookies"'


@bp.post("/dashboard/logout")
def logout():  # type: ignore[no-untyped-def]
    user = current_user()
    if user is not None:
        held = session.get("unlock")
        with writing(db.session):
            if held:
                unlock.lock(db.session, held["id"])  # logging out locks too
            users.end_sessions(db.session, user.id)  # a copy of this cookie taken earlier opens nothing now
            audit.record(db.session, user.username, "logout")
    log_out()
    response = redirect(url_for("dashboard.login"))
    response.headers["Clear-Site-Data"] = CLEAR_ON_LOGOUT
    return response


@bp.get("/dashboard/")
@role_required(*ALL_ROLES)
def home(user: User):  # type: ignore[no-untyped-def]
    return render_template("dashboard/home.html", user=user, Role=Role)


@bp.get("/dashboard/audit")
@role_required(Role.ADMIN.value)
def audit_trail(user: User):  # type: ignore[no-untyped-def]
    verification = audit.verify(db.session)
    return render_template(
        "dashboard/audit.html",
        user=user,
        verification=verification,
        events=audit.recent(db.session),
        audit_time=audit.shown_time,
    )
