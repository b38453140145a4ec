"""Unlocking reading for a dashboard session, in managed mode.

The holder's key passphrase unwraps the organisation keys in memory; they are sealed at once under a
random session key that only the session's cookie carries, and the sealed copy is kept with a short idle
expiry. Any worker process can then open them for one request; none keeps them.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from .. import crypto
from ..models import KeyGrant, UnlockedKeys, User, utcnow

IDLE = dt.timedelta(minutes=15)
EXTEND_STEP = dt.timedelta(minutes=1)


def holds_keys(session: Session, user: User) -> bool:
    return session.scalar(select(KeyGrant.id).where(KeyGrant.user_id == user.id).limit(1)) is not None


def start(session: Session, user: User, private_keys: dict[str, ec.EllipticCurvePrivateKey]) -> tuple[str, bytes]:
    """(id, session key) of a new unlocked session for keys already unwrapped (keys.unlock, outside a write)."""
    session_key = os.urandom(32)
    unlock_id = secrets.token_urlsafe(32)
    session.execute(delete(UnlockedKeys).where(UnlockedKeys.expires_at < utcnow()))  # tidy expired ones
    session.add(
        UnlockedKeys(
            id=unlock_id,
            user_id=user.id,
            sealed_keys=crypto.seal_key_bundle(private_keys, session_key),
            expires_at=utcnow() + IDLE,
        )
    )
    return unlock_id, session_key


@dataclass(frozen=True)
class OpenedKeys:
    keys: dict[str, ec.EllipticCurvePrivateKey]
    extend_due: bool  # the idle expiry is moved on at most once a minute, so most pages write nothing


def open_keys(session: Session, user: User, unlock_id: str, session_key: bytes) -> OpenedKeys | None:
    """The keys for this request; None once locked, expired or not this user's. It only reads."""
    row = session.get(UnlockedKeys, unlock_id)
    now = utcnow()
    if row is None or row.user_id != user.id or row.expires_at < now:
        return None
    try:
        private_keys = crypto.open_key_bundle(row.sealed_keys, session_key)
    except crypto.UnwrapError:
        return None
    return OpenedKeys(private_keys, row.expires_at - now < IDLE - EXTEND_STEP)


def extend(session: Session, unlock_id: str) -> None:
    session.execute(update(UnlockedKeys).where(UnlockedKeys.id == unlock_id).values(expires_at=utcnow() + IDLE))


def lock(session: Session, unlock_id: str) -> None:
    session.execute(delete(UnlockedKeys).where(UnlockedKeys.id == unlock_id))
