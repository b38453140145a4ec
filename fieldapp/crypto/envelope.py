"""The wire formats of PROTOCOL.md (v1 and v2), the Python twin of static/js/crypto.js: report envelopes, attachment
chunks, and the P-256 keys they are sealed to. Bytes in, bytes out; checked by the known-answer vectors."""

from __future__ import annotations

import base64
import gzip
import hashlib
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

from ..errors import N_, Invalid


@dataclass(frozen=True)
class Wire:
    """What one version of the protocol fixes: its labels, bound into every key and tag, and its chunk size."""

    v: int
    report_info: bytes
    aad_prefix: str
    chunk_size: int


# v1 is never edited (PROTOCOL.md): v2 only adds smaller chunks, under labels of its own so nothing mixes.
WIRES = {
    1: Wire(1, b"fieldapp/1 report", "fieldapp/1|", 262_144),
    2: Wire(2, b"fieldapp/2 report", "fieldapp/2|", 65_536),
}
ENVELOPE_VERSION = 1  # what tools seal with unless told otherwise; phones seal with LATEST_VERSION
LATEST_VERSION = 2
REPORT_INFO = WIRES[1].report_info
AAD_PREFIX = WIRES[1].aad_prefix
CHUNK_SIZE = WIRES[1].chunk_size
MAX_DOC_BYTES = 1024 * 1024
PUB_LEN = 65
IV_LEN = 12
TAG_LEN = 16

_B64U_RE = re.compile(r"[A-Za-z0-9_-]*")
_B64U_VALUE = {c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")}
_KID_RE = re.compile(r"[0-9a-f]{16}")


class EnvelopeError(Invalid):
    """An envelope that cannot be opened; names the rid, never key material."""

    translatable_params = ("reason",)

    def __init__(self, rid: str, reason: str) -> None:
        super().__init__(N_("Informe %(rid)s: %(reason)s"), rid=rid, reason=reason)
        self.rid = rid
        self.reason = reason


# ---------------------------------------------------------------- encoding


def b64u_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64u_length(text: object) -> int:
    """The decoded length of strict base64url without padding, checked without decoding; else ValueError."""
    if not isinstance(text, str) or len(text) % 4 == 1 or not _B64U_RE.fullmatch(text):
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
    return isinstance(text, str) and _KID_RE.fullmatch(text) is not None


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


def wire(v: int) -> Wire:
    """The version's constants; KeyError for one that does not exist."""
    return WIRES[v]


def report_aad(rid: str, kid: str, v: int = 1) -> bytes:
    return f"{WIRES[v].aad_prefix}{rid}|{kid}".encode()


def _report_key(z: bytes, epk: bytes, pub: bytes, v: int) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=epk + pub, info=WIRES[v].report_info).derive(z)


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
    v: int = ENVELOPE_VERSION,
) -> dict[str, Any]:
    """Seal gzip-compressed document bytes to the organisation key `pub`, as version `v`.

    `ephemeral` and `iv` are injectable only so known-answer vectors can be reproduced.
    """
    recipient = load_public_raw(pub)
    kid = kid_for(pub)
    e = ephemeral or ec.generate_private_key(ec.SECP256R1())
    epk = public_raw(e)
    z = e.exchange(ec.ECDH(), recipient)
    iv = iv if iv is not None else os.urandom(IV_LEN)
    ct = AESGCM(_report_key(z, epk, pub, v)).encrypt(iv, doc_gz, report_aad(rid, kid, v))
    envelope: dict[str, Any] = {
        "v": wire(v).v,
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
    """Open a v1 or v2 envelope with the organisation's private keys (by kid) -> the document.

    Every failure is one EnvelopeError naming the rid.
    """
    rid = envelope.get("rid") if isinstance(envelope, Mapping) else None
    rid = rid if isinstance(rid, str) else "?"
    try:
        v = envelope.get("v")
        if type(v) is not int or v not in WIRES:
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
            doc_gz = AESGCM(_report_key(z, epk, pub, v)).decrypt(iv, ct, report_aad(rid, kid, v))
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


def chunk_aad(aid: str, index: int, final: bool, v: int = 1) -> bytes:
    return f"{WIRES[v].aad_prefix}{aid}|{index}|{'last' if final else 'more'}".encode()


def chunk_count(size: int, v: int = 1) -> int:
    """How many chunks a file of `size` bytes is cut into (an empty file is one empty chunk)."""
    return max(1, -(-size // WIRES[v].chunk_size))


def seal_chunks(key: bytes, aid: str, plaintext: bytes, v: int = 1) -> list[bytes]:
    step = WIRES[v].chunk_size
    pieces = [plaintext[i : i + step] for i in range(0, len(plaintext), step)] or [b""]
    aes = AESGCM(key)
    last = len(pieces) - 1
    return [aes.encrypt(chunk_iv(i), p, chunk_aad(aid, i, i == last, v)) for i, p in enumerate(pieces)]


def open_chunks(key: bytes, aid: str, chunks: list[bytes], v: int = 1) -> bytes:
    """Every chunk opened in order; a chunk failing its tag, or one longer than the version's, is a ValueError."""
    aes = AESGCM(key)
    last = len(chunks) - 1
    if any(len(c) > WIRES[v].chunk_size + TAG_LEN for c in chunks):
        raise ValueError(f"attachment {aid}: a chunk is longer than version {v} allows")
    try:
        return b"".join(aes.decrypt(chunk_iv(i), c, chunk_aad(aid, i, i == last, v)) for i, c in enumerate(chunks))
    except InvalidTag as exc:
        raise ValueError(f"attachment {aid}: a chunk failed authentication") from exc
