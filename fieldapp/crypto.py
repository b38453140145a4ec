"""Pure cryptography for fieldapp: bytes in, bytes out, no Flask, no database.

Implements PROTOCOL.md v1 (report envelopes, attachment chunks) plus key custody:
passphrase-wrapped organisation keys, passphrase hashes and recovery kits.
Cost parameters are arguments so that tests can run fast and production slow.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import hmac
import json
import os
import re
import uuid
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from .errors import N_, Invalid

ENVELOPE_VERSION = 1
REPORT_INFO = b"fieldapp/1 report"
AAD_PREFIX = "fieldapp/1|"
CHUNK_SIZE = 262_144
MAX_DOC_BYTES = 1024 * 1024
PUB_LEN = 65
IV_LEN = 12
TAG_LEN = 16

_B64U_RE = re.compile(r"[A-Za-z0-9_-]*\Z")
_B64U_VALUE = {c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")}
_KID_RE = re.compile(r"^[0-9a-f]{16}$")


class EnvelopeError(Invalid):
    """An envelope that cannot be opened; names the rid, never key material."""

    translatable_params = ("reason",)

    def __init__(self, rid: str, reason: str) -> None:
        super().__init__(N_("Informe %(rid)s: %(reason)s"), rid=rid, reason=reason)
        self.rid = rid
        self.reason = reason


class UnwrapError(Exception):
    """A wrapped key or recovery kit that does not open (wrong passphrase or damaged)."""


# ---------------------------------------------------------------- encoding


def b64u_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64u_length(text: object) -> int:
    """The decoded length of strict base64url without padding, checked without decoding; else ValueError."""
    if not isinstance(text, str) or len(text) % 4 == 1 or not _B64U_RE.match(text):
        raise ValueError("not base64url without padding")
    # Reject non-canonical encodings (stray low bits in the last character) so one value has one spelling.
    tail = len(text) % 4
    if tail and _B64U_VALUE[text[-1]] & (0x0F if tail == 2 else 0x03):
        raise ValueError("non-canonical base64url")
    return len(text) * 3 // 4


def b64u_decode(text: str) -> bytes:
    """Strict base64url without padding: anything else raises ValueError."""
    b64u_length(text)
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# ---------------------------------------------------------------- org keys


def private_der(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def generate_private_key() -> bytes:
    """A fresh P-256 organisation key as PKCS#8 DER."""
    return private_der(ec.generate_private_key(ec.SECP256R1()))


def load_private_key(pkcs8_der: bytes) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_der_private_key(pkcs8_der, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValueError("not a P-256 private key")
    return key


def public_raw(private: ec.EllipticCurvePrivateKey | bytes) -> bytes:
    key = load_private_key(private) if isinstance(private, bytes) else private
    return key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)


def load_public_raw(pub: bytes) -> ec.EllipticCurvePublicKey:
    """A 65-byte uncompressed P-256 point; raises ValueError if it is not on the curve."""
    if len(pub) != PUB_LEN or pub[0] != 0x04:
        raise ValueError("not an uncompressed P-256 point")
    return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), pub)


def kid_for(pub: bytes) -> str:
    return hashlib.sha256(pub).digest()[:8].hex()


def is_kid(text: object) -> bool:
    return isinstance(text, str) and bool(_KID_RE.match(text))


def parse_pem(pem: bytes) -> tuple[bytes | None, bytes]:
    """A PEM private or public P-256 key -> (pkcs8 DER or None, raw public point)."""
    if b"PRIVATE KEY" in pem:
        key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
            raise ValueError("the key is not a P-256 (ECDH) key")
        return private_der(key), public_raw(key)
    pub = serialization.load_pem_public_key(pem)
    if not isinstance(pub, ec.EllipticCurvePublicKey) or not isinstance(pub.curve, ec.SECP256R1):
        raise ValueError("the key is not a P-256 (ECDH) key")
    return None, pub.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)


# ---------------------------------------------------------------- envelopes


def report_aad(rid: str, kid: str) -> bytes:
    return f"{AAD_PREFIX}{rid}|{kid}".encode()


def _report_key(z: bytes, epk: bytes, pub: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=epk + pub, info=REPORT_INFO).derive(z)


def encode_document(doc: Mapping[str, Any]) -> bytes:
    """The report document as compact UTF-8 JSON, as PROTOCOL.md §2 step 1 asks."""
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()


def seal_report(
    doc_gz: bytes,
    pub: bytes,
    rid: str,
    *,
    ephemeral: ec.EllipticCurvePrivateKey | None = None,
    iv: bytes | None = None,
    att: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Seal gzip-compressed document bytes to the organisation key `pub`.

    `ephemeral` and `iv` are injectable only so known-answer vectors can be reproduced.
    """
    recipient = load_public_raw(pub)
    kid = kid_for(pub)
    e = ephemeral or ec.generate_private_key(ec.SECP256R1())
    epk = public_raw(e)
    z = e.exchange(ec.ECDH(), recipient)
    iv = iv if iv is not None else os.urandom(IV_LEN)
    ct = AESGCM(_report_key(z, epk, pub)).encrypt(iv, doc_gz, report_aad(rid, kid))
    envelope: dict[str, Any] = {
        "v": ENVELOPE_VERSION,
        "rid": rid,
        "kid": kid,
        "epk": b64u_encode(epk),
        "iv": b64u_encode(iv),
        "ct": b64u_encode(ct),
    }
    if att:
        envelope["att"] = att
    return envelope


def seal_document(doc: Mapping[str, Any], pub: bytes, rid: str | None = None, **kwargs: Any) -> dict[str, Any]:
    """Convenience for tools and tests: encode, gzip and seal a document."""
    rid = rid or str(uuid.uuid4())
    return seal_report(gzip.compress(encode_document(doc)), pub, rid, **kwargs)


def _gunzip_bounded(data: bytes, limit: int) -> bytes:
    """Decompress any valid gzip stream, refusing more than `limit` bytes of output."""
    d = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    out = d.decompress(data, limit + 1)
    if len(out) > limit:
        raise OverflowError("document over the size limit")
    if not d.eof:
        raise zlib.error("truncated gzip stream")
    # Concatenated gzip members are valid gzip; decompress them too, under the same limit.
    rest = d.unused_data
    while rest:
        d = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        out += d.decompress(rest, limit + 1 - len(out))
        if len(out) > limit:
            raise OverflowError("document over the size limit")
        if not d.eof:
            raise zlib.error("truncated gzip stream")
        rest = d.unused_data
    return out


def open_envelope(
    envelope: Mapping[str, Any],
    private_keys: Mapping[str, ec.EllipticCurvePrivateKey],
    *,
    max_doc_bytes: int = MAX_DOC_BYTES,
) -> dict[str, Any]:
    """Open a v1 envelope with the organisation's private keys (by kid) -> the document.

    Every failure is one EnvelopeError naming the rid.
    """
    rid = envelope.get("rid") if isinstance(envelope, Mapping) else None
    rid = rid if isinstance(rid, str) else "?"
    try:
        if envelope.get("v") != ENVELOPE_VERSION:
            raise EnvelopeError(rid, N_("versión de sobre no admitida"))
        kid = envelope.get("kid")
        if not is_kid(kid):
            raise EnvelopeError(rid, N_("identificador de clave mal formado"))
        private = private_keys.get(kid)
        if private is None:
            raise EnvelopeError(rid, N_("no se tiene la clave privada de este informe"))
        try:
            epk = b64u_decode(envelope["epk"])
            iv = b64u_decode(envelope["iv"])
            ct = b64u_decode(envelope["ct"])
        except (KeyError, ValueError) as exc:
            raise EnvelopeError(rid, N_("campo del sobre mal formado")) from exc
        if len(iv) != IV_LEN or len(ct) < TAG_LEN:
            raise EnvelopeError(rid, N_("campo del sobre mal formado"))
        try:
            ephemeral = load_public_raw(epk)
        except ValueError as exc:
            raise EnvelopeError(rid, N_("la clave efímera no es un punto P-256 válido")) from exc
        z = private.exchange(ec.ECDH(), ephemeral)
        pub = public_raw(private)
        try:
            doc_gz = AESGCM(_report_key(z, epk, pub)).decrypt(iv, ct, report_aad(rid, kid))
        except InvalidTag as exc:
            raise EnvelopeError(rid, N_("falló la autenticación (dañado o alterado)")) from exc
        try:
            doc_json = _gunzip_bounded(doc_gz, max_doc_bytes)
        except OverflowError as exc:
            raise EnvelopeError(rid, N_("el documento supera 1 MiB al descomprimirlo")) from exc
        except (zlib.error, EOFError) as exc:
            raise EnvelopeError(rid, N_("el documento no es gzip válido")) from exc
        try:
            doc = json.loads(doc_json.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise EnvelopeError(rid, N_("el documento no es JSON válido")) from exc
        if not isinstance(doc, dict):
            raise EnvelopeError(rid, N_("el documento no es un objeto JSON"))
        return doc
    except EnvelopeError:
        raise
    except Exception as exc:  # a crash here would hide which report failed
        raise EnvelopeError(rid, N_("no se puede abrir")) from exc


# ---------------------------------------------------------------- attachments


def chunk_iv(index: int) -> bytes:
    return bytes(4) + index.to_bytes(8, "big")


def chunk_aad(aid: str, index: int, final: bool) -> bytes:
    return f"{AAD_PREFIX}{aid}|{index}|{'last' if final else 'more'}".encode()


def seal_chunks(key: bytes, aid: str, plaintext: bytes) -> list[bytes]:
    pieces = [plaintext[i : i + CHUNK_SIZE] for i in range(0, len(plaintext), CHUNK_SIZE)] or [b""]
    aes = AESGCM(key)
    last = len(pieces) - 1
    return [aes.encrypt(chunk_iv(i), p, chunk_aad(aid, i, i == last)) for i, p in enumerate(pieces)]


def open_chunks(key: bytes, aid: str, chunks: list[bytes]) -> bytes:
    aes = AESGCM(key)
    last = len(chunks) - 1
    try:
        return b"".join(aes.decrypt(chunk_iv(i), c, chunk_aad(aid, i, i == last)) for i, c in enumerate(chunks))
    except InvalidTag as exc:
        raise ValueError(f"attachment {aid}: a chunk failed authentication") from exc


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


def token_digest(token: str) -> str:
    """Tokens and codes are stored only as this digest (they are random, so no slow hash is needed)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


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
