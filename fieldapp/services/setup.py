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


@dataclass(frozen=True)
class PreparedSetup:
    """The first admin and the organisation key, checked and wrapped before any write."""

    account: users.NewAccount
    key: keys.PreparedKey


def prepare_setup(username: str, passphrase: str, key_passphrase: str, kdf: KdfParams) -> PreparedSetup:
    account = users.prepare_account(username, Role.ADMIN.value, passphrase, kdf)
    return PreparedSetup(account, keys.prepare_managed_key(Role.ADMIN.value, key_passphrase, kdf))


def complete_setup(session: Session, token: str, prepared: PreparedSetup) -> SetupResult:
    if not setup_token_valid(session, token):
        raise Forbidden(N_("Este enlace de configuración ya se usó o no es válido."))
    admin = users.add_account(session, prepared.account)
    new_key = keys.store_managed_key(session, prepared.key, admin)
    session.execute(delete(SetupToken))
    return SetupResult(admin, new_key)
