"""Teams, one-time enrollment codes and device tokens."""

from __future__ import annotations

import datetime as dt
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..crypto import token_digest
from ..errors import N_, Conflict, Forbidden, Invalid, NotFound, Unauthorized
from ..models import Device, EnrollmentCode, Team, today, utcnow

# Crockford's base32: no I, L, O or U, so a code read aloud or typed on a phone is hard to get wrong.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 10  # 50 bits: unguessable while it lives (hours), short enough to type
MAX_CODE_USES = 100
MAX_CODE_TTL_HOURS = 24 * 30


def create_team(session: Session, name: str) -> Team:
    name = " ".join(name.split())
    if not name or len(name) > 80:
        raise Invalid(N_("El nombre del equipo debe tener entre 1 y 80 caracteres."))
    if session.scalar(select(Team).where(Team.name == name)):
        raise Conflict(N_("Ya existe un equipo llamado «%(name)s»."), name=name)
    team = Team(name=name)
    session.add(team)
    session.flush()
    return team


def find_team(session: Session, name: str) -> Team:
    team = session.scalar(select(Team).where(Team.name == " ".join(name.split())))
    if team is None:
        raise NotFound(N_("No existe el equipo «%(name)s»."), name=name)
    return team


def find_team_by_id(session: Session, team_id: int) -> Team:
    team = session.get(Team, team_id)
    if team is None:
        raise NotFound(N_("No existe el equipo %(id)s."), id=team_id)
    return team


def list_teams(session: Session) -> list[Team]:
    return list(session.scalars(select(Team).order_by(Team.name)))


def normalize_code(code: str) -> str:
    """What the worker typed -> the canonical code: case, spaces and dashes ignored, look-alikes folded."""
    folded = code.upper().translate(str.maketrans({"O": "0", "I": "1", "L": "1", "-": None, " ": None}))
    return folded


def format_code(code: str) -> str:
    return f"{code[:4]}-{code[4:8]}-{code[8:]}"


def issue_code(session: Session, team: Team, uses: int = 1, ttl_hours: int = 24) -> str:
    """A new enrollment code for `team`; only its digest is stored, so it is shown once."""
    if not 1 <= uses <= MAX_CODE_USES:
        raise Invalid(N_("Un código sirve entre 1 y %(max)s veces."), max=MAX_CODE_USES)
    if not 1 <= ttl_hours <= MAX_CODE_TTL_HOURS:
        raise Invalid(N_("Un código vale entre 1 y %(max)s horas."), max=MAX_CODE_TTL_HOURS)
    code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    session.add(
        EnrollmentCode(
            team_id=team.id,
            code_hash=token_digest(code),
            expires_at=utcnow() + dt.timedelta(hours=ttl_hours),
            uses_left=uses,
        )
    )
    session.flush()
    return format_code(code)


ENROLLMENT_ID_RE = re.compile(r"[A-Za-z0-9_-]{22,64}")


def check_enrollment_id(value: object) -> str | None:
    """The phone's random id for one enrolment, sent again on a retry; optional, refused if malformed."""
    if value is None:
        return None
    if not isinstance(value, str) or not ENROLLMENT_ID_RE.fullmatch(value):
        raise Invalid(N_("enrollment_id debe tener de 22 a 64 caracteres base64url."))
    return value


def enroll(session: Session, code: str, enrollment_id: str | None = None) -> tuple[Device, str]:
    """Spend one use of a code and make a device of its team; returns the device and its token.

    The same code with the same enrollment_id again, before the phone has used its token, is a retry after a
    lost answer: that device gets a fresh token (the lost one stops working) and no second use is spent.
    """
    digest = token_digest(normalize_code(code))
    retry_digest = token_digest(f"{digest}:{enrollment_id}") if enrollment_id else None
    if retry_digest is not None:
        device = session.scalar(
            select(Device)
            .join(EnrollmentCode, EnrollmentCode.team_id == Device.team_id)
            .where(
                Device.enrollment_digest == retry_digest,
                Device.revoked_on.is_(None),
                Device.last_sync_on.is_(None),
                EnrollmentCode.code_hash == digest,
                EnrollmentCode.expires_at > utcnow(),
            )
        )
        if device is not None:
            token = secrets.token_urlsafe(32)
            device.token_hash = token_digest(token)
            session.flush()
            return device, token
    # One conditional UPDATE spends the use, so two phones racing for the last use cannot both win.
    spent = session.execute(
        update(EnrollmentCode)
        .where(
            EnrollmentCode.code_hash == digest,
            EnrollmentCode.uses_left > 0,
            EnrollmentCode.expires_at > utcnow(),
        )
        .values(uses_left=EnrollmentCode.uses_left - 1)
        .execution_options(synchronize_session=False)
    )
    if spent.rowcount != 1:
        raise Forbidden(N_("El código de inscripción no es válido, ya se usó o caducó."))
    team_id = session.scalar(select(EnrollmentCode.team_id).where(EnrollmentCode.code_hash == digest))
    token = secrets.token_urlsafe(32)
    device = Device(team_id=team_id, token_hash=token_digest(token), enrollment_digest=retry_digest)
    session.add(device)
    session.flush()
    return device, token


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
