"""The browser's WebCrypto sealer against the known-answer vectors, and Python opening what it seals."""

from __future__ import annotations

import json

import pytest

from fieldapp import crypto

from ..conftest import VECTORS

SEAL_VECTOR = """
async ([vector, pub]) => {
  const c = await import("/static/js/crypto.js");
  const env = vector.envelope;
  const sealed = await c.sealReport(c.b64uDecode(vector.doc_gz), c.b64uDecode(pub), env.rid, {
    ephemeralJwk: vector.eph_jwk, iv: c.b64uDecode(env.iv), att: env.att,
  });
  return sealed;
}
"""


@pytest.mark.parametrize("vector", VECTORS["envelopes"], ids=lambda v: v["envelope"]["rid"][:8])
def test_browser_reproduces_envelope_vectors(page, live_server, vector) -> None:
    page.goto(live_server.url + "/")
    sealed = page.evaluate(SEAL_VECTOR, [vector, VECTORS["recipient"]["pub"]])
    assert sealed == vector["envelope"]


@pytest.mark.parametrize("vector", VECTORS["attachments"], ids=lambda v: v["plaintext_rule"])
def test_browser_reproduces_attachment_chunks(page, live_server, vector) -> None:
    page.goto(live_server.url + "/")
    chunks = page.evaluate(
        """async ([v]) => {
          const c = await import("/static/js/crypto.js");
          const plain = new Uint8Array(Number(v.plaintext_len)).fill(1);
          return (await c.sealChunks(c.b64uDecode(v.key), v.aid, plain)).map(c.b64uEncode);
        }""",
        [vector],
    )
    assert chunks == vector["chunks"]


def test_python_opens_what_the_browser_seals(page, live_server) -> None:
    page.goto(live_server.url + "/")
    doc = {"form": "trafficking-report", "answers": {"notes": "Ñawpaq — canary ✓ " + "x" * 300_000}}
    pub = crypto.b64u_encode(crypto.public_raw(live_server.private))
    envelope = page.evaluate(
        """async ([doc, pub]) => {
          const c = await import("/static/js/crypto.js");
          return c.sealDocument(doc, c.b64uDecode(pub));
        }""",
        [doc, pub],
    )
    assert envelope["kid"] == live_server.kid
    assert crypto.open_envelope(envelope, {live_server.kid: live_server.private}) == doc
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
