"""Key custody: passphrase hashes and wrapped keys (scrypt, AES-256-GCM), keys sealed to a holder, recovery
kits and an unlocked session's key bundle. Cost parameters are arguments, so tests run fast and production slow."""

from __future__ import annotations

import hmac
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from .envelope import (
    IV_LEN,
    EnvelopeError,
    b64u_decode,
    b64u_encode,
    is_kid,
    kid_for,
    load_private_key,
    open_envelope,
    private_der,
    public_raw,
    seal_document,
)


class UnwrapError(Exception):
    """A wrapped key or recovery kit that does not open (wrong passphrase or damaged)."""


# ---------------------------------------------------------------- passphrases


@dataclass(frozen=True)
class KdfParams:
    """scrypt cost; production defaults use 64 MiB of memory per derivation."""

    n: int = 2**16
    r: int = 8
    p: int = 1

    def derive(self, secret: str, salt: bytes) -> bytes:
        return Scrypt(salt=salt, length=32, n=self.n, r=self.r, p=self.p).derive(secret.encode("utf-8"))

    def as_dict(self) -> dict[str, int]:
        return {"n": self.n, "r": self.r, "p": self.p}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> KdfParams:
        n, r, p = int(d["n"]), int(d["r"]), int(d["p"])
        # Bounds stop a damaged record from asking for gigabytes of memory.
        if not (2 <= n <= 2**20 and n & (n - 1) == 0 and 1 <= r <= 32 and 1 <= p <= 16):
            raise ValueError("unreasonable scrypt parameters")
        return cls(n, r, p)


def hash_passphrase(passphrase: str, kdf: KdfParams) -> str:
    salt = os.urandom(16)
    digest = kdf.derive(passphrase, salt)
    return f"scrypt${kdf.n}${kdf.r}${kdf.p}${b64u_encode(salt)}${b64u_encode(digest)}"


def verify_passphrase(passphrase: str, stored: str) -> bool:
    try:
        alg, n, r, p, salt, digest = stored.split("$")
        if alg != "scrypt":
            return False
        kdf = KdfParams.from_dict({"n": n, "r": r, "p": p})
        return hmac.compare_digest(kdf.derive(passphrase, b64u_decode(salt)), b64u_decode(digest))
    except ValueError:
        return False


def _seal_secret(secret: bytes, passphrase: str, kdf: KdfParams, aad: bytes) -> dict[str, Any]:
    salt, iv = os.urandom(16), os.urandom(IV_LEN)
    ct = AESGCM(kdf.derive(passphrase, salt)).encrypt(iv, secret, aad)
    return {"kdf": "scrypt", **kdf.as_dict(), "salt": b64u_encode(salt), "iv": b64u_encode(iv), "ct": b64u_encode(ct)}


def _open_secret(record: Mapping[str, Any], passphrase: str, aad: bytes) -> bytes:
    try:
        if record.get("kdf") != "scrypt":
            raise ValueError("unknown key derivation")
        kdf = KdfParams.from_dict(record)
        key = kdf.derive(passphrase, b64u_decode(record["salt"]))
        return AESGCM(key).decrypt(b64u_decode(record["iv"]), b64u_decode(record["ct"]), aad)
    except (InvalidTag, KeyError, ValueError, TypeError) as exc:
        raise UnwrapError("wrong passphrase or damaged key record") from exc


def wrap_private_key(pkcs8_der: bytes, kid: str, passphrase: str, kdf: KdfParams) -> str:
    """The private key encrypted under a holder's passphrase, as a JSON text to store."""
    return json.dumps(_seal_secret(pkcs8_der, passphrase, kdf, f"fieldapp/1 wrap|{kid}".encode()))


def unwrap_private_key(wrapped: str, kid: str, passphrase: str) -> bytes:
    try:
        record = json.loads(wrapped)
    except ValueError as exc:
        raise UnwrapError("damaged key record") from exc
    der = _open_secret(record, passphrase, f"fieldapp/1 wrap|{kid}".encode())
    if kid_for(public_raw(der)) != kid:
        raise UnwrapError("the key record does not match its key id")
    return der


def seal_key_to_holder(pkcs8_der: bytes, kid: str, holder_pub: bytes) -> str:
    """An organisation private key sealed to one holder's own public key (a pending grant), as JSON text.

    The report envelope carries it; its rid names the organisation key, so the sealed key cannot pass for
    another one.
    """
    doc = {"kid": kid, "pkcs8": b64u_encode(pkcs8_der)}
    return json.dumps(seal_document(doc, holder_pub, rid=f"grant:{kid}"))


def open_key_for_holder(sealed: str, kid: str, holder_private: ec.EllipticCurvePrivateKey) -> bytes:
    """The organisation private key `kid` from a pending grant; UnwrapError if it is not exactly that key."""
    try:
        envelope = json.loads(sealed)
        if envelope.get("rid") != f"grant:{kid}":
            raise UnwrapError("the pending grant names another key")
        doc = open_envelope(envelope, {kid_for(public_raw(holder_private)): holder_private})
        der = b64u_decode(doc["pkcs8"])
        if doc.get("kid") != kid or kid_for(public_raw(der)) != kid:
            raise UnwrapError("the pending grant does not hold its key")
        return der
    except (ValueError, KeyError, TypeError, AttributeError, EnvelopeError) as exc:
        raise UnwrapError("damaged pending grant") from exc


# ---------------------------------------------------------------- recovery kits

RECOVERY_FORMAT = "fieldapp-recovery"


def generate_recovery_phrase() -> str:
    """Twelve plain English words (BIP-39, 128 bits with a checksum that catches typos)."""
    from mnemonic import Mnemonic

    return Mnemonic("english").generate(strength=128)


def normalize_phrase(phrase: str) -> str:
    return " ".join(phrase.lower().split())


def check_recovery_phrase(phrase: str) -> bool:
    from mnemonic import Mnemonic

    try:
        return Mnemonic("english").check(normalize_phrase(phrase))
    except (LookupError, ValueError):
        return False


def make_recovery_kit(pkcs8_der: bytes, phrase: str, kdf: KdfParams) -> bytes:
    """A file to print or keep offline: the private key sealed under the recovery phrase."""
    pub = public_raw(pkcs8_der)
    kid = kid_for(pub)
    record = {
        "format": RECOVERY_FORMAT,
        "v": 1,
        "kid": kid,
        "pub": b64u_encode(pub),
        **_seal_secret(pkcs8_der, normalize_phrase(phrase), kdf, f"fieldapp/1 recovery|{kid}".encode()),
    }
    return (json.dumps(record, indent=1) + "\n").encode()


def open_recovery_kit(kit: bytes, phrase: str) -> bytes:
    try:
        record = json.loads(kit)
        if not isinstance(record, dict) or record.get("format") != RECOVERY_FORMAT or record.get("v") != 1:
            raise ValueError("not a fieldapp recovery file")
        kid = record["kid"]
        if not is_kid(kid):
            raise ValueError("not a fieldapp recovery file")
    except (ValueError, KeyError, TypeError) as exc:
        raise UnwrapError("not a fieldapp recovery file") from exc
    der = _open_secret(record, normalize_phrase(phrase), f"fieldapp/1 recovery|{kid}".encode())
    if kid_for(public_raw(der)) != kid:
        raise UnwrapError("the recovery file does not match its key id")
    return der


# ---------------------------------------------------------------- unlocked sessions

SESSION_KEYS_AAD = b"fieldapp/1 session-keys"


def seal_key_bundle(private_keys: Mapping[str, ec.EllipticCurvePrivateKey], session_key: bytes) -> bytes:
    """Private keys (by kid) sealed under a random 32-byte session key: iv || AES-256-GCM(ciphertext || tag)."""
    bundle = json.dumps({kid: b64u_encode(private_der(key)) for kid, key in private_keys.items()}).encode()
    iv = os.urandom(IV_LEN)
    return iv + AESGCM(session_key).encrypt(iv, bundle, SESSION_KEYS_AAD)


def open_key_bundle(sealed: bytes, session_key: bytes) -> dict[str, ec.EllipticCurvePrivateKey]:
    try:
        bundle = json.loads(AESGCM(session_key).decrypt(sealed[:IV_LEN], sealed[IV_LEN:], SESSION_KEYS_AAD))
    except (InvalidTag, ValueError) as exc:
        raise UnwrapError("the session's keys do not open with this session") from exc
    return {kid: load_private_key(b64u_decode(der)) for kid, der in bundle.items()}
