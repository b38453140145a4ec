"""fieldapp.crypto against the independent known-answer vectors, and key custody round trips."""

from __future__ import annotations

import copy
import gzip
import json

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from fieldapp import crypto

from .conftest import FAST_KDF, VECTORS, VECTORS_V2

RECIPIENT = VECTORS["recipient"]
PRIVATE = ec.derive_private_key(int(RECIPIENT["d"], 16), ec.SECP256R1())
PUB = crypto.b64u_decode(RECIPIENT["pub"])


def test_recipient_kid_and_point() -> None:
    assert crypto.public_raw(PRIVATE) == PUB
    assert crypto.kid_for(PUB) == RECIPIENT["kid"]
    der, pub = crypto.parse_pem(RECIPIENT["pkcs8_pem"].encode())
    assert pub == PUB and crypto.load_private_key(der).private_numbers().private_value == int(RECIPIENT["d"], 16)


# Both versions' vectors: the same recipient key, v2's labels and chunk size (PROTOCOL.md §9).
ENVELOPE_VECTORS = VECTORS["envelopes"] + VECTORS_V2["envelopes"]


def vector_id(vector: dict) -> str:
    return f"v{vector['envelope']['v']}-{vector['envelope']['rid'][:8]}"


@pytest.mark.parametrize("vector", ENVELOPE_VECTORS, ids=vector_id)
def test_seal_reproduces_vector(vector: dict) -> None:
    expected = vector["envelope"]
    ephemeral = ec.derive_private_key(int(vector["eph_d"], 16), ec.SECP256R1())
    sealed = crypto.seal_report(
        crypto.b64u_decode(vector["doc_gz"]),
        PUB,
        expected["rid"],
        ephemeral=ephemeral,
        iv=crypto.b64u_decode(expected["iv"]),
        att=expected.get("att"),
        v=expected["v"],
    )
    assert sealed == expected
    assert crypto.encode_document(vector["doc"]) == crypto.b64u_decode(vector["doc_json"])


@pytest.mark.parametrize("vector", ENVELOPE_VECTORS, ids=vector_id)
def test_open_vector(vector: dict) -> None:
    assert crypto.open_envelope(vector["envelope"], {RECIPIENT["kid"]: PRIVATE}) == vector["doc"]


@pytest.mark.parametrize("case", VECTORS["must_fail"], ids=lambda c: c["why"])
def test_bad_envelopes_fail_clearly(case: dict) -> None:
    with pytest.raises(crypto.EnvelopeError) as info:
        crypto.open_envelope(case["envelope"], {RECIPIENT["kid"]: PRIVATE})
    assert info.value.rid == case["envelope"]["rid"]
    assert case["envelope"]["rid"] in str(info.value)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda e: e.update(v=2),
        lambda e: e.update(kid="XYZ"),
        lambda e: e.update(iv="!!"),
        lambda e: e.update(iv=crypto.b64u_encode(b"short")),
        lambda e: e.update(ct=""),
        lambda e: e.pop("epk"),
        lambda e: e.update(epk=crypto.b64u_encode(b"\x04" + b"\x00" * 64)),
    ],
)
def test_malformed_envelopes_fail_clearly(mutate) -> None:
    envelope = copy.deepcopy(VECTORS["envelopes"][0]["envelope"])
    mutate(envelope)
    with pytest.raises(crypto.EnvelopeError):
        crypto.open_envelope(envelope, {RECIPIENT["kid"]: PRIVATE})


def test_seal_and_open_round_trip_with_fresh_key() -> None:
    der = crypto.generate_private_key()
    pub = crypto.public_raw(der)
    doc = {"answers": {"notes": "Ñuqa runa simi rimani — ¿dónde?"}}
    envelope = crypto.seal_document(doc, pub)
    key = crypto.load_private_key(der)
    assert crypto.open_envelope(envelope, {crypto.kid_for(pub): key}) == doc
    assert envelope["epk"] != crypto.seal_document(doc, pub)["epk"]  # a fresh ephemeral key each time


def test_concatenated_gzip_members_open_and_stay_bounded() -> None:
    doc = json.dumps({"a": "b" * 100}).encode()
    half = len(doc) // 2
    envelope = crypto.seal_report(
        gzip.compress(doc[:half]) + gzip.compress(doc[half:]), PUB, "0b6c4b1e-6f0e-4c5e-9a55-3f0f5c2f6d11"
    )
    assert crypto.open_envelope(envelope, {RECIPIENT["kid"]: PRIVATE}) == {"a": "b" * 100}
    bomb = gzip.compress(b" " * 600_000) * 2  # each member under the limit, together over it
    envelope = crypto.seal_report(bomb, PUB, "0b6c4b1e-6f0e-4c5e-9a55-3f0f5c2f6d11")
    with pytest.raises(crypto.EnvelopeError, match="1 MiB"):
        crypto.open_envelope(envelope, {RECIPIENT["kid"]: PRIVATE})


@pytest.mark.parametrize("vector", VECTORS["attachments"], ids=lambda v: v["plaintext_rule"])
def test_attachment_chunks_match_vectors(vector: dict) -> None:
    assert vector["plaintext_rule"] in ("every byte 0x01", "empty")
    plaintext = b"\x01" * int(vector["plaintext_len"])
    key = crypto.b64u_decode(vector["key"])
    expected = [crypto.b64u_decode(c) for c in vector["chunks"]]
    assert crypto.seal_chunks(key, vector["aid"], plaintext) == expected
    assert crypto.open_chunks(key, vector["aid"], expected) == plaintext
    with pytest.raises(ValueError):
        crypto.open_chunks(key, vector["aid"], expected[:-1] if len(expected) > 1 else [b"\x00" * 16])


@pytest.mark.parametrize("text", ["a=", "a+b", "a/b", "====", "A", "ab\n", "YQ="])
def test_b64u_decode_is_strict(text: str) -> None:
    with pytest.raises(ValueError):
        crypto.b64u_decode(text)


def test_b64u_rejects_non_canonical_trailing_bits() -> None:
    assert crypto.b64u_decode("YQ") == b"a"
    with pytest.raises(ValueError):
        crypto.b64u_decode("YR")


def test_wrap_unwrap_private_key() -> None:
    der = crypto.generate_private_key()
    kid = crypto.kid_for(crypto.public_raw(der))
    wrapped = crypto.wrap_private_key(der, kid, "una frase larga", FAST_KDF)
    assert crypto.unwrap_private_key(wrapped, kid, "una frase larga") == der
    with pytest.raises(crypto.UnwrapError):
        crypto.unwrap_private_key(wrapped, kid, "otra frase larga")
    with pytest.raises(crypto.UnwrapError):
        crypto.unwrap_private_key(wrapped, "0" * 16, "una frase larga")  # bound to its kid
    assert der.hex() not in wrapped and "una frase" not in wrapped


def test_unwrap_refuses_absurd_cost_parameters() -> None:
    der = crypto.generate_private_key()
    kid = crypto.kid_for(crypto.public_raw(der))
    record = json.loads(crypto.wrap_private_key(der, kid, "una frase larga", FAST_KDF))
    record["n"] = 2**30
    with pytest.raises(crypto.UnwrapError):
        crypto.unwrap_private_key(json.dumps(record), kid, "una frase larga")


def test_passphrase_hash() -> None:
    stored = crypto.hash_passphrase("entrada segura", FAST_KDF)
    assert crypto.verify_passphrase("entrada segura", stored)
    assert not crypto.verify_passphrase("entrada segurA", stored)
    assert not crypto.verify_passphrase("entrada segura", "garbage")
    assert stored != crypto.hash_passphrase("entrada segura", FAST_KDF)  # salted


def test_recovery_kit_round_trip() -> None:
    der = crypto.generate_private_key()
    phrase = crypto.generate_recovery_phrase()
    assert len(phrase.split()) == 12 and crypto.check_recovery_phrase(phrase)
    kit = crypto.make_recovery_kit(der, phrase, FAST_KDF)
    assert crypto.open_recovery_kit(kit, "  " + phrase.upper().replace(" ", "   ") + "\n") == der
    words = phrase.split()
    words[0], words[1] = words[1], words[0]
    wrong = " ".join(words)
    with pytest.raises(crypto.UnwrapError):
        crypto.open_recovery_kit(kit, wrong)
    with pytest.raises(crypto.UnwrapError):
        crypto.open_recovery_kit(b"{not json", phrase)


def test_recovery_phrase_checksum_catches_a_typo() -> None:
    valid = " ".join(["abandon"] * 11 + ["about"])  # BIP-39's own test phrase
    assert crypto.check_recovery_phrase(valid)
    assert not crypto.check_recovery_phrase(" ".join(["abandon"] * 12))
    assert not crypto.check_recovery_phrase("not a phrase at all")
