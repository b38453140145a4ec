"""Writes keylist-v1.json: known-answer vectors for the signed key list of PROTOCOL.md §12, from the page alone.

Deliberately independent of the fieldapp package (only `cryptography` and the standard library), so that the
vectors check fieldapp's signer and verifiers instead of repeating them. Signatures are deterministic (RFC 6979):
running it again gives the same file. Run: python tests/vectors/make_keylist_v1.py
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

HERE = Path(__file__).parent
V1 = json.loads((HERE / "envelope-v1.json").read_text())
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
CONTEXT = b"fieldapp/1 key list\n"


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64u(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def raw(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)


def key_from_label(label: str) -> ec.EllipticCurvePrivateKey:
    scalar = int.from_bytes(hashlib.sha256(b"fieldapp keylist vectors|" + label.encode()).digest(), "big")
    return ec.derive_private_key(scalar % (P256_ORDER - 1) + 1, ec.SECP256R1())


def signing_key_of(org: ec.EllipticCurvePrivateKey) -> ec.EllipticCurvePrivateKey:
    scalar = org.private_numbers().private_value.to_bytes(32, "big")
    okm = HKDF(algorithm=hashes.SHA256(), length=48, salt=None, info=b"fieldapp/1 signing key").derive(scalar)
    return ec.derive_private_key(int.from_bytes(okm, "big") % (P256_ORDER - 1) + 1, ec.SECP256R1())


def sign(key: ec.EllipticCurvePrivateKey, message: bytes) -> bytes:
    r, s = decode_dss_signature(key.sign(message, ec.ECDSA(hashes.SHA256(), deterministic_signing=True)))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def entry(pub: bytes, current: bool) -> dict:
    return {"kid": hashlib.sha256(pub).digest()[:8].hex(), "alg": "ECDH-P256", "pub": b64u(pub), "current": current}


def document(seq: int, keys: list[dict]) -> bytes:
    return json.dumps({"format": "fieldapp-keys", "v": 1, "seq": seq, "keys": keys}, separators=(",", ":")).encode()


def case(name: str, doc: bytes, sig: bytes, signer: bytes, reason: str | None = None) -> dict:
    found = {"name": name, "list": b64u(doc), "sig": b64u(sig), "signer": b64u(signer)}
    if reason:
        found["reason"] = reason
    return found


def main() -> None:
    org = ec.derive_private_key(int(V1["recipient"]["d"], 16), ec.SECP256R1())
    signer = signing_key_of(org)
    signer_pub = raw(signer)
    retired, current = unb64u(V1["recipient"]["pub"]), raw(key_from_label("rotated"))
    first = document(1, [entry(retired, True)])
    rotated = document(2, [entry(retired, False), entry(current, True)])
    stranger = key_from_label("stranger")
    two_current = document(3, [entry(retired, True), entry(current, True)])
    wrong_kid = document(3, [{**entry(current, True), "kid": "0" * 16}])
    vectors = {
        "about": (
            "Signed key lists of PROTOCOL.md §12. The organisation key is envelope-v1.json's recipient; the signer "
            "is derived from it; signatures are r||s over CONTEXT + list, made with RFC 6979 (any valid signature "
            "verifies: these are fixed so that the file is too)."
        ),
        "context": b64u(CONTEXT),
        "org_d": V1["recipient"]["d"],
        "signer": {
            "d": b64u(signer.private_numbers().private_value.to_bytes(32, "big")),
            "pub": b64u(signer_pub),
            "fingerprint_hex": hashlib.sha256(signer_pub).hexdigest()[:32],
        },
        "good": [
            {
                **case("first", first, sign(signer, CONTEXT + first), signer_pub),
                "seq": 1,
                "current": entry(retired, True)["kid"],
            },
            {
                **case("rotated", rotated, sign(signer, CONTEXT + rotated), signer_pub),
                "seq": 2,
                "current": entry(current, True)["kid"],
            },
        ],
        "must_fail": [
            case(
                "tampered",
                rotated.replace(b'"seq":2', b'"seq":9'),
                sign(signer, CONTEXT + rotated),
                signer_pub,
                "signature",
            ),
            case("another signer", rotated, sign(stranger, CONTEXT + rotated), signer_pub, "signature"),
            case(
                "signed by the stranger, naming it",
                rotated,
                sign(stranger, CONTEXT + rotated),
                raw(stranger),
                "not the pinned signer",
            ),
            case("no context", rotated, sign(signer, rotated), signer_pub, "signature"),
            case("two current keys", two_current, sign(signer, CONTEXT + two_current), signer_pub, "list"),
            case("kid not the key's", wrong_kid, sign(signer, CONTEXT + wrong_kid), signer_pub, "list"),
            case("short signature", rotated, sign(signer, CONTEXT + rotated)[:63], signer_pub, "signature"),
        ],
    }
    (HERE / "keylist-v1.json").write_text(json.dumps(vectors, indent=2) + "\n")


if __name__ == "__main__":
    main()
