"""Organisation keys: creation, import, grants to holders, rotation, recovery and unlocking.

Managed mode keeps the private key only wrapped under each holder's key passphrase;
offline custody keeps the public key alone, so the server can never read a report.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from .. import crypto
from ..errors import N_, Conflict, Forbidden, Invalid, NotFound
from ..models import KeyGrant, OrgKey, Role, User, today
from .users import check_passphrase

KEY_HOLDER_ROLES = {Role.ADMIN.value, Role.SUPERVISOR.value}


@dataclass(frozen=True)
class NewKey:
    """A key just made or restored: the private half is returned once, for the recovery kit."""

    key: OrgKey
    private_der: bytes


def _check_holder(user: User) -> None:
    if user.role not in KEY_HOLDER_ROLES:
        raise Forbidden(N_("Solo un administrador o un supervisor puede tener la clave de la organización."))


def _find_by_kid(session: Session, kid: str) -> OrgKey | None:
    return session.scalar(select(OrgKey).where(OrgKey.kid == kid))


def _make_current(session: Session, key: OrgKey) -> None:
    for other in session.scalars(select(OrgKey).where(OrgKey.current.is_(True), OrgKey.id != key.id)):
        other.current = False
        other.retired_on = today()
    key.current = True
    key.retired_on = None


def _store_key(session: Session, pub: bytes, *, current: bool) -> OrgKey:
    kid = crypto.kid_for(pub)
    if _find_by_kid(session, kid):
        raise Conflict(N_("La clave %(kid)s ya está registrada."), kid=kid)
    key = OrgKey(kid=kid, public_key=pub, current=False)
    session.add(key)
    session.flush()
    if current:
        _make_current(session, key)
    return key


def _grant(session: Session, key: OrgKey, holder: User, private_der: bytes, passphrase: str, kdf: crypto.KdfParams):
    _check_holder(holder)
    wrapped = crypto.wrap_private_key(private_der, key.kid, passphrase, kdf)
    existing = session.scalar(select(KeyGrant).where(KeyGrant.key_id == key.id, KeyGrant.user_id == holder.id))
    if existing:
        existing.wrapped_private_key = wrapped
    else:
        session.add(KeyGrant(key=key, user=holder, wrapped_private_key=wrapped))
    session.flush()


def create_managed_key(session: Session, holder: User, passphrase: str, kdf: crypto.KdfParams) -> NewKey:
    """A fresh key, made current, its private half wrapped for `holder` alone."""
    _check_holder(holder)
    check_passphrase(passphrase)
    der = crypto.generate_private_key()
    key = _store_key(session, crypto.public_raw(der), current=True)
    _grant(session, key, holder, der, passphrase, kdf)
    return NewKey(key, der)


rotate = create_managed_key  # rotation is a new current key; older keys stay for opening older reports


def import_pem(
    session: Session, pem: bytes, holder: User | None, passphrase: str | None, kdf: crypto.KdfParams
) -> OrgKey:
    """A PEM private key becomes managed (wrapped for `holder`); a PEM public key, offline custody."""
    try:
        der, pub = crypto.parse_pem(pem)
    except (ValueError, TypeError) as exc:
        raise Invalid(N_("El archivo no es una clave P-256 en formato PEM.")) from exc
    if der is not None and (holder is None or passphrase is None):
        raise Invalid(N_("Una clave privada necesita un titular (--holder) que la guarde cifrada."))
    if der is None and holder is not None:
        raise Invalid(N_("Es una clave pública: no hay nada que entregar a un titular."))
    if der is not None:
        check_passphrase(passphrase or "")
    key = _store_key(session, pub, current=True)
    if der is not None and holder is not None and passphrase is not None:
        _grant(session, key, holder, der, passphrase, kdf)
    return key


def unlock(session: Session, user: User, passphrase: str) -> dict[str, ec.EllipticCurvePrivateKey]:
    """Every private key of `user` that this passphrase opens, unwrapped in memory only.

    A holder may keep keys under different passphrases (say, a rotation under a new one): each opens its
    own. A passphrase that opens none is refused.
    """
    grants = list(
        session.scalars(select(KeyGrant).where(KeyGrant.user_id == user.id).options(selectinload(KeyGrant.key)))
    )
    if not grants:
        raise Forbidden(N_("El usuario «%(name)s» no tiene ninguna clave de la organización."), name=user.username)
    keys: dict[str, ec.EllipticCurvePrivateKey] = {}
    for grant in grants:
        try:
            der = crypto.unwrap_private_key(grant.wrapped_private_key, grant.key.kid, passphrase)
        except crypto.UnwrapError:
            continue
        keys[grant.key.kid] = crypto.load_private_key(der)
    if not keys:
        raise Forbidden(N_("La frase de paso de la clave no es correcta."))
    return keys


def grant(
    session: Session,
    granter: User,
    granter_passphrase: str,
    grantee: User,
    grantee_passphrase: str,
    kdf: crypto.KdfParams,
    kid: str | None = None,
) -> list[OrgKey]:
    """An admin who holds keys wraps them for another holder, under that holder's own passphrase."""
    if granter.role != Role.ADMIN.value:
        raise Forbidden(N_("Solo un administrador puede entregar la clave a otra persona."))
    _check_holder(grantee)
    check_passphrase(grantee_passphrase)
    unlocked = unlock(session, granter, granter_passphrase)
    if kid is not None:
        if kid not in unlocked:
            raise NotFound(N_("El usuario «%(name)s» no tiene la clave %(kid)s."), name=granter.username, kid=kid)
        unlocked = {kid: unlocked[kid]}
    granted = []
    for key_id, private in unlocked.items():
        key = _find_by_kid(session, key_id)
        assert key is not None  # a grant always points at a stored key
        _grant(session, key, grantee, crypto.private_der(private), grantee_passphrase, kdf)
        granted.append(key)
    return granted


def recover(session: Session, kit: bytes, phrase: str, holder: User, passphrase: str, kdf: crypto.KdfParams) -> OrgKey:
    """Restore a key from its recovery file and phrase, wrapped anew for `holder`."""
    _check_holder(holder)
    check_passphrase(passphrase)
    if not crypto.check_recovery_phrase(phrase):
        raise Invalid(N_("La frase de recuperación tiene un error: revise cada una de las 12 palabras."))
    try:
        der = crypto.open_recovery_kit(kit, phrase)
    except crypto.UnwrapError as exc:
        raise Forbidden(N_("La frase de recuperación no abre este archivo, o el archivo está dañado.")) from exc
    pub = crypto.public_raw(der)
    key = _find_by_kid(session, crypto.kid_for(pub))
    if key is None:
        # The server lost the key entirely: bring it back, current only if nothing else is.
        has_current = session.scalar(select(OrgKey.id).where(OrgKey.current.is_(True)))
        key = _store_key(session, pub, current=has_current is None)
    _grant(session, key, holder, der, passphrase, kdf)
    return key


def list_keys(session: Session) -> list[OrgKey]:
    return list(session.scalars(select(OrgKey).options(selectinload(OrgKey.grants)).order_by(OrgKey.id)))
