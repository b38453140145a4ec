"""Unlocking reading for a dashboard session, in managed mode.

The holder's key passphrase unwraps the organisation keys in memory; they are sealed at once under a
random session key that only the session's cookie carries, and the sealed copy is kept with a short idle
expiry. Any worker process can then open them for one request; none keeps them.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets

from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from .. import crypto
from ..models import KeyGrant, UnlockedKeys, User, utcnow
from . import keys

IDLE = dt.timedelta(minutes=15)


def holds_keys(session: Session, user: User) -> bool:
    return session.scalar(select(KeyGrant.id).where(KeyGrant.user_id == user.id).limit(1)) is not None


def unlock(session: Session, user: User, passphrase: str) -> tuple[str, bytes]:
    """(id, session key) of a new unlocked session; raises Forbidden on a wrong passphrase."""
    private_keys = keys.unlock(session, user, passphrase)
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


def open_keys(
    session: Session, user: User, unlock_id: str, session_key: bytes
) -> dict[str, ec.EllipticCurvePrivateKey] | None:
    """The keys for this request, extending the idle expiry; None once locked, expired or not this user's."""
    row = session.get(UnlockedKeys, unlock_id)
    now = utcnow()
    if row is None or row.user_id != user.id or row.expires_at < now:
        return None
    try:
        private_keys = crypto.open_key_bundle(row.sealed_keys, session_key)
    except crypto.UnwrapError:
        return None
    row.expires_at = now + IDLE
    return private_keys


def lock(session: Session, unlock_id: str) -> None:
    session.execute(delete(UnlockedKeys).where(UnlockedKeys.id == unlock_id))
