"""User accounts and passphrase rules."""

from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..crypto import KdfParams, hash_passphrase
from ..errors import N_, Conflict, Invalid, NotFound
from ..models import Role, User

MIN_PASSPHRASE = 10
_USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
# The commonest choices that pass a length rule; an attacker tries these first.
_COMMON = {
    "1234567890",
    "0123456789",
    "contraseña",
    "contrasena1",
    "password12",
    "password123",
    "qwertyuiop",
    "123456789a",
    "abcdefghij",
    "fieldapp123",
    "contraseña1",
    "administrador",
}


def check_passphrase(passphrase: str) -> None:
    if len(passphrase) < MIN_PASSPHRASE:
        raise Invalid(N_("La frase de paso debe tener al menos %(min)s caracteres."), min=MIN_PASSPHRASE)
    lowered = passphrase.lower()
    if len(set(lowered)) < 4 or lowered in _COMMON:
        raise Invalid(N_("Esa frase de paso es demasiado fácil de adivinar."))


def normalize_username(username: str) -> str:
    name = username.strip().lower()
    if not _USERNAME_RE.match(name):
        raise Invalid(
            N_("El nombre de usuario debe tener de 2 a 64 caracteres: letras, cifras, punto, guion o guion bajo.")
        )
    return name


def create_user(session: Session, username: str, role: str, passphrase: str, kdf: KdfParams) -> User:
    name = normalize_username(username)
    if role not in {r.value for r in Role}:
        raise Invalid(N_("Rol desconocido: %(role)s."), role=role)
    check_passphrase(passphrase)
    if session.scalar(select(User).where(User.username == name)):
        raise Conflict(N_("Ya existe el usuario «%(name)s»."), name=name)
    user = User(username=name, role=role, passphrase_hash=hash_passphrase(passphrase, kdf))
    session.add(user)
    session.flush()
    return user


def find_user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username.strip().lower()))
    if user is None:
        raise NotFound(N_("No existe el usuario «%(name)s»."), name=username)
    return user


def admin_exists(session: Session) -> bool:
    return bool(session.scalar(select(func.count()).select_from(User).where(User.role == Role.ADMIN.value)))
