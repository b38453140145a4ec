"""First run: a one-time link lets the first admin in and creates the organisation key."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ..crypto import KdfParams, token_digest
from ..errors import N_, Forbidden
from ..models import Role, SetupToken, User
from . import keys, users


@dataclass(frozen=True)
class SetupResult:
    admin: User
    new_key: keys.NewKey


def issue_setup_token(session: Session) -> str:
    """A fresh setup token; any earlier one stops working. Only its digest is stored."""
    session.execute(delete(SetupToken))
    token = secrets.token_urlsafe(32)
    session.add(SetupToken(token_hash=token_digest(token)))
    session.flush()
    return token


def setup_token_valid(session: Session, token: str) -> bool:
    if users.admin_exists(session):
        return False
    return session.scalar(select(SetupToken.id).where(SetupToken.token_hash == token_digest(token))) is not None


def complete_setup(
    session: Session, token: str, username: str, passphrase: str, key_passphrase: str, kdf: KdfParams
) -> SetupResult:
    if not setup_token_valid(session, token):
        raise Forbidden(N_("Este enlace de configuración ya se usó o no es válido."))
    admin = users.create_user(session, username, Role.ADMIN.value, passphrase, kdf)
    new_key = keys.create_managed_key(session, admin, key_passphrase, kdf)
    session.execute(delete(SetupToken))
    return SetupResult(admin, new_key)
