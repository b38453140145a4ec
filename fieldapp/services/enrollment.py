"""One-time enrolment codes, and enrolling a phone with one (a lost answer retried, not refused)."""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Mapping

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..crypto import token_digest
from ..errors import N_, Forbidden, Invalid
from ..looks import LOOKS, Look, check_look
from ..models import Device, EnrollmentCode, Team, utcnow

# Crockford's base32: no I, L, O or U, so a code read aloud or typed on a phone is hard to get wrong.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 10  # 50 bits: unguessable while it lives (hours), short enough to type
MAX_CODE_USES = 100
MAX_CODE_TTL_HOURS = 24 * 30


def normalize_code(code: str) -> str:
    """What the worker typed -> the canonical code: case, spaces and dashes ignored, look-alikes folded."""
    folded = code.upper().translate(str.maketrans({"O": "0", "I": "1", "L": "1", "-": None, " ": None}))
    return folded


def format_code(code: str) -> str:
    return f"{code[:4]}-{code[4:8]}-{code[8:]}"


def issue_code(
    session: Session,
    team: Team,
    uses: int = 1,
    ttl_hours: int = 24,
    look: str | None = None,
    offered: Mapping[str, Look] = LOOKS,
) -> str:
    """A new enrollment code for `team`, whose phones take `look` (None: the configured default), one of
    `offered`; only its digest is stored, so it is shown once."""
    check_look(look, offered)
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
            look=look,
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
    """Spend one use of a code and make a device of its team, with the code's look; returns the device and its
    token.

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
    code_row = session.execute(
        select(EnrollmentCode.team_id, EnrollmentCode.look).where(EnrollmentCode.code_hash == digest)
    ).one()
    token = secrets.token_urlsafe(32)
    device = Device(
        team_id=code_row.team_id, token_hash=token_digest(token), enrollment_digest=retry_digest, look=code_row.look
    )
    session.add(device)
    session.flush()
    return device, token
