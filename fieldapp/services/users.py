"""User accounts and passphrase rules."""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ..crypto import KdfParams, hash_passphrase, verify_passphrase
from ..errors import N_, Conflict, Forbidden, Invalid, NotFound
from ..models import Role, User, utcnow

MIN_PASSPHRASE = 10
ROLE_LABELS = {
    Role.ADMIN.value: N_("Administración"),
    Role.SUPERVISOR.value: N_("Supervisión"),
    Role.TRANSLATOR.value: N_("Traducción"),
}
_USERNAME_RE = re.compile(r"[a-z0-9][a-z0-9._-]{1,63}")
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
    if not _USERNAME_RE.fullmatch(name):
        raise Invalid(
            N_("El nombre de usuario debe tener de 2 a 64 caracteres: letras, cifras, punto, guion o guion bajo.")
        )
    return name


@dataclass(frozen=True)
class NewAccount:
    """An account checked and its passphrase hashed before any write: storing it is quick."""

    username: str
    role: str
    passphrase_hash: str


def prepare_account(username: str, role: str, passphrase: str, kdf: KdfParams) -> NewAccount:
    name = normalize_username(username)
    if role not in {r.value for r in Role}:
        raise Invalid(N_("Rol desconocido: %(role)s."), role=role)
    check_passphrase(passphrase)
    return NewAccount(name, role, hash_passphrase(passphrase, kdf))


def add_account(session: Session, account: NewAccount) -> User:
    if session.scalar(select(User).where(User.username == account.username)):
        raise Conflict(N_("Ya existe el usuario «%(name)s»."), name=account.username)
    user = User(username=account.username, role=account.role, passphrase_hash=account.passphrase_hash)
    session.add(user)
    session.flush()
    return user


def create_user(session: Session, username: str, role: str, passphrase: str, kdf: KdfParams) -> User:
    """prepare_account then add_account in one go, for tools and tests."""
    return add_account(session, prepare_account(username, role, passphrase, kdf))


def find_user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username.strip().lower()))
    if user is None:
        raise NotFound(N_("No existe el usuario «%(name)s»."), name=username)
    return user


def admin_exists(session: Session) -> bool:
    return bool(session.scalar(select(func.count()).select_from(User).where(User.role == Role.ADMIN.value)))


FREE_FAILURES = 3  # typos happen; after these, each further failure doubles the wait
MAX_LOCK_SECONDS = 15 * 60


class LoginRefused(Forbidden):
    """Wrong name or passphrase, or an account that must wait; `wait_seconds` says how long.

    `user_id` names the account whose passphrase was wrong, so that the failure can be counted.
    """

    def __init__(self, msgid: str, wait_seconds: int = 0, user_id: int | None = None, **params: object) -> None:
        super().__init__(msgid, **params)
        self.wait_seconds = wait_seconds
        self.user_id = user_id


def lock_seconds(failures: int) -> int:
    if failures < FREE_FAILURES:
        return 0
    return min(MAX_LOCK_SECONDS, 2 ** (failures - FREE_FAILURES))


def check_login(session: Session, username: str, passphrase: str, kdf: KdfParams) -> User:
    """The user, or LoginRefused; the same answer for a wrong name.

    It only reads: the slow passphrase check runs outside any write, and the caller records the outcome
    with record_failure or record_success in a short write of its own.
    """
    user = session.scalar(select(User).where(User.username == username.strip().lower()))
    if user is not None and (wait := seconds_to_wait(user, "login")):
        raise LoginRefused(N_("Demasiados intentos fallidos. Espere %(seconds)s segundos."), wait, seconds=wait)
    if user is None or user.disabled_on is not None:
        hash_passphrase(passphrase, kdf)  # as slow as a real check, so that names cannot be probed by timing
        raise LoginRefused(N_("Usuario o frase de paso incorrectos."))
    if not verify_passphrase(passphrase, user.passphrase_hash):
        raise LoginRefused(N_("Usuario o frase de paso incorrectos."), user_id=user.id)
    return user


# Each kind of secret has its own count of consecutive failures and its own wait, per account.
_ATTEMPTS = {
    "login": (User.failed_logins, User.locked_until),
    "unlock": (User.failed_unlocks, User.unlock_locked_until),
}


def seconds_to_wait(user: User, kind: str) -> int:
    """How long this account must wait before its next attempt of this kind (0: it may try now)."""
    until = getattr(user, _ATTEMPTS[kind][1].key)
    now = utcnow()
    return math.ceil((until - now).total_seconds()) if until is not None and until > now else 0


def record_failure(session: Session, user_id: int, kind: str) -> int:
    """Count one more failure of this kind for the account; returns how long it now waits (seconds)."""
    failures_column, until_column = _ATTEMPTS[kind]
    session.execute(update(User).where(User.id == user_id).values({failures_column: failures_column + 1}))
    failures = session.scalar(select(failures_column).where(User.id == user_id)) or 0
    wait = lock_seconds(failures)
    if wait:
        session.execute(
            update(User).where(User.id == user_id).values({until_column: utcnow() + dt.timedelta(seconds=wait)})
        )
    return wait


def record_success(session: Session, user: User, kind: str) -> None:
    failures_column, until_column = _ATTEMPTS[kind]
    if getattr(user, failures_column.key) or getattr(user, until_column.key) is not None:
        setattr(user, failures_column.key, 0)
        setattr(user, until_column.key, None)


def end_sessions(session: Session, user_id: int) -> None:
    """Every session cookie issued to the account so far stops working (see User.session_generation)."""
    session.execute(update(User).where(User.id == user_id).values(session_generation=User.session_generation + 1))


def find_user_by_id(session: Session, user_id: int) -> User | None:
    return session.get(User, user_id)


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.username)))


def _by_id(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(N_("No existe el usuario %(id)s."), id=user_id)
    return user


def disable_user(session: Session, user_id: int, by: User) -> User:
    """The account can no longer log in; its audit history and any key copies stay."""
    user = _by_id(session, user_id)
    if user.id == by.id:
        raise Conflict(N_("No puede desactivar su propia cuenta."))
    if user.disabled_on is None:
        user.disabled_on = dt.datetime.now(dt.UTC).date()
    return user


def clear_lock(session: Session, user_id: int) -> User:
    user = _by_id(session, user_id)
    record_success(session, user, "login")
    record_success(session, user, "unlock")
    return user
