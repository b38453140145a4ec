"""The signed key list phones are given (PROTOCOL.md §12): signed here when the organisation key that makes the
signing key is open, or offline and imported; every list after the first is signed by the first one's signer."""

from __future__ import annotations

from collections.abc import Mapping

from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..crypto import signing
from ..crypto.signing import KeyList, KeyListError, ListedKey
from ..errors import N_, Conflict, Invalid
from ..models import OrgKey, SignedKeyList
from . import keys as org_keys


def latest(session: Session) -> KeyList | None:
    row = session.scalar(select(SignedKeyList).order_by(SignedKeyList.seq.desc()).limit(1))
    if row is None:
        return None
    document = row.document.encode("ascii")
    seq, listed = signing.parse_list(document)
    return KeyList(seq, listed, document, bytes(row.signature), bytes(row.signer))


def pinned_signer(session: Session) -> bytes | None:
    """The signer of the first list this server kept: the only one it takes lists from."""
    first = session.scalar(select(SignedKeyList.signer).order_by(SignedKeyList.seq).limit(1))
    return bytes(first) if first is not None else None


def listed_keys(session: Session) -> list[ListedKey]:
    """This server's keys as a list would name them, oldest first."""
    return [ListedKey(k.kid, bytes(k.public_key), k.current) for k in org_keys.list_keys(session)]


def pending(session: Session) -> bool:
    """Whether the keys here differ from what the newest signed list says (a rotation not yet signed)."""
    newest = latest(session)
    return newest is not None and sorted(newest.keys, key=lambda k: k.kid) != sorted(
        listed_keys(session), key=lambda k: k.kid
    )


def phone_keys(session: Session) -> list[dict[str, object]]:
    """The keys a phone is told of: the signed list's where there is one, so an unsigned change reaches none."""
    newest = latest(session)
    return [key.entry() for key in (newest.keys if newest else listed_keys(session))]


def signing_key_among(
    session: Session, private_keys: Mapping[str, ec.EllipticCurvePrivateKey]
) -> ec.EllipticCurvePrivateKey | None:
    """The signing key one of these organisation keys makes: the pinned signer's, or with none pinned yet the
    current key's."""
    pinned = pinned_signer(session)
    if pinned is None:
        current = session.scalar(select(OrgKey.kid).where(OrgKey.current.is_(True)))
        return signing.derive_signing_key(private_keys[current]) if current in private_keys else None
    for private in private_keys.values():
        candidate = signing.derive_signing_key(private)
        if signing.signer_raw(candidate) == pinned:
            return candidate
    return None


def sign_current(session: Session, signing_key: ec.EllipticCurvePrivateKey) -> KeyList:
    """A new signed list of the keys here, stored as the newest (inside the caller's write)."""
    newest = latest(session)
    made = signing.signed_list(signing_key, (newest.seq + 1) if newest else 1, listed_keys(session))
    _keep(session, made)
    return made


def sign_if_possible(session: Session, private_keys: Mapping[str, ec.EllipticCurvePrivateKey]) -> KeyList | None:
    """Sign the keys here when they need it and one of these keys makes the signing key; None when nothing was
    signed (nothing to sign, or no key for it: the change stays pending)."""
    if latest(session) is not None and not pending(session):
        return None
    signing_key = signing_key_among(session, private_keys)
    return sign_current(session, signing_key) if signing_key is not None else None


def unsigned_document(session: Session) -> bytes:
    """The next list, for offline custody to sign with `fieldapp keys sign` where the organisation key is."""
    newest, listed = latest(session), listed_keys(session)
    if sum(key.current for key in listed) != 1:
        raise Invalid(N_("No hay una clave actual que firmar: importe antes su clave pública (fieldapp keys import)."))
    return signing.list_bytes((newest.seq + 1) if newest else 1, listed)


def import_signed(session: Session, member: object, first_signer: bytes | None = None) -> KeyList:
    """A list signed elsewhere (offline custody, or HQ for a base), checked and kept; this server's keys follow it:
    new ones stored (public halves), its current one made current. `first_signer`: the signer expected when
    none is pinned yet (a fingerprint compared by a person)."""
    try:
        received = signing.from_wire(member)
    except KeyListError as exc:
        raise Invalid(
            N_("La lista de claves no está firmada o no se puede leer (%(reason)s)."), reason=str(exc)
        ) from exc
    pinned = pinned_signer(session) or first_signer
    if pinned is not None and received.signer != pinned:
        raise Invalid(
            N_("La lista de claves está firmada por otra clave (huella %(fingerprint)s)."),
            fingerprint=signing.fingerprint(received.signer),
        )
    newest = latest(session)
    if newest is not None and received.seq <= newest.seq:
        if received.seq == newest.seq and received.document == newest.document:
            return newest  # the same list again: nothing to do
        raise Conflict(
            N_("Esta lista de claves (número %(seq)s) no es más nueva que la de aquí (%(here)s)."),
            seq=received.seq,
            here=newest.seq,
        )
    have = {key.kid: key for key in session.scalars(select(OrgKey))}
    for listed in received.keys:
        key = have.get(listed.kid) or org_keys.store_public_key(session, listed.pub)
        if listed.current and not key.current:
            org_keys.make_current(session, key)
    _keep(session, received)
    return received


def _keep(session: Session, key_list: KeyList) -> None:
    session.add(
        SignedKeyList(
            seq=key_list.seq,
            document=key_list.document.decode("ascii"),
            signature=key_list.signature,
            signer=key_list.signer,
        )
    )
    session.flush()
