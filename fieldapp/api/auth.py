"""Device authentication: the decorator hands the authenticated device to the view."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import request

from ..errors import N_, Unauthorized
from ..extensions import db
from ..services import devices


def device_required(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip() or len(token) > 200:
            raise Unauthorized(N_("Falta el token del dispositivo."))
        device = devices.authenticate(db.session, token.strip())
        return view(device, *args, **kwargs)

    return wrapper
