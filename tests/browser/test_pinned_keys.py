"""Pinned organisation keys in a real Chromium (PROTOCOL.md §12): the browser checks the key-list vectors, a typed
code shows the organisation's fingerprint to compare, a QR's fingerprint is insisted on, and a phone whose
server later serves a list another key signed refuses it, keeping its key and its outbox."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import delete, select

from fieldapp.crypto import signing
from fieldapp.database import writing
from fieldapp.extensions import db
from fieldapp.models import Report, SignedKeyList
from fieldapp.services import keylists

from .conftest import choose_pin, enrol, open_app, save_report, wait_for_queued

VECTORS = json.loads((Path(__file__).parents[1] / "vectors" / "keylist-v1.json").read_text())

VERIFY = """
async (signed) => {
  const c = await import("/static/js/crypto.js");
  try {
    const found = await c.verifyKeyList(signed);
    return { seq: found.seq, current: found.keys.find((k) => k.current).kid, fingerprint: found.fingerprint };
  } catch (error) {
    return { refused: error instanceof c.KeyListRefused, message: String(error.message) };
  }
}
"""


def member(case: dict) -> dict:
    return {name: case[name] for name in ("list", "sig", "signer")}


@pytest.mark.parametrize("case", VECTORS["good"], ids=lambda c: c["name"])
def test_the_browser_verifies_the_good_vectors(page, live_server, case) -> None:
    page.goto(live_server.url + "/")
    found = page.evaluate(VERIFY, member(case))
    assert found == {
        "seq": case["seq"],
        "current": case["current"],
        "fingerprint": VECTORS["signer"]["fingerprint_hex"],
    }


@pytest.mark.parametrize("case", VECTORS["must_fail"], ids=lambda c: c["name"])
def test_the_browser_refuses_the_bad_vectors(page, live_server, case) -> None:
    page.goto(live_server.url + "/")
    found = page.evaluate(VERIFY, member(case))
    if "refused" not in found:  # it verifies only under a signer that is not the organisation's
        assert found["fingerprint"] != VECTORS["signer"]["fingerprint_hex"], case["name"]
    else:
        assert found["refused"] is True, found


def server_fingerprint(live_server) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    with live_server.app.app_context():
        signer = keylists.latest(db.session).signer
    return signing.fingerprint(signer), signing.fingerprint_hex(signer)


def test_a_typed_code_shows_the_fingerprint_the_supervisor_sees(page, live_server) -> None:
    page.goto(live_server.url + "/")
    page.fill("#code", live_server.enrollment_code())
    page.click("text=Conectar este teléfono")
    shown = page.wait_for_selector("[data-testid=fingerprint]").inner_text()
    assert shown == server_fingerprint(live_server)[0]
    page.click("text=No son iguales")
    page.wait_for_selector("text=Este servidor no tiene la firma de su organización")
    assert page.evaluate("""async () => (await import("/static/js/db.js")).getSetting("deviceToken")""") is None


def test_a_qr_with_the_right_fingerprint_goes_straight_on_and_a_wrong_one_is_refused(page, live_server) -> None:
    page.goto(live_server.url + "/")
    page.fill("#code", live_server.enrollment_code() + "#" + "0" * 32)
    page.click("text=Conectar este teléfono")
    page.wait_for_selector("text=Este servidor no tiene la firma de su organización")
    assert page.evaluate("""async () => (await import("/static/js/db.js")).getSetting("deviceToken")""") is None
    page.fill("#code", live_server.enrollment_code() + "#" + server_fingerprint(live_server)[1])
    page.click("text=Conectar este teléfono")
    page.wait_for_selector("#pin-new")  # no fingerprint to compare: the QR carried it
    assert not page.is_visible("[data-testid=fingerprint]")
    choose_pin(page)
    page.wait_for_selector("h1:text('Informes')")


def test_a_list_signed_by_another_key_is_refused_and_the_phone_keeps_its_key_and_outbox(page, live_server) -> None:
    enrol(page, live_server)
    save_report(page, "antes")
    wait_for_queued(page, 0)
    with live_server.app.app_context():
        newest = keylists.latest(db.session)
        stranger = ec.generate_private_key(ec.SECP256R1())
        planted = signing.signed_list(signing.derive_signing_key(stranger), newest.seq + 1, newest.keys)
        with writing(db.session):
            db.session.add(
                SignedKeyList(
                    seq=planted.seq,
                    document=planted.document.decode(),
                    signature=planted.signature,
                    signer=planted.signer,
                )
            )
    try:
        page.reload()
        open_app(page)
        page.wait_for_selector("[data-testid=keys-refused]")
        # Offline, the phone still seals to the organisation's key, keeps the report and sends it once back.
        page.context.set_offline(True)
        save_report(page, "después")
        wait_for_queued(page, 1)
        page.context.set_offline(False)  # back online, the outbox sends by itself
        wait_for_queued(page, 0, timeout=30000)
        with live_server.app.app_context():
            last = db.session.scalar(select(Report.kid).order_by(Report.id.desc()).limit(1))
        assert last == live_server.kid
        assert page.is_visible("[data-testid=keys-refused]")
    finally:
        with live_server.app.app_context(), writing(db.session):
            db.session.execute(delete(SignedKeyList).where(SignedKeyList.seq == planted.seq))
