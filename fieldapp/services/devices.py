"""Enrolled phones: their tokens, the date of their last sync, revocation and the remote wipe."""

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


class WipeOrdered(Unauthorized):
    """A phone revoked with a wipe, calling for anything but delivering its outbox: the 401 tells it to wipe."""

    def __init__(self, device_id: int, first: bool) -> None:
        super().__init__(N_("Este teléfono fue desconectado del equipo y debe borrar lo que guarda."))
        self.device_id = device_id
        self.first = first  # never told before: mark_wiped records it

    def members(self) -> dict[str, object]:
        return {"wipe": True}


# A seized phone's token is readable on it: a phone told to wipe may deliver its outbox for this long only.
DELIVERY_AFTER_WIPE = dt.timedelta(days=30)


def authenticate(session: Session, token: str, delivering: bool = False) -> AuthenticatedDevice:
    """The phone whose token this is. A revoked phone is refused, but one revoked with a wipe may still
    deliver its sealed outbox (`delivering`) for DELIVERY_AFTER_WIPE, and is told to wipe on any other call."""
    row = session.execute(
        select(
            Device.id, Device.team_id, Device.last_sync_on, Device.revoked_on, Device.wipe_requested_on, Device.wiped_on
        ).where(Device.token_hash == token_digest(token))
    ).first()
    if row is None or (row.revoked_on is not None and row.wipe_requested_on is None):
        raise Unauthorized(N_("Este teléfono no está inscrito o fue desconectado del equipo."))
    if row.revoked_on is not None and (not delivering or today() - row.wipe_requested_on > DELIVERY_AFTER_WIPE):
        raise WipeOrdered(row.id, first=row.wiped_on is None)
    return AuthenticatedDevice(row.id, row.team_id, row.last_sync_on)


def mark_wiped(session: Session, device_id: int) -> bool:
    """Note the day a phone was first told to wipe; False when another request told it first."""
    marked = session.execute(
        update(Device)
        .where(Device.id == device_id, Device.wiped_on.is_(None))
        .values(wiped_on=today())
        .execution_options(synchronize_session=False)
    )
    return marked.rowcount == 1


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


def revoke(session: Session, device_id: int, wipe: bool = True) -> Device:
    """The phone's token stops working; with `wipe`, the phone is also told to wipe itself at its next
    contact, after delivering its sealed outbox."""
    device = session.get(Device, device_id)
    if device is None:
        raise NotFound(N_("No existe el dispositivo %(id)s."), id=device_id)
    if device.revoked_on is None:
        device.revoked_on = today()
    if wipe and device.wipe_requested_on is None:
        device.wipe_requested_on = today()
    return device
