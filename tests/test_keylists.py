"""Pinned organisation keys (PROTOCOL.md §12): the key list bootstrap serves is signed by a key made with the
organisation key; known-answer vectors, signing on the server when the key is open, offline signing, and lists
a breached server cannot forge."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select

from fieldapp import crypto
from fieldapp.crypto import signing
from fieldapp.database import writing
from fieldapp.errors import Conflict, Invalid
from fieldapp.extensions import db
from fieldapp.models import OrgKey, Role, SignedKeyList
from fieldapp.services import keylists, keys, users

from .conftest import FAST_KDF, KEY_PASSPHRASE, LOGIN_PASSPHRASE, Org

VECTORS = json.loads((Path(__file__).parent / "vectors" / "keylist-v1.json").read_text())


def member(case: dict) -> dict:
    return {name: case[name] for name in ("list", "sig", "signer")}


def test_the_signing_key_is_made_from_the_organisation_key_as_the_vectors_say() -> None:
    org = ec.derive_private_key(int(VECTORS["org_d"], 16), ec.SECP256R1())
    signer = signing.derive_signing_key(org)
    assert crypto.b64u_encode(signer.private_numbers().private_value.to_bytes(32, "big")) == VECTORS["signer"]["d"]
    assert crypto.b64u_encode(signing.signer_raw(signer)) == VECTORS["signer"]["pub"]
    assert signing.fingerprint_hex(signing.signer_raw(signer)) == VECTORS["signer"]["fingerprint_hex"]
    assert crypto.b64u_decode(VECTORS["context"]) == signing.LIST_CONTEXT


@pytest.mark.parametrize("case", VECTORS["good"], ids=lambda c: c["name"])
def test_every_good_vector_verifies_to_its_keys(case: dict) -> None:
    verified = signing.from_wire(member(case))
    assert verified.seq == case["seq"] and verified.current.kid == case["current"]
    # And the signer here makes the same bytes, which the vectors' verifier would take.
    org = ec.derive_private_key(int(VECTORS["org_d"], 16), ec.SECP256R1())
    again = signing.signed_list(signing.derive_signing_key(org), verified.seq, verified.keys)
    assert again.document == verified.document
    assert signing.verify_list(again.signer, again.document, again.signature).seq == case["seq"]


@pytest.mark.parametrize("case", VECTORS["must_fail"], ids=lambda c: c["name"])
def test_every_bad_vector_is_refused_by_a_phone_pinned_to_the_signer(case: dict) -> None:
    pinned = crypto.b64u_decode(VECTORS["signer"]["pub"])
    try:
        verified = signing.from_wire(member(case))
    except signing.KeyListError:
        return
    assert verified.signer != pinned, case["name"]  # it verifies only under a signer the phone did not pin


def test_setup_signs_the_first_list_and_bootstrap_serves_it(org: Org, client) -> None:
    boot = client.get("/api/v1/bootstrap", headers=org.headers).json
    verified = signing.from_wire(boot["signed_keys"])
    assert verified.seq == 1 and verified.current.pub == org.pub
    assert verified.signer == signing.signer_raw(signing.derive_signing_key(org.private))
    assert [k["kid"] for k in boot["keys"]] == [k.kid for k in verified.keys]


def rotate(app, username: str, current: str, new: str) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        admin = users.find_user(db.session, username)
        rotation = keys.prepare_rotation(db.session, admin, current, new, FAST_KDF)
        with writing(db.session):
            keys.store_rotation(db.session, admin, rotation)


def test_a_rotation_by_the_holder_is_signed_by_the_same_signer(org: Org, app, client) -> None:
    first = signing.from_wire(client.get("/api/v1/bootstrap", headers=org.headers).json["signed_keys"])
    rotate(app, "ana", KEY_PASSPHRASE, KEY_PASSPHRASE)
    boot = client.get("/api/v1/bootstrap", headers=org.headers).json
    second = signing.from_wire(boot["signed_keys"])
    assert second.signer == first.signer and second.seq == 2
    assert second.current.kid != first.current.kid and org.kid in {k.kid for k in second.keys}
    with app.app_context():
        assert not keylists.pending(db.session)


def test_a_rotation_whose_passphrase_does_not_open_the_signing_key_waits_unsigned(org: Org, app, client) -> None:
    rotate(app, "ana", KEY_PASSPHRASE, KEY_PASSPHRASE)  # list 2, signed: ana holds the first key too
    with app.app_context(), writing(db.session):
        bea = users.create_user(db.session, "bea", Role.ADMIN.value, LOGIN_PASSPHRASE, FAST_KDF)
        ana = users.find_user(db.session, "ana")
        current = db.session.scalar(select(OrgKey.kid).where(OrgKey.current.is_(True)))
        wrapped = keys.prepare_grant(db.session, ana, KEY_PASSPHRASE, bea, "otra frase de bea", FAST_KDF, current)
        keys.store_grants(db.session, bea, wrapped)
    rotate(app, "bea", "otra frase de bea", "otra frase de bea")  # bea lacks the key that makes the signer
    boot = client.get("/api/v1/bootstrap", headers=org.headers).json
    served = signing.from_wire(boot["signed_keys"])
    with app.app_context():
        newest = db.session.scalar(select(OrgKey.kid).where(OrgKey.current.is_(True)))
        assert keylists.pending(db.session)
    assert served.current.kid != newest and served.seq == 2  # phones keep sealing to the last signed key
    assert newest not in [k["kid"] for k in boot["keys"]]
    with app.app_context():  # ana's next unlock signs it
        ana = users.find_user(db.session, "ana")
        opened = keys.prepare_unlock(db.session, ana, KEY_PASSPHRASE, FAST_KDF)
        with writing(db.session):
            keys.store_unlock(db.session, ana, opened)
    served = signing.from_wire(client.get("/api/v1/bootstrap", headers=org.headers).json["signed_keys"])
    assert served.current.kid == newest and served.seq == 3


def offline_server(app) -> ec.EllipticCurvePrivateKey:  # type: ignore[no-untyped-def]
    """A server in offline custody: it holds the organisation key's public half only."""
    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    with app.app_context(), writing(db.session):
        keys.import_pem(db.session, pem, None, None, FAST_KDF)
    return private


def pem_of(private: ec.EllipticCurvePrivateKey) -> bytes:
    return private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def test_offline_custody_signs_each_list_offline_and_imports_it(app, runner, tmp_path: Path) -> None:
    private = offline_server(app)
    with app.app_context():
        assert keylists.latest(db.session) is None  # nothing here can sign
    key_file = tmp_path / "org.pem"
    key_file.write_bytes(pem_of(private))
    assert runner.invoke(args=["keys", "unsigned", "--out", str(tmp_path / "u1.json")]).exit_code == 0
    signed = runner.invoke(
        args=["keys", "sign", str(tmp_path / "u1.json"), "--key", str(key_file), "--out", str(tmp_path / "s1.json")]
    )
    assert signed.exit_code == 0, signed.output
    fingerprint = signing.fingerprint(signing.signer_raw(signing.derive_signing_key(private)))
    assert fingerprint in signed.output
    imported = runner.invoke(args=["keys", "import-signed", str(tmp_path / "s1.json")])
    assert imported.exit_code == 0 and fingerprint in imported.output, imported.output

    # An offline rotation: the new public key is imported, the list stays as it was until signed offline.
    rotated = ec.generate_private_key(ec.SECP256R1())
    (tmp_path / "new.pub.pem").write_bytes(
        rotated.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    assert runner.invoke(args=["keys", "import", str(tmp_path / "new.pub.pem")]).exit_code == 0
    with app.app_context():
        assert keylists.pending(db.session)
        assert keylists.latest(db.session).current.pub == crypto.public_raw(private)
    assert runner.invoke(args=["keys", "unsigned", "--out", str(tmp_path / "u2.json")]).exit_code == 0
    stranger = tmp_path / "stranger.pem"
    stranger.write_bytes(pem_of(ec.generate_private_key(ec.SECP256R1())))
    refused = runner.invoke(
        args=["keys", "sign", str(tmp_path / "u2.json"), "--key", str(stranger), "--out", str(tmp_path / "x.json")]
    )
    assert refused.exit_code != 0 and "huella" in refused.output and not (tmp_path / "x.json").exists()
    args = ["keys", "sign", str(tmp_path / "u2.json"), "--key", str(key_file), "--out", str(tmp_path / "s2.json")]
    assert runner.invoke(args=args).exit_code == 0
    assert runner.invoke(args=["keys", "import-signed", str(tmp_path / "s2.json")]).exit_code == 0
    with app.app_context():
        newest = keylists.latest(db.session)
        assert newest.seq == 2 and newest.current.pub == crypto.public_raw(rotated)
        assert not keylists.pending(db.session)
    # The older list again changes nothing and says why.
    again = runner.invoke(args=["keys", "import-signed", str(tmp_path / "s1.json")])
    assert again.exit_code != 0 and "no es más nueva" in again.output


def test_a_list_signed_by_another_key_or_tampered_is_refused_and_nothing_changes(org: Org, app) -> None:
    with app.app_context():
        before = db.session.scalar(select(db.func.count()).select_from(SignedKeyList))
        newest = keylists.latest(db.session)
        stranger = ec.generate_private_key(ec.SECP256R1())
        forged = signing.signed_list(signing.derive_signing_key(stranger), newest.seq + 1, newest.keys)
        with pytest.raises(Invalid, match="otra clave"), writing(db.session):
            keylists.import_signed(db.session, forged.wire())
        tampered = {**newest.wire(), "list": crypto.b64u_encode(newest.document.replace(b'"seq":1', b'"seq":7'))}
        with pytest.raises(Invalid), writing(db.session):
            keylists.import_signed(db.session, tampered)
        for hostile in (None, "x", {"list": 1}, {"list": "!", "sig": "", "signer": ""}, []):
            with pytest.raises(Invalid), writing(db.session):
                keylists.import_signed(db.session, hostile)
        assert db.session.scalar(select(db.func.count()).select_from(SignedKeyList)) == before


def test_an_older_list_signed_by_the_right_key_is_refused_too(org: Org, app) -> None:
    rotate(app, "ana", KEY_PASSPHRASE, KEY_PASSPHRASE)
    with app.app_context():
        first = db.session.scalar(select(SignedKeyList).where(SignedKeyList.seq == 1))
        old = {
            "list": crypto.b64u_encode(first.document.encode()),
            "sig": crypto.b64u_encode(first.signature),
            "signer": crypto.b64u_encode(first.signer),
        }
        with pytest.raises(Conflict), writing(db.session):
            keylists.import_signed(db.session, old)


def test_the_enrolment_code_page_carries_the_fingerprint_in_its_qr_and_shows_it(org: Org, app, client) -> None:
    from .test_dashboard_access import csrf, login

    with app.app_context(), writing(db.session):
        users.create_user(db.session, "admin", Role.ADMIN.value, LOGIN_PASSPHRASE, FAST_KDF)
    login(client, "admin")
    token = csrf(client, "/dashboard/teams")
    page = client.post("/dashboard/teams/1/code", data={"csrf_token": token}).get_data(as_text=True)
    fingerprint = signing.fingerprint(signing.signer_raw(signing.derive_signing_key(org.private)))
    assert fingerprint in page
    keys_page = client.get("/dashboard/keys").get_data(as_text=True)
    assert fingerprint in keys_page and "Lista número 1" in keys_page
