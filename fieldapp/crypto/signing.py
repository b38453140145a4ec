"""The organisation's signed key list (PROTOCOL.md §12): an ECDSA P-256 signing key derived from an organisation
key, the list's exact bytes, its signature and its fingerprint; twin of static/js/crypto.js's verifyKeyList."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .envelope import PUB_LEN, b64u_decode, b64u_encode, is_kid, kid_for, load_public_raw, public_raw

SIGNER_INFO = b"fieldapp/1 signing key"
LIST_CONTEXT = b"fieldapp/1 key list\n"  # what is signed: this, then the list's bytes
LIST_FORMAT = "fieldapp-keys"
SIG_LEN = 64
MAX_LIST_BYTES = 64 * 1024
MAX_KEYS = 256
# The order of P-256's group.
P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


class KeyListError(ValueError):
    """A key list that is not signed by the expected key, or not a key list at all."""


def derive_signing_key(org_private: ec.EllipticCurvePrivateKey) -> ec.EllipticCurvePrivateKey:
    """The signing key made with an organisation key: HKDF-SHA256 of its scalar, reduced into [1, n-1]. Whoever
    holds the organisation key (wrapped, in a recovery kit, offline) holds this one."""
    scalar = org_private.private_numbers().private_value.to_bytes(32, "big")
    okm = HKDF(algorithm=hashes.SHA256(), length=48, salt=None, info=SIGNER_INFO).derive(scalar)
    return ec.derive_private_key(int.from_bytes(okm, "big") % (P256_N - 1) + 1, ec.SECP256R1())


def signer_raw(signing_key: ec.EllipticCurvePrivateKey) -> bytes:
    return public_raw(signing_key)


def fingerprint(signer: bytes) -> str:
    """What a person compares: the first 16 bytes of SHA-256 of the signer's raw public key, 8 groups of 4."""
    digest = hashlib.sha256(signer).hexdigest()[:32].upper()
    return " ".join(digest[i : i + 4] for i in range(0, 32, 4))


def fingerprint_hex(signer: bytes) -> str:
    """The same fingerprint as the enrolment QR carries it: 32 lowercase hex digits."""
    return hashlib.sha256(signer).hexdigest()[:32]


@dataclass(frozen=True)
class ListedKey:
    kid: str
    pub: bytes
    current: bool

    def entry(self) -> dict[str, Any]:
        return {"kid": self.kid, "alg": "ECDH-P256", "pub": b64u_encode(self.pub), "current": self.current}


def list_bytes(seq: int, keys: list[ListedKey]) -> bytes:
    """The key list exactly as it is signed and sent: compact JSON, members in this order."""
    document = {"format": LIST_FORMAT, "v": 1, "seq": seq, "keys": [key.entry() for key in keys]}
    return json.dumps(document, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def sign_list(signing_key: ec.EllipticCurvePrivateKey, document: bytes) -> bytes:
    """The signature as WebCrypto wants it: r and s, 32 bytes each."""
    r, s = decode_dss_signature(signing_key.sign(LIST_CONTEXT + document, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


@dataclass(frozen=True)
class KeyList:
    seq: int
    keys: list[ListedKey]
    document: bytes
    signature: bytes
    signer: bytes

    @property
    def current(self) -> ListedKey:
        return next(key for key in self.keys if key.current)

    def wire(self) -> dict[str, str]:
        """The bootstrap's `signed_keys` member."""
        return {
            "list": b64u_encode(self.document),
            "sig": b64u_encode(self.signature),
            "signer": b64u_encode(self.signer),
        }


def parse_list(document: bytes) -> tuple[int, list[ListedKey]]:
    """A key list's sequence number and keys, each checked; KeyListError otherwise."""
    if len(document) > MAX_LIST_BYTES:
        raise KeyListError("too large")
    try:
        parsed = json.loads(document.decode("ascii"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise KeyListError("not JSON") from exc
    if not isinstance(parsed, dict) or set(parsed) != {"format", "v", "seq", "keys"}:
        raise KeyListError("members")
    seq, entries = parsed["seq"], parsed["keys"]
    if parsed["format"] != LIST_FORMAT or parsed["v"] != 1 or type(seq) is not int or not 1 <= seq < 2**53:
        raise KeyListError("format")
    if not isinstance(entries, list) or not 1 <= len(entries) <= MAX_KEYS:
        raise KeyListError("keys")
    keys = []
    for entry in entries:
        if not isinstance(entry, dict) or set(entry) != {"kid", "alg", "pub", "current"}:
            raise KeyListError("key members")
        try:
            pub = b64u_decode(entry["pub"])
            load_public_raw(pub)
        except (TypeError, ValueError) as exc:
            raise KeyListError("key") from exc
        if entry["alg"] != "ECDH-P256" or not is_kid(entry["kid"]) or kid_for(pub) != entry["kid"]:
            raise KeyListError("kid")
        if not isinstance(entry["current"], bool):
            raise KeyListError("current")
        keys.append(ListedKey(entry["kid"], pub, entry["current"]))
    if sum(key.current for key in keys) != 1 or len({key.kid for key in keys}) != len(keys):
        raise KeyListError("one current key, each kid once")
    return seq, keys


def verify_list(signer: bytes, document: bytes, signature: bytes) -> KeyList:
    """The list, if `signature` over it is the signer's; KeyListError otherwise."""
    if len(signer) != PUB_LEN or len(signature) != SIG_LEN:
        raise KeyListError("lengths")
    try:
        public = load_public_raw(signer)
    except ValueError as exc:
        raise KeyListError("signer") from exc
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    try:
        public.verify(encode_dss_signature(r, s), LIST_CONTEXT + document, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature as exc:
        raise KeyListError("signature") from exc
    seq, keys = parse_list(document)
    return KeyList(seq, keys, document, signature, signer)


def signed_list(signing_key: ec.EllipticCurvePrivateKey, seq: int, keys: list[ListedKey]) -> KeyList:
    document = list_bytes(seq, keys)
    parse_list(document)  # what this side signs, the other side must accept
    return KeyList(seq, keys, document, sign_list(signing_key, document), signer_raw(signing_key))


def from_wire(member: object) -> KeyList:
    """A bootstrap's (or a file's) `signed_keys`, checked against the signer it names; KeyListError otherwise."""
    if not isinstance(member, dict) or set(member) != {"list", "sig", "signer"}:
        raise KeyListError("members")
    try:
        document, signature, signer = (b64u_decode(member[name]) for name in ("list", "sig", "signer"))
    except (TypeError, ValueError) as exc:
        raise KeyListError("base64url") from exc
    return verify_list(signer, document, signature)
