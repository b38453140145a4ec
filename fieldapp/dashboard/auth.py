"""Who is logged in to the dashboard: a signed session cookie with the user's id and last activity.

Every view states the roles it admits; the decorator hands the logged-in user to the view.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import redirect, request, session, url_for

from ..errors import N_, Forbidden
from ..extensions import db
from ..models import Role, User
from ..services import users

IDLE_SECONDS = 30 * 60  # an unattended laptop at base logs itself out
ALL_ROLES = tuple(r.value for r in Role)
READERS = (Role.ADMIN.value, Role.SUPERVISOR.value)  # who may unlock and read reports


def log_in(user: User) -> None:
    language = session.get("lang")
    session.clear()  # a new session on every login: nothing set before it survives (no fixation)...
    if language:
        session["lang"] = language  # ...but the language the person chose, which grants nothing
    session["uid"] = user.id
    session["gen"] = user.session_generation
    session["seen"] = int(time.time())


def log_out() -> None:
    language = session.get("lang")
    session.clear()
    if language:
        session["lang"] = language


def current_user() -> User | None:
    uid, seen = session.get("uid"), session.get("seen", 0)
    if uid is None:
        return None
    if time.time() - seen > IDLE_SECONDS:
        session.clear()
        return None
    user = users.find_user_by_id(db.session, uid)
    if user is None or user.disabled_on is not None or session.get("gen") != user.session_generation:
        session.clear()
        return None
    session["seen"] = int(time.time())
    return user


def role_required(*roles: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            user = current_user()
            if user is None:
                return redirect(url_for("dashboard.login", next=request.path))
            if user.role not in roles:
                raise Forbidden(N_("Su función no permite ver esta página."))
            return view(user, *args, **kwargs)

        return wrapper

    return decorate
