"""Enrolled phones: their tokens, the date of their last sync, revocation."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..crypto import token_digest
from ..errors import N_, NotFound, Unauthorized
from ..models import Device, today


@dataclass(frozen=True)
class AuthenticatedDevice:
    """What a device request needs to know about its phone; plain values, valid after the read ends."""

    id: int
    team_id: int
    last_sync_on: dt.date | None


def authenticate(session: Session, token: str) -> AuthenticatedDevice:
    row = session.execute(
        select(Device.id, Device.team_id, Device.last_sync_on, Device.revoked_on).where(
            Device.token_hash == token_digest(token)
        )
    ).first()
    if row is None or row.revoked_on is not None:
        raise Unauthorized(N_("Este teléfono no está inscrito o fue desconectado del equipo."))
    return AuthenticatedDevice(row.id, row.team_id, row.last_sync_on)


def sync_mark_due(device: AuthenticatedDevice) -> bool:
    """Whether this sync changes the phone's last-sync date (most requests of a day write nothing)."""
    return device.last_sync_on != today()


def mark_synced(session: Session, device: AuthenticatedDevice) -> None:
    """Keep only the date of the last sync: enough to spot a silent phone, too coarse to track one."""
    if sync_mark_due(device):
        session.execute(
            update(Device)
            .where(Device.id == device.id)
            .values(last_sync_on=today(), enrollment_digest=None)  # the token is in use: no retry any more
            .execution_options(synchronize_session=False)
        )


def list_devices(session: Session) -> list[Device]:
    return list(session.scalars(select(Device).order_by(Device.team_id, Device.id)))


def revoke(session: Session, device_id: int) -> Device:
    device = session.get(Device, device_id)
    if device is None:
        raise NotFound(N_("No existe el dispositivo %(id)s."), id=device_id)
    if device.revoked_on is None:
        device.revoked_on = today()
    return device
