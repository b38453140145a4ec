"""Writes envelope-v2.json: known-answer vectors for PROTOCOL.md v2, from the page alone.

Deliberately independent of the fieldapp package (only `cryptography` and the standard library), so that the
vectors check fieldapp's sealer and opener instead of repeating them. Every random value is derived from a
fixed seed: running it again gives the same file. Run: python tests/vectors/make_envelope_v2.py
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

HERE = Path(__file__).parent
V1 = json.loads((HERE / "envelope-v1.json").read_text())
CHUNK = 65_536


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64u(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def seeded(label: str, n: int = 32) -> bytes:
    return hashlib.sha256(b"fieldapp v2 vectors|" + label.encode()).digest()[:n]


P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def scalar(label: str) -> int:
    return int.from_bytes(seeded(label), "big") % (P256_ORDER - 1) + 1


def point(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)


def jwk(key: ec.EllipticCurvePrivateKey) -> dict[str, str]:
    numbers = key.private_numbers()
    pub = numbers.public_numbers
    return {
        "kty": "EC",
        "crv": "P-256",
        "x": b64u(pub.x.to_bytes(32, "big")),
        "y": b64u(pub.y.to_bytes(32, "big")),
        "d": b64u(numbers.private_value.to_bytes(32, "big")),
    }


# The same recipient as v1: one organisation key opens both versions.
RECIPIENT = V1["recipient"]
RECIPIENT_KEY = ec.derive_private_key(int(RECIPIENT["d"], 16), ec.SECP256R1())
PUB = point(RECIPIENT_KEY)
KID = hashlib.sha256(PUB).digest()[:8].hex()
assert PUB == unb64u(RECIPIENT["pub"]) and KID == RECIPIENT["kid"]


def gzip_fixed(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=9, mtime=0)


def seal(doc_gz: bytes, rid: str, label: str, *, info: bytes = b"fieldapp/2 report", prefix: str = "fieldapp/2|"):
    eph = ec.derive_private_key(scalar("eph " + label), ec.SECP256R1())
    epk = point(eph)
    z = eph.exchange(ec.ECDH(), RECIPIENT_KEY.public_key())
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=epk + PUB, info=info).derive(z)
    iv = seeded("iv " + label, 12)
    ct = AESGCM(key).encrypt(iv, doc_gz, f"{prefix}{rid}|{KID}".encode())
    envelope = {"v": 2, "rid": rid, "kid": KID, "epk": b64u(epk), "iv": b64u(iv), "ct": b64u(ct)}
    return eph, z, key, envelope


def chunks_of(key: bytes, aid: str, plaintext: bytes, size: int = CHUNK, prefix: str = "fieldapp/2|") -> list[bytes]:
    pieces = [plaintext[i : i + size] for i in range(0, len(plaintext), size)] or [b""]
    last = len(pieces) - 1
    out = []
    for i, piece in enumerate(pieces):
        iv = bytes(4) + i.to_bytes(8, "big")
        aad = f"{prefix}{aid}|{i}|{'last' if i == last else 'more'}".encode()
        out.append(AESGCM(key).encrypt(iv, piece, aad))
    return out


ATTACHMENTS = [
    ("3f1e2d4c-5b6a-4978-8a9b-0c1d2e3f4a5b", 140_000, "every byte 0x01"),
    ("a0b1c2d3-e4f5-4a6b-9c7d-8e9f0a1b2c3d", CHUNK, "every byte 0x01"),
    ("5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9", CHUNK + 1, "every byte 0x01"),
    ("c9d8e7f6-a5b4-4c3d-8e2f-1a0b9c8d7e6f", 0, "empty"),
]


def attachment_vectors() -> list[dict]:
    made = []
    for aid, length, rule in ATTACHMENTS:
        key = seeded("key " + aid)
        plain = b"\x01" * length
        made.append(
            {
                "aid": aid,
                "key": b64u(key),
                "plaintext_sha256": b64u(hashlib.sha256(plain).digest()),
                "plaintext_len": length,
                "plaintext_rule": rule,
                "chunks": [b64u(c) for c in chunks_of(key, aid, plain)],
            }
        )
    return made


def envelope_vectors(attachments: list[dict]) -> list[dict]:
    first = attachments[0]
    docs = [
        (
            "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
            {
                "form": "trafficking-report",
                "form_version": 1,
                "created_at": "2026-12-02T09:15:00-05:00",
                "locale": "qu",
                "answers": {"exploitation_type": ["labour"], "region": "17", "notes": "Ñawpaq killa, Huepetuhe"},
                "attachments": [],
            },
            None,
        ),
        (
            "2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e",
            {
                "form": "trafficking-report",
                "form_version": 1,
                "created_at": "2026-12-02T11:40:00-05:00",
                "locale": "ay",
                "answers": {},
                "attachments": [
                    {
                        "aid": first["aid"],
                        "kind": "audio",
                        "mime": "audio/webm;codecs=opus",
                        "size": first["plaintext_len"],
                        "chunks": len(first["chunks"]),
                        "key": first["key"],
                        "sha256": first["plaintext_sha256"],
                        "duration_ms": 46_000,
                    }
                ],
            },
            [{"aid": first["aid"], "chunks": len(first["chunks"])}],
        ),
    ]
    made = []
    for rid, doc, att in docs:
        doc_json = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()
        doc_gz = gzip_fixed(doc_json)
        eph, z, key, envelope = seal(doc_gz, rid, rid)
        if att:
            envelope["att"] = att
        made.append(
            {
                "doc": doc,
                "doc_json": b64u(doc_json),
                "doc_gz": b64u(doc_gz),
                "eph_d": f"{eph.private_numbers().private_value:064x}",
                "eph_jwk": jwk(eph),
                "shared_z": b64u(z),
                "aes_key": b64u(key),
                "envelope": envelope,
            }
        )
    return made


def must_fail(good: dict) -> list[dict]:
    envelope = good["envelope"]
    rid = envelope["rid"]
    doc_gz = unb64u(good["doc_gz"])
    flipped = bytearray(unb64u(envelope["ct"]))
    flipped[3] ^= 0x01
    _, _, _, as_v1 = seal(doc_gz, rid, rid, info=b"fieldapp/1 report", prefix="fieldapp/1|")
    _, _, _, v1_labels = seal(doc_gz, rid, rid, info=b"fieldapp/2 report", prefix="fieldapp/1|")
    return [
        {"why": "ciphertext byte flipped", "envelope": {**envelope, "ct": b64u(bytes(flipped))}},
        {"why": "rid changed (AAD mismatch)", "envelope": {**envelope, "rid": "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"}},
        {"why": "v1 sealing labelled v2 (downgrade)", "envelope": {**as_v1, "v": 2}},
        {"why": "v2 sealing labelled v1 (version swapped)", "envelope": {**envelope, "v": 1}},
        {"why": "v2 key with the v1 AAD", "envelope": v1_labels},
        {"why": "tag cut off", "envelope": {**envelope, "ct": b64u(unb64u(envelope["ct"])[:-16])}},
    ]


def chunk_must_fail(attachments: list[dict]) -> list[dict]:
    """Chunks that open under v1's labels or sizes but must not open as v2."""
    aid, length, _ = ATTACHMENTS[2]
    key = seeded("key " + aid)
    plain = b"\x01" * length
    good = attachments[2]["chunks"]
    return [
        {
            "why": "v1 chunk AAD under the v2 chunk size",
            "aid": aid,
            "key": b64u(key),
            "chunks": [b64u(c) for c in chunks_of(key, aid, plain, prefix="fieldapp/1|")],
        },
        {
            "why": "chunks swapped",
            "aid": aid,
            "key": b64u(key),
            "chunks": list(reversed(good)),
        },
        {
            "why": "last chunk missing (the one before says more)",
            "aid": aid,
            "key": b64u(key),
            "chunks": good[:-1],
        },
    ]


def main() -> None:
    attachments = attachment_vectors()
    envelopes = envelope_vectors(attachments)
    out = {
        "about": "Known-answer vectors for the fieldapp report envelope v2 (PROTOCOL.md §2 and §4, v2: 65,536-byte "
        "attachment chunks, labels fieldapp/2), made from the page by tests/vectors/make_envelope_v2.py without "
        "the fieldapp package. Binary values are base64url without padding; d is the private scalar in hex.",
        "recipient": RECIPIENT,
        "chunk_size": CHUNK,
        "envelopes": envelopes,
        "attachments": attachments,
        "must_fail": must_fail(envelopes[1]),
        "chunks_must_fail": chunk_must_fail(attachments),
    }
    (HERE / "envelope-v2.json").write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
