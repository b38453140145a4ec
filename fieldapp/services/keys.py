"""Organisation keys: creation, import, grants to holders, rotation, recovery and unlocking.

Managed mode keeps the private key only wrapped under each holder's key passphrase;
offline custody keeps the public key alone, so the server can never read a report.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from .. import crypto
from ..errors import N_, Conflict, Forbidden, Invalid, NotFound, TooManyAttempts
from ..models import HolderKey, KeyGrant, OrgKey, PendingGrant, Role, User, today
from .users import check_passphrase, seconds_to_wait

KEY_HOLDER_ROLES = {Role.ADMIN.value, Role.SUPERVISOR.value}


@dataclass(frozen=True)
class NewKey:
    """A key just made or restored: the private half is returned once, for the recovery kit."""

    key: OrgKey
    private_der: bytes


@dataclass(frozen=True)
class PreparedKey:
    """A key made and wrapped for its holder before any write: the slow KDF is done, storing it is quick."""

    private_der: bytes
    public_key: bytes
    kid: str
    wrapped: str


def _check_holder(user: User) -> None:
    _check_holder_role(user.role)


def _check_holder_role(role: str) -> None:
    if role not in KEY_HOLDER_ROLES:
        raise Forbidden(N_("Solo un administrador o un supervisor puede tener la clave de la organización."))


@dataclass(frozen=True)
class PreparedHolderKey:
    """A holder's own key pair, its private half already wrapped under the holder's key passphrase."""

    public_key: bytes
    wrapped: str


def prepare_holder_key(passphrase: str, kdf: crypto.KdfParams) -> PreparedHolderKey:
    der = crypto.generate_private_key()
    pub = crypto.public_raw(der)
    return PreparedHolderKey(pub, crypto.wrap_private_key(der, crypto.kid_for(pub), passphrase, kdf))


def _holder_key(session: Session, user_id: int) -> HolderKey | None:
    return session.scalar(select(HolderKey).where(HolderKey.user_id == user_id))


def _store_holder_key(session: Session, user: User, prepared: PreparedHolderKey | None) -> None:
    """Keep a holder's first key pair; one made by a concurrent request already is kept instead."""
    if prepared is None or _holder_key(session, user.id) is not None:
        return
    try:
        with session.begin_nested():  # two unlocks at once (PostgreSQL): the second keeps the first's pair
            session.add(
                HolderKey(user_id=user.id, public_key=prepared.public_key, wrapped_private_key=prepared.wrapped)
            )
    except IntegrityError:
        pass


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


def _store_grant(session: Session, key: OrgKey, holder: User, wrapped: str) -> None:
    existing = session.scalar(select(KeyGrant).where(KeyGrant.key_id == key.id, KeyGrant.user_id == holder.id))
    if existing:
        existing.wrapped_private_key = wrapped
    else:
        session.add(KeyGrant(key=key, user=holder, wrapped_private_key=wrapped))
    session.flush()


def store_public_key(session: Session, pub: bytes) -> OrgKey:
    """A public key another server holds the private half of (a base keeps HQ's): phones may seal to it."""
    return _store_key(session, pub, current=False)


def make_current(session: Session, key: OrgKey) -> None:
    _make_current(session, key)


def _prepared_key(der: bytes, passphrase: str, kdf: crypto.KdfParams) -> PreparedKey:
    pub = crypto.public_raw(der)
    kid = crypto.kid_for(pub)
    return PreparedKey(der, pub, kid, crypto.wrap_private_key(der, kid, passphrase, kdf))


def prepare_managed_key(holder_role: str, passphrase: str, kdf: crypto.KdfParams) -> PreparedKey:
    """A fresh key pair wrapped under the holder's passphrase; pure, so it runs before the write."""
    _check_holder_role(holder_role)
    check_passphrase(passphrase)
    return _prepared_key(crypto.generate_private_key(), passphrase, kdf)


def store_managed_key(session: Session, prepared: PreparedKey, holder: User) -> NewKey:
    """Store a prepared key as the current one, held by `holder` alone."""
    _check_holder(holder)
    key = _store_key(session, prepared.public_key, current=True)
    _store_grant(session, key, holder, prepared.wrapped)
    _sign_with(session, {key.kid: crypto.load_private_key(prepared.private_der)})
    return NewKey(key, prepared.private_der)


def _sign_with(session: Session, private_keys: dict[str, ec.EllipticCurvePrivateKey]) -> None:
    """The key list signed again if these keys make the signing key and it needs it (PROTOCOL.md §12)."""
    from . import keylists  # keylists reads keys through this module

    keylists.sign_if_possible(session, private_keys)


def create_managed_key(session: Session, holder: User, passphrase: str, kdf: crypto.KdfParams) -> NewKey:
    """A fresh key, made current, its private half wrapped for `holder` alone; in one go, for tools and tests
    (the server prepares first and stores in a short write)."""
    return store_managed_key(session, prepare_managed_key(holder.role, passphrase, kdf), holder)


@dataclass(frozen=True)
class PreparedImport:
    public_key: bytes
    managed: PreparedKey | None  # a private key, wrapped for its holder; None for offline custody


def prepare_import(
    pem: bytes, holder_role: str | None, passphrase: str | None, kdf: crypto.KdfParams
) -> PreparedImport:
    """A PEM private key becomes managed (wrapped for its holder); a PEM public key, offline custody."""
    try:
        der, pub = crypto.parse_pem(pem)
    except (ValueError, TypeError) as exc:
        raise Invalid(N_("El archivo no es una clave P-256 en formato PEM.")) from exc
    if der is not None and (holder_role is None or passphrase is None):
        raise Invalid(N_("Una clave privada necesita un titular (--holder) que la guarde cifrada."))
    if der is None and holder_role is not None:
        raise Invalid(N_("Es una clave pública: no hay nada que entregar a un titular."))
    if der is None or holder_role is None or passphrase is None:
        return PreparedImport(pub, None)
    _check_holder_role(holder_role)
    check_passphrase(passphrase)
    return PreparedImport(pub, _prepared_key(der, passphrase, kdf))


def store_import(session: Session, prepared: PreparedImport, holder: User | None) -> OrgKey:
    key = _store_key(session, prepared.public_key, current=True)
    if prepared.managed is not None and holder is not None:
        _check_holder(holder)
        _store_grant(session, key, holder, prepared.managed.wrapped)
        _sign_with(session, {key.kid: crypto.load_private_key(prepared.managed.private_der)})
    return key


def import_pem(
    session: Session, pem: bytes, holder: User | None, passphrase: str | None, kdf: crypto.KdfParams
) -> OrgKey:
    """prepare_import then store_import in one go, for tools and tests."""
    return store_import(session, prepare_import(pem, holder.role if holder else None, passphrase, kdf), holder)


class WrongKeyPassphrase(Forbidden):
    """A key passphrase that opens nothing: counted against the account, like a failed login."""


def _may_try_key_passphrase(user: User) -> None:
    if wait := seconds_to_wait(user, "unlock"):
        raise TooManyAttempts(N_("Demasiados intentos fallidos. Espere %(seconds)s segundos."), seconds=wait)


def unlock(session: Session, user: User, passphrase: str) -> dict[str, ec.EllipticCurvePrivateKey]:
    """Every private key of `user` that this passphrase opens, unwrapped in memory only.

    A holder may keep keys under different passphrases (say, a rotation under a new one): each opens its
    own. A passphrase that opens none is refused (WrongKeyPassphrase, for the caller to count); an account
    with too many recent failures waits (TooManyAttempts) before its passphrase is even tried.
    """
    _may_try_key_passphrase(user)
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
        raise WrongKeyPassphrase(N_("La frase de paso de la clave no es correcta."))
    return keys


@dataclass(frozen=True)
class PreparedRotation:
    key: PreparedKey
    pending: dict[int, str]  # user id -> the new key sealed to that holder's key pair, for their next unlock
    waiting: list[str]  # holders who get the new key at their next unlock
    left_out: list[str]  # holders with no key pair yet: they need `fieldapp keys grant` to read new reports
    holder_key: PreparedHolderKey | None  # the rotating admin's first key pair, if they had none
    opened: dict[str, ec.EllipticCurvePrivateKey]  # the admin's keys the passphrase opened: one may sign the list


def prepare_rotation(
    session: Session, admin: User, current_passphrase: str, new_passphrase: str, kdf: crypto.KdfParams
) -> PreparedRotation:
    """A new current key, for an admin who opens the current one with its passphrase in this same request.

    A logged-in session alone is not enough: whoever rotates decides what every phone seals to next. In
    offline custody the server holds no private key, and the new key must be made offline and imported.
    """
    if admin.role != Role.ADMIN.value:
        raise Forbidden(N_("Solo un administrador puede rotar la clave."))
    current = session.scalar(select(OrgKey).where(OrgKey.current.is_(True)).options(selectinload(OrgKey.grants)))
    if current is None:
        raise Conflict(N_("No hay clave actual: créela con fieldapp keys create."))
    if not current.grants:
        raise Conflict(
            N_(
                "La clave actual está en custodia fuera de línea: cree la nueva fuera de este servidor e importe "
                "su clave pública con fieldapp keys import."
            )
        )
    own = next((grant for grant in current.grants if grant.user_id == admin.id), None)
    if own is None:
        raise Forbidden(N_("Solo quien tiene la clave actual puede rotarla."))
    _may_try_key_passphrase(admin)
    try:
        crypto.unwrap_private_key(own.wrapped_private_key, current.kid, current_passphrase)
    except crypto.UnwrapError as exc:
        raise WrongKeyPassphrase(N_("La frase de paso de la clave actual no es correcta.")) from exc
    new_key = prepare_managed_key(admin.role, new_passphrase, kdf)
    pending: dict[int, str] = {}
    waiting, left_out = [], []
    for grant in sorted(current.grants, key=lambda g: g.user.username):
        if grant.user_id == admin.id or grant.user.disabled_on is not None:
            continue
        holder_key = _holder_key(session, grant.user_id)
        if holder_key is None:
            left_out.append(grant.user.username)
            continue
        pending[grant.user_id] = crypto.seal_key_to_holder(new_key.private_der, new_key.kid, holder_key.public_key)
        waiting.append(grant.user.username)
    own_pair = None if _holder_key(session, admin.id) else prepare_holder_key(new_passphrase, kdf)
    opened = unlock(session, admin, current_passphrase)
    return PreparedRotation(new_key, pending, waiting, left_out, own_pair, opened)


def store_rotation(session: Session, admin: User, rotation: PreparedRotation) -> NewKey:
    """The new current key, held by the admin who rotated and pending for every other holder with a key pair."""
    new = store_managed_key(session, rotation.key, admin)
    for user_id, sealed in rotation.pending.items():
        session.add(PendingGrant(key_id=new.key.id, user_id=user_id, sealed_private_key=sealed))
    _store_holder_key(session, admin, rotation.holder_key)
    session.flush()
    _sign_with(session, {**rotation.opened, new.key.kid: crypto.load_private_key(new.private_der)})
    return new


@dataclass(frozen=True)
class PreparedUnlock:
    keys: dict[str, ec.EllipticCurvePrivateKey]
    completed: dict[int, str]  # pending grant id -> its key wrapped under the passphrase just typed
    holder_key: PreparedHolderKey | None  # the holder's first key pair, made now


def prepare_unlock(session: Session, user: User, passphrase: str, kdf: crypto.KdfParams) -> PreparedUnlock:
    """Every key this passphrase opens, pending grants included (their keys wrapped anew under it). Reads
    and derives only; store_unlock keeps what it made, in a short write."""
    private_keys = unlock(session, user, passphrase)
    holder_key = _holder_key(session, user.id)
    if holder_key is None:  # from now on a rotation can reach this holder
        return PreparedUnlock(private_keys, {}, prepare_holder_key(passphrase, kdf))
    holder_kid = crypto.kid_for(holder_key.public_key)
    try:
        holder_der = crypto.unwrap_private_key(holder_key.wrapped_private_key, holder_kid, passphrase)
    except crypto.UnwrapError:
        return PreparedUnlock(private_keys, {}, None)  # the key pair is under another of the holder's passphrases
    holder_private = crypto.load_private_key(holder_der)
    completed: dict[int, str] = {}
    pending = session.scalars(
        select(PendingGrant).where(PendingGrant.user_id == user.id).options(selectinload(PendingGrant.key))
    )
    for grant in pending:
        try:
            der = crypto.open_key_for_holder(grant.sealed_private_key, grant.key.kid, holder_private)
        except crypto.UnwrapError:
            continue  # damaged: it stays, and the keys page shows it pending
        completed[grant.id] = crypto.wrap_private_key(der, grant.key.kid, passphrase, kdf)
        private_keys[grant.key.kid] = crypto.load_private_key(der)
    return PreparedUnlock(private_keys, completed, None)


def store_unlock(session: Session, user: User, prepared: PreparedUnlock) -> int:
    """Turn completed pending grants into grants and keep a new key pair; returns how many were completed."""
    done = 0
    for grant_id, wrapped in prepared.completed.items():
        grant = session.get(PendingGrant, grant_id)
        if grant is None:
            continue
        key = grant.key
        # The conditional delete decides which of two concurrent unlocks completes it; the other skips.
        claimed = session.execute(
            delete(PendingGrant).where(PendingGrant.id == grant_id).execution_options(synchronize_session=False)
        )
        session.expunge(grant)
        if claimed.rowcount != 1:
            continue
        _store_grant(session, key, user, wrapped)
        done += 1
    _store_holder_key(session, user, prepared.holder_key)
    session.flush()
    _sign_with(session, prepared.keys)  # a server upgraded with keys and no signed list gets one here
    return done


@dataclass(frozen=True)
class PreparedGrant:
    wrapped: dict[str, str]  # kid -> the key wrapped under the grantee's passphrase
    holder_key: PreparedHolderKey | None  # the grantee's first key pair, under the same passphrase


def prepare_grant(
    session: Session,
    granter: User,
    granter_passphrase: str,
    grantee: User,
    grantee_passphrase: str,
    kdf: crypto.KdfParams,
    kid: str | None = None,
) -> PreparedGrant:
    """An admin who holds keys wraps them for another holder. It reads and derives only."""
    if granter.role != Role.ADMIN.value:
        raise Forbidden(N_("Solo un administrador puede entregar la clave a otra persona."))
    _check_holder(grantee)
    check_passphrase(grantee_passphrase)
    unlocked = unlock(session, granter, granter_passphrase)
    if kid is not None:
        if kid not in unlocked:
            raise NotFound(N_("El usuario «%(name)s» no tiene la clave %(kid)s."), name=granter.username, kid=kid)
        unlocked = {kid: unlocked[kid]}
    wrapped = {
        key_id: crypto.wrap_private_key(crypto.private_der(private), key_id, grantee_passphrase, kdf)
        for key_id, private in unlocked.items()
    }
    own_pair = None if _holder_key(session, grantee.id) else prepare_holder_key(grantee_passphrase, kdf)
    return PreparedGrant(wrapped, own_pair)


def store_grants(session: Session, grantee: User, prepared: PreparedGrant) -> list[OrgKey]:
    granted = []
    _store_holder_key(session, grantee, prepared.holder_key)
    for key_id, wrapped_key in prepared.wrapped.items():
        key = _find_by_kid(session, key_id)
        if key is None:
            raise NotFound(N_("No existe la clave %(kid)s."), kid=key_id)
        _store_grant(session, key, grantee, wrapped_key)
        granted.append(key)
    return granted


def grant(
    session: Session,
    granter: User,
    granter_passphrase: str,
    grantee: User,
    grantee_passphrase: str,
    kdf: crypto.KdfParams,
    kid: str | None = None,
) -> list[OrgKey]:
    """prepare_grant then store_grants in one go, for tools and tests."""
    wrapped = prepare_grant(session, granter, granter_passphrase, grantee, grantee_passphrase, kdf, kid)
    return store_grants(session, grantee, wrapped)


def prepare_recovery(kit: bytes, phrase: str, holder_role: str, passphrase: str, kdf: crypto.KdfParams) -> PreparedKey:
    """A key opened from its recovery file and phrase, wrapped anew for its holder; pure."""
    _check_holder_role(holder_role)
    check_passphrase(passphrase)
    if not crypto.check_recovery_phrase(phrase):
        raise Invalid(N_("La frase de recuperación tiene un error: revise cada una de las 12 palabras."))
    try:
        der = crypto.open_recovery_kit(kit, phrase)
    except crypto.UnwrapError as exc:
        raise Forbidden(N_("La frase de recuperación no abre este archivo, o el archivo está dañado.")) from exc
    return _prepared_key(der, passphrase, kdf)


def store_recovered(session: Session, prepared: PreparedKey, holder: User) -> OrgKey:
    _check_holder(holder)
    key = _find_by_kid(session, prepared.kid)
    if key is None:
        # The server lost the key entirely: bring it back, current only if nothing else is.
        has_current = session.scalar(select(OrgKey.id).where(OrgKey.current.is_(True)))
        key = _store_key(session, prepared.public_key, current=has_current is None)
    _store_grant(session, key, holder, prepared.wrapped)
    _sign_with(session, {key.kid: crypto.load_private_key(prepared.private_der)})
    return key


def recover(session: Session, kit: bytes, phrase: str, holder: User, passphrase: str, kdf: crypto.KdfParams) -> OrgKey:
    """Restore a key from its recovery file and phrase, wrapped anew for `holder`; in one go, for tools and tests."""
    return store_recovered(session, prepare_recovery(kit, phrase, holder.role, passphrase, kdf), holder)


def list_keys(session: Session) -> list[OrgKey]:
    return list(session.scalars(select(OrgKey).options(selectinload(OrgKey.grants)).order_by(OrgKey.id)))
