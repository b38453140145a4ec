"""Device authentication: the decorator hands the authenticated device to the view."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import request

from ..database import writing
from ..errors import N_, Unauthorized
from ..extensions import db
from ..services import audit, devices, relays

View = Callable[..., Any]


def _device_auth(delivering: bool) -> Callable[[View], View]:
    def decorator(view: View) -> View:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            scheme, _, token = request.headers.get("Authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not token.strip() or len(token) > 200:
                raise Unauthorized(N_("Falta el token del dispositivo."))
            try:
                device = devices.authenticate(db.session, token.strip(), delivering=delivering)
            except devices.WipeOrdered as order:
                if order.first:
                    _record_wipe(order.device_id)
                raise
            return view(device, *args, **kwargs)

        return wrapper

    return decorator


def _record_wipe(device_id: int) -> None:
    """The first wipe order a phone gets is noted in a short write of its own, before the answer goes out."""
    with writing(db.session):
        if devices.mark_wiped(db.session, device_id):  # two requests racing: one of them records it
            audit.record(db.session, "phone", "device_wiped", device=device_id)


device_required = _device_auth(delivering=False)
# Delivering reports: also a phone revoked with a wipe, whose sealed outbox goes before it wipes itself.
delivering_device_required = _device_auth(delivering=True)


def relay_required(view: View) -> View:
    """A base's call: the view gets the authenticated relay (PROTOCOL.md §11)."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip() or len(token) > 200:
            raise Unauthorized(N_("Falta el token de la base."))
        return view(relays.authenticate(db.session, token.strip()), *args, **kwargs)

    return wrapper
