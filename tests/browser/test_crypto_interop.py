"""The browser's WebCrypto sealer against the known-answer vectors, and Python opening what it seals."""

from __future__ import annotations

import json

import pytest

from fieldapp import crypto

from ..conftest import VECTORS, VECTORS_V2

SEAL_VECTOR = """
async ([vector, pub]) => {
  const c = await import("/static/js/crypto.js");
  const env = vector.envelope;
  const sealed = await c.sealReport(c.b64uDecode(vector.doc_gz), c.b64uDecode(pub), env.rid, {
    ephemeralJwk: vector.eph_jwk, iv: c.b64uDecode(env.iv), att: env.att, v: env.v,
  });
  return sealed;
}
"""


@pytest.mark.parametrize(
    "vector",
    VECTORS["envelopes"] + VECTORS_V2["envelopes"],
    ids=lambda v: f"v{v['envelope']['v']}-{v['envelope']['rid'][:8]}",
)
def test_browser_reproduces_envelope_vectors(page, live_server, vector) -> None:
    page.goto(live_server.url + "/")
    sealed = page.evaluate(SEAL_VECTOR, [vector, VECTORS["recipient"]["pub"]])
    assert sealed == vector["envelope"]


@pytest.mark.parametrize(
    "version,vector",
    [(1, v) for v in VECTORS["attachments"]] + [(2, v) for v in VECTORS_V2["attachments"]],
    ids=lambda x: str(x) if isinstance(x, int) else f"{x['plaintext_len']}B",
)
def test_browser_reproduces_attachment_chunks(page, live_server, version, vector) -> None:
    page.goto(live_server.url + "/")
    chunks = page.evaluate(
        """async ([v, version]) => {
          const c = await import("/static/js/crypto.js");
          const plain = new Uint8Array(Number(v.plaintext_len)).fill(1);
          return (await c.sealChunks(c.b64uDecode(v.key), v.aid, plain, version)).map(c.b64uEncode);
        }""",
        [vector, version],
    )
    assert chunks == vector["chunks"]


def test_the_phone_seals_in_the_highest_version_both_sides_speak(page, live_server) -> None:
    page.goto(live_server.url + "/")
    chosen = page.evaluate(
        """async () => {
          const c = await import("/static/js/crypto.js");
          return [{ versions: [1, 2] }, { versions: [1] }, {}, null, { versions: [1, 2, 7] }, { versions: "2" }]
            .map(c.versionFor);
        }"""
    )
    assert chosen == [2, 1, 1, 1, 2, 1]


@pytest.mark.parametrize("version", [1, 2])
def test_python_opens_what_the_browser_seals(page, live_server, version) -> None:
    page.goto(live_server.url + "/")
    doc = {"form": "trafficking-report", "answers": {"notes": "Ñawpaq — canary ✓ " + "x" * 300_000}}
    pub = crypto.b64u_encode(crypto.public_raw(live_server.private))
    envelope, key, chunks = page.evaluate(
        """async ([doc, pub, v]) => {
          const c = await import("/static/js/crypto.js");
          const key = crypto.getRandomValues(new Uint8Array(32));
          const file = new Uint8Array(300001).map((_, i) => i % 253);
          const chunks = await c.sealChunks(key, "3f1e2d4c-5b6a-4978-8a9b-0c1d2e3f4a5b", file, v);
          const envelope = await c.sealDocument(doc, c.b64uDecode(pub), undefined, [], v);
          return [envelope, c.b64uEncode(key), chunks.map(c.b64uEncode)];
        }""",
        [doc, pub, version],
    )
    assert envelope["kid"] == live_server.kid and envelope["v"] == version
    assert crypto.open_envelope(envelope, {live_server.kid: live_server.private}) == doc
    opened = crypto.open_chunks(
        crypto.b64u_decode(key),
        "3f1e2d4c-5b6a-4978-8a9b-0c1d2e3f4a5b",
        [crypto.b64u_decode(c) for c in chunks],
        version,
    )
    assert opened == bytes(i % 253 for i in range(300001)) and len(chunks) == crypto.chunk_count(300001, version)
    # The browser's kid and base64url agree with Python's on the same key.
    kid = page.evaluate(
        "async ([pub]) => { const c = await import('/static/js/crypto.js'); return c.kidFor(c.b64uDecode(pub)); }",
        [pub],
    )
    assert kid == live_server.kid


def test_every_vector_envelope_opens_in_python_after_a_browser_round_trip(page, live_server) -> None:
    """b64uDecode/b64uEncode in the browser are inverse on every field of every vector."""
    page.goto(live_server.url + "/")
    fields = [v["envelope"][name] for v in VECTORS["envelopes"] for name in ("epk", "iv", "ct")]
    back = page.evaluate(
        """async ([fields]) => {
          const c = await import('/static/js/crypto.js');
          return fields.map((f) => c.b64uEncode(c.b64uDecode(f)));
        }""",
        [fields],
    )
    assert back == fields
    assert json.dumps(back)
