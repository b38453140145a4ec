"""PROTOCOL.md v2 (65,536-byte attachment chunks under labels of their own): fieldapp.crypto against the v2
known-answer vectors, and the server taking v2 reports and chunks beside v1 ones."""

from __future__ import annotations

import copy
import uuid

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select

from fieldapp import crypto
from fieldapp.extensions import db
from fieldapp.models import Attachment

from .conftest import VECTORS, VECTORS_V2, Org, table_counts
from .test_api import assert_problem
from .test_attachments import put

RECIPIENT = VECTORS_V2["recipient"]
PRIVATE = ec.derive_private_key(int(RECIPIENT["d"], 16), ec.SECP256R1())
PUB = crypto.b64u_decode(RECIPIENT["pub"])
KEYS = {RECIPIENT["kid"]: PRIVATE}


def test_the_v2_vectors_fix_what_v2_changes_and_nothing_else() -> None:
    assert VECTORS_V2["chunk_size"] == crypto.wire(2).chunk_size == 65_536
    assert crypto.wire(1) == crypto.Wire(1, b"fieldapp/1 report", "fieldapp/1|", 262_144)  # v1 never edited
    assert RECIPIENT == VECTORS["recipient"]  # one organisation key opens both versions


@pytest.mark.parametrize("case", VECTORS_V2["must_fail"], ids=lambda c: c["why"])
def test_v2_envelopes_that_must_fail_fail_clearly(case: dict) -> None:
    with pytest.raises(crypto.EnvelopeError, match="autenticación") as info:  # each fails its tag, none earlier
        crypto.open_envelope(case["envelope"], KEYS)
    assert info.value.rid == case["envelope"]["rid"]


def test_an_unknown_version_is_refused_by_the_opener() -> None:
    for v in (0, 3, "2", 2.0, True, None):
        envelope = copy.deepcopy(VECTORS_V2["envelopes"][0]["envelope"]) | {"v": v}
        with pytest.raises(crypto.EnvelopeError, match="versión"):
            crypto.open_envelope(envelope, KEYS)


@pytest.mark.parametrize("vector", VECTORS_V2["attachments"], ids=lambda v: f"{v['plaintext_len']} bytes")
def test_v2_chunks_match_the_vectors(vector: dict) -> None:
    plain = b"\x01" * vector["plaintext_len"]
    key, aid = crypto.b64u_decode(vector["key"]), vector["aid"]
    expected = [crypto.b64u_decode(c) for c in vector["chunks"]]
    assert len(expected) == crypto.chunk_count(len(plain), 2)
    assert crypto.seal_chunks(key, aid, plain, 2) == expected
    assert crypto.open_chunks(key, aid, expected, 2) == plain
    if len(plain) > 1:
        with pytest.raises(ValueError):
            crypto.open_chunks(key, aid, expected, 1)  # the same chunks read as v1 do not open


@pytest.mark.parametrize("case", VECTORS_V2["chunks_must_fail"], ids=lambda c: c["why"])
def test_v2_chunks_that_must_fail_do_not_open(case: dict) -> None:
    with pytest.raises(ValueError, match="failed authentication"):
        crypto.open_chunks(
            crypto.b64u_decode(case["key"]), case["aid"], [crypto.b64u_decode(c) for c in case["chunks"]], 2
        )


def test_a_chunk_longer_than_its_version_allows_does_not_open() -> None:
    aid = str(uuid.uuid4())
    [v1_chunk] = crypto.seal_chunks(bytes(32), aid, bytes(100_000), 1)
    with pytest.raises(ValueError, match="longer"):
        crypto.open_chunks(bytes(32), aid, [v1_chunk], 2)


# ---------------------------------------------------------------- the server


def test_bootstrap_names_the_versions_the_server_takes(org: Org, client) -> None:
    assert client.get("/api/v1/bootstrap", headers=org.headers).json["versions"] == [1, 2]


def test_v2_reports_and_their_chunks_are_taken_beside_v1_ones(org: Org, client, app) -> None:
    plain = bytes(range(256)) * 600  # 153,600 bytes: 3 chunks in v2, 1 in v1
    sent = {}
    for v in (1, 2):
        aid = str(uuid.uuid4())
        chunks = crypto.seal_chunks(bytes(32), aid, plain, v)
        envelope = crypto.seal_document(
            {"form": "trafficking-report", "answers": {}}, org.pub, att=[{"aid": aid, "chunks": len(chunks)}], v=v
        )
        [result] = client.post("/api/v1/reports", json={"reports": [envelope]}, headers=org.headers).json["results"]
        assert result["status"] == "stored" and envelope["v"] == v
        sent[v] = (aid, chunks)
    (aid1, chunks1), (aid2, chunks2) = sent[1], sent[2]
    assert (len(chunks1), len(chunks2)) == (1, 3)
    assert len(chunks2[0]) == 65_536 + crypto.TAG_LEN
    with app.app_context():
        versions = dict(db.session.execute(select(Attachment.aid, Attachment.version)).all())
    assert versions == {aid1: 1, aid2: 2}

    before = table_counts(app)
    # A v2 attachment's chunks have v2's sizes: a v1-sized body or a short middle chunk is refused.
    assert_problem(put(client, org, aid2, 0, bytes(262_144 + crypto.TAG_LEN)), 413)
    assert_problem(put(client, org, aid2, 0, chunks2[0][:-1]), 422)
    assert_problem(put(client, org, aid2, 3, chunks2[0]), 404)  # past its declared count
    assert table_counts(app) == before
    for i, chunk in enumerate(chunks2):
        assert put(client, org, aid2, i, chunk).status_code == 204
    assert put(client, org, aid1, 0, chunks1[0]).status_code == 204
    assert client.get(f"/api/v1/attachments/{aid2}", headers=org.headers).json == {"chunks": 3, "received": [0, 1, 2]}


def test_a_v1_envelope_declaring_v2_sized_chunks_cannot_pass_a_v2_limit(org: Org, client, app) -> None:
    """Limits are in bytes: the same count of chunks is four times the bytes in v1."""
    per_attachment = app.config["FIELDAPP"].attachment_limits[0]
    chunks = per_attachment // 65_536  # at v2's limit
    doc = {"form": "trafficking-report", "answers": {}}
    for v, status in ((2, "stored"), (1, "rejected")):
        envelope = crypto.seal_document(doc, org.pub, att=[{"aid": str(uuid.uuid4()), "chunks": chunks}], v=v)
        [result] = client.post("/api/v1/reports", json={"reports": [envelope]}, headers=org.headers).json["results"]
        assert result["status"] == status
