"""The `fieldapp` command: teams, devices, users, keys (managed, offline, grant, rotate, recover) and export."""

from __future__ import annotations

import json
import os
import re
import uuid
from pathlib import Path

import click
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from fieldapp import crypto
from fieldapp.extensions import db
from fieldapp.models import KeyGrant, OrgKey
from fieldapp.services import keys as key_service
from fieldapp.services import users

from .conftest import KEY_PASSPHRASE, LOGIN_PASSPHRASE, Org

ADMIN_KEY = "clave del admin 2026"
ROTATE_AS_ANA = {"FIELDAPP_CURRENT_PASSPHRASE": ADMIN_KEY, "FIELDAPP_PASSPHRASE": ADMIN_KEY}


def run(runner, *args, env=None, input=None, ok=True):  # type: ignore[no-untyped-def]
    result = runner.invoke(args=list(args), env=env or {}, input=input)
    if ok:
        assert result.exit_code == 0, result.output
    return result


def recover(runner, kit_path, phrase: str, ok: bool = True):  # type: ignore[no-untyped-def]
    env = {"FIELDAPP_RECOVERY_PHRASE": phrase, "FIELDAPP_PASSPHRASE": "nueva frase 2027"}
    return run(runner, "keys", "recover", str(kit_path), "--holder", "ana", env=env, ok=ok)


@pytest.fixture
def admin_with_key(runner, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    run(runner, "users", "create", "ana", "--role", "admin", env={"FIELDAPP_PASSPHRASE": LOGIN_PASSPHRASE})
    result = run(runner, "keys", "create", "--holder", "ana", env={"FIELDAPP_PASSPHRASE": ADMIN_KEY})
    kid = re.search(r"\b([0-9a-f]{16})\b", result.output).group(1)
    phrase = result.output.strip().splitlines()[-1]
    return kid, phrase, tmp_path / f"fieldapp-recovery-{kid}.json"


def test_teams_and_device_codes(runner, app) -> None:
    run(runner, "teams", "create", "Puno  Norte")
    assert "Puno Norte" in run(runner, "teams", "list").output
    assert "Ya existe" in run(runner, "teams", "create", "Puno Norte", ok=False).output
    result = run(runner, "devices", "code", "--team", "Puno Norte", "--uses", "3", "--ttl", "2")
    code = result.output.strip().splitlines()[-1]
    assert re.fullmatch(r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{2}", code)
    assert not re.search(r"[ILOU]", code)
    client = app.test_client()
    for _ in range(3):
        assert client.post("/api/v1/enroll", json={"code": code}).status_code == 201
    assert client.post("/api/v1/enroll", json={"code": code}).status_code == 403
    missing = run(runner, "devices", "code", "--team", "Nadie", ok=False)
    assert missing.exit_code != 0 and "No existe el equipo" in missing.output and "Traceback" not in missing.output


def test_device_list_and_revoke(runner, org: Org, client) -> None:
    listing = run(runner, "devices", "list").output.strip().splitlines()
    assert len(listing) == 1 and org.team in listing[0]
    device_id = listing[0].split("\t")[0]
    run(runner, "devices", "revoke", device_id)
    assert client.get("/api/v1/bootstrap", headers=org.headers).status_code == 401
    assert run(runner, "devices", "list").output.split("\t")[-1].strip() != "-"
    assert "No existe" in run(runner, "devices", "revoke", "999", ok=False).output


def test_users_create_checks_passphrase_and_role(runner) -> None:
    weak = run(runner, "users", "create", "bea", "--role", "supervisor", env={"FIELDAPP_PASSPHRASE": "corta"}, ok=False)
    assert weak.exit_code != 0 and "al menos 10" in weak.output
    common = run(
        runner, "users", "create", "bea", "--role", "supervisor", env={"FIELDAPP_PASSPHRASE": "1234567890"}, ok=False
    )
    assert "fácil de adivinar" in common.output
    assert (
        run(
            runner, "users", "create", "bea", "--role", "boss", env={"FIELDAPP_PASSPHRASE": LOGIN_PASSPHRASE}, ok=False
        ).exit_code
        != 0
    )
    prompted = run(
        runner, "users", "create", "bea", "--role", "supervisor", input=f"{LOGIN_PASSPHRASE}\n{LOGIN_PASSPHRASE}\n"
    )
    assert LOGIN_PASSPHRASE not in prompted.output  # the prompt hides what is typed


def test_keys_create_list_and_recovery_file(runner, app, admin_with_key) -> None:
    kid, phrase, kit_path = admin_with_key
    assert len(phrase.split()) == 12 and crypto.check_recovery_phrase(phrase)
    assert oct(kit_path.stat().st_mode & 0o777) == "0o600"
    assert crypto.kid_for(crypto.public_raw(crypto.open_recovery_kit(kit_path.read_bytes(), phrase))) == kid
    [line] = run(runner, "keys", "list").output.strip().splitlines()
    assert line.split("\t")[:3] == [kid, "managed", "current"]
    with app.app_context():
        [grant] = db.session.query(KeyGrant).all()
        assert ADMIN_KEY not in grant.wrapped_private_key


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_private_key_never_stored_in_clear(runner, app, admin_with_key, tmp_path) -> None:
    kid, _, _ = admin_with_key
    with app.app_context():
        user = users.find_user(db.session, "ana")
        [private] = key_service.unlock(db.session, user, ADMIN_KEY).values()
        db.session.remove()
        db.engine.dispose()
    scalar = private.private_numbers().private_value.to_bytes(32, "big")
    der = crypto.private_der(private)
    scanned = list(tmp_path.rglob("*.db*"))
    assert scanned
    for f in scanned:
        content = f.read_bytes()
        assert scalar not in content and der not in content


def test_keys_rotate_keeps_old_keys(runner, app, admin_with_key) -> None:
    old_kid, _, _ = admin_with_key
    result = run(runner, "keys", "rotate", "--holder", "ana", env=ROTATE_AS_ANA)
    new_kid = re.search(r"\b([0-9a-f]{16})\b", result.output).group(1)
    assert new_kid != old_kid
    lines = {line.split("\t")[0]: line.split("\t") for line in run(runner, "keys", "list").output.strip().splitlines()}
    assert lines[new_kid][2] == "current" and lines[old_kid][2] == "-" and lines[old_kid][4] != "-"
    with app.app_context():
        user = users.find_user(db.session, "ana")
        assert set(key_service.unlock(db.session, user, ADMIN_KEY)) == {old_kid, new_kid}


def test_keys_import_private_and_public(runner, app, tmp_path) -> None:
    run(runner, "users", "create", "ana", "--role", "admin", env={"FIELDAPP_PASSPHRASE": LOGIN_PASSPHRASE})
    key = ec.generate_private_key(ec.SECP256R1())
    private_pem = tmp_path / "org.pem"
    private_pem.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    public_pem = tmp_path / "org.pub.pem"
    other = ec.generate_private_key(ec.SECP256R1())
    public_pem.write_bytes(
        other.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    assert "--holder" in run(runner, "keys", "import", str(private_pem), ok=False).output
    run(runner, "keys", "import", str(private_pem), "--holder", "ana", env={"FIELDAPP_PASSPHRASE": ADMIN_KEY})
    run(runner, "keys", "import", str(public_pem))
    listing = [line.split("\t") for line in run(runner, "keys", "list").output.strip().splitlines()]
    assert [(row[1], row[2]) for row in listing] == [("managed", "-"), ("offline", "current")]
    assert listing[0][0] == crypto.kid_for(crypto.public_raw(key))
    assert "ya está registrada" in run(runner, "keys", "import", str(public_pem), ok=False).output
    junk = tmp_path / "junk.pem"
    junk.write_text("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
    assert "PEM" in run(runner, "keys", "import", str(junk), ok=False).output
    rsa_like = tmp_path / "ed.pem"
    from cryptography.hazmat.primitives.asymmetric import ed25519

    rsa_like.write_bytes(
        ed25519.Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    assert (
        "P-256"
        in run(
            runner, "keys", "import", str(rsa_like), "--holder", "ana", env={"FIELDAPP_PASSPHRASE": ADMIN_KEY}, ok=False
        ).output
    )


def grant(runner, to: str, by: str, passphrase: str, new_passphrase: str, ok: bool = True):  # type: ignore[no-untyped-def]
    env = {"FIELDAPP_PASSPHRASE": passphrase, "FIELDAPP_NEW_PASSPHRASE": new_passphrase}
    return run(runner, "keys", "grant", "--to", to, "--as", by, env=env, ok=ok)


def test_keys_grant(runner, app, admin_with_key) -> None:
    kid, _, _ = admin_with_key
    run(runner, "users", "create", "sara", "--role", "supervisor", env={"FIELDAPP_PASSPHRASE": LOGIN_PASSPHRASE})
    run(runner, "users", "create", "tito", "--role", "translator", env={"FIELDAPP_PASSPHRASE": LOGIN_PASSPHRASE})
    wrong = grant(runner, "sara", "ana", "no es la clave", "clave de sara 1", ok=False)
    assert "no es correcta" in wrong.output
    translator = grant(runner, "tito", "ana", ADMIN_KEY, "clave de tito 1", ok=False)
    assert "administrador o un supervisor" in translator.output
    not_admin = grant(runner, "ana", "sara", "x" * 12, "clave de ana 12", ok=False)
    assert "Solo un administrador" in not_admin.output
    grant(runner, "sara", "ana", ADMIN_KEY, "clave de sara 1")
    with app.app_context():
        sara = users.find_user(db.session, "sara")
        assert set(key_service.unlock(db.session, sara, "clave de sara 1")) == {kid}


def test_keys_recover_after_forgotten_passphrase(runner, app, admin_with_key) -> None:
    kid, phrase, kit_path = admin_with_key
    wrong = recover(runner, kit_path, "abandon " * 11 + "about", ok=False)
    assert "no abre" in wrong.output
    recover(runner, kit_path, phrase)
    with app.app_context():
        ana = users.find_user(db.session, "ana")
        assert set(key_service.unlock(db.session, ana, "nueva frase 2027")) == {kid}


def test_keys_recover_onto_an_empty_server(runner, app, admin_with_key) -> None:
    kid, phrase, kit_path = admin_with_key
    with app.app_context():
        db.session.query(KeyGrant).delete()
        db.session.query(OrgKey).delete()
        db.session.commit()
    recover(runner, kit_path, phrase)
    [line] = run(runner, "keys", "list").output.strip().splitlines()
    assert line.split("\t")[:3] == [kid, "managed", "current"]


def test_export_jsonl_decrypts_everything(runner, app, org: Org, client, tmp_path) -> None:
    docs = [{"form": "trafficking-report", "answers": {"notes": f"nota {i} — ñ"}} for i in range(3)]
    envelopes = [org.envelope(d) for d in docs]
    client.post("/api/v1/reports", json={"reports": envelopes}, headers=org.headers)
    out = tmp_path / "export" / "reports.jsonl"
    out.parent.mkdir()
    result = run(
        runner,
        "export",
        "--as",
        "ana",
        "--format",
        "jsonl",
        "--out",
        str(out),
        env={"FIELDAPP_PASSPHRASE": KEY_PASSPHRASE},
    )
    assert "3" in result.output and "nota" not in result.output
    rows = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    assert sorted(r["document"]["answers"]["notes"] for r in rows) == [f"nota {i} — ñ" for i in range(3)]
    assert {r["rid"] for r in rows} == {e["rid"] for e in envelopes}
    assert all(r["team"] == org.team and r["status"] == "new" and len(r["received_on"]) == 10 for r in rows)
    assert oct(out.stat().st_mode & 0o777) == "0o600"


def test_export_names_reports_it_cannot_open(runner, app, org: Org, client, tmp_path) -> None:
    other = crypto.generate_private_key()
    stranger = crypto.seal_document({"a": 1}, crypto.public_raw(other), str(uuid.uuid4()))
    stranger["kid"] = org.kid  # claims our key, but was sealed to another
    client.post("/api/v1/reports", json={"reports": [stranger]}, headers=org.headers)
    out = tmp_path / "out.jsonl"
    run(runner, "export", "--as", "ana", "--out", str(out), env={"FIELDAPP_PASSPHRASE": KEY_PASSPHRASE})
    [row] = [json.loads(line) for line in out.read_text().splitlines()]
    assert row["rid"] == stranger["rid"] and "autenticación" in row["error"] and "document" not in row


def test_export_refuses_instance_folder_and_wrong_passphrase(runner, app, org: Org, tmp_path) -> None:
    inside = app.config["FIELDAPP"].instance_path / "leak.jsonl"
    refused = run(
        runner, "export", "--as", "ana", "--out", str(inside), env={"FIELDAPP_PASSPHRASE": KEY_PASSPHRASE}, ok=False
    )
    assert refused.exit_code != 0 and not inside.exists()
    wrong = run(
        runner,
        "export",
        "--as",
        "ana",
        "--out",
        str(tmp_path / "x.jsonl"),
        env={"FIELDAPP_PASSPHRASE": "otra cosa distinta"},
        ok=False,
    )
    assert "no es correcta" in wrong.output and "otra cosa" not in wrong.output
    assert not (tmp_path / "x.jsonl").exists()


def test_recovery_file_is_never_overwritten(runner, admin_with_key) -> None:
    kid, _, kit_path = admin_with_key
    before = kit_path.read_bytes()
    result = run(
        runner,
        "keys",
        "rotate",
        "--holder",
        "ana",
        "--recovery-file",
        str(kit_path),
        env=ROTATE_AS_ANA,
        ok=False,
    )
    assert result.exit_code != 0 and kit_path.read_bytes() == before
    # Nothing was half-done: the rotation rolled back with the refusal.
    assert len(run(runner, "keys", "list").output.strip().splitlines()) == 1


def test_cli_never_prints_a_passphrase(runner, admin_with_key) -> None:
    result = run(runner, "keys", "list")
    assert ADMIN_KEY not in result.output and LOGIN_PASSPHRASE not in result.output


def test_fieldapp_console_script_exists() -> None:
    import shutil

    assert (
        shutil.which("fieldapp", path=os.path.dirname(os.sys.executable))
        or Path(os.sys.executable).with_name("fieldapp").exists()
    )


def test_keys_recover_catches_a_mistyped_phrase(runner, admin_with_key) -> None:
    _, _, kit_path = admin_with_key
    typo = " ".join(["abandon"] * 12)  # real words, wrong checksum
    result = recover(runner, kit_path, typo, ok=False)
    assert "tiene un error" in result.output


def test_keys_under_different_passphrases_each_open_with_their_own(runner, app, admin_with_key) -> None:
    old_kid, _, _ = admin_with_key
    result = run(
        runner,
        "keys",
        "rotate",
        "--holder",
        "ana",
        env={"FIELDAPP_CURRENT_PASSPHRASE": ADMIN_KEY, "FIELDAPP_PASSPHRASE": "otra frase distinta 1"},
    )
    new_kid = re.search(r"\b([0-9a-f]{16})\b", result.output).group(1)
    with app.app_context():
        ana = users.find_user(db.session, "ana")
        assert set(key_service.unlock(db.session, ana, ADMIN_KEY)) == {old_kid}
        assert set(key_service.unlock(db.session, ana, "otra frase distinta 1")) == {new_kid}
        with pytest.raises(key_service.Forbidden):
            key_service.unlock(db.session, ana, "ninguna de las dos")


def test_a_setting_or_language_that_cannot_start_is_one_clear_line(tmp_path, monkeypatch) -> None:
    """Not a traceback: the operator reads what to fix, in FIELDAPP_LANG."""
    import json
    import shutil

    from click.testing import CliRunner

    from fieldapp.cli import main

    from .conftest import compiled_translations

    monkeypatch.setenv("FIELDAPP_INSTANCE", str(tmp_path / "instance"))
    monkeypatch.setenv("FIELDAPP_TRANSLATIONS", str(compiled_translations()))
    monkeypatch.setenv("FIELDAPP_ENV", "production")
    monkeypatch.setenv("FIELDAPP_LANG", "en")
    refused = CliRunner().invoke(main, ["teams", "list"])
    assert refused.exit_code == 1 and "Traceback" not in refused.output
    assert "In production FIELDAPP_SECRET_KEY, FIELDAPP_DATABASE_URL must be set." in refused.output
    broken = tmp_path / "translations"
    shutil.copytree(compiled_translations(), broken)
    registry = json.loads((broken / "locales.json").read_text("utf-8"))
    registry["shp"]["fallback"] = ["qu"]
    (broken / "locales.json").write_text(json.dumps(registry), "utf-8")
    monkeypatch.setenv("FIELDAPP_ENV", "development")
    monkeypatch.setenv("FIELDAPP_TRANSLATIONS", str(broken))
    refused = CliRunner().invoke(main, ["teams", "list"])
    assert refused.exit_code == 1 and "Idioma «shp»: la cadena de respaldo debe terminar en «es»." in refused.output


def test_a_command_says_done_only_after_its_commit(runner, app, tmp_path, monkeypatch) -> None:
    """`fieldapp keys create | head -1`: a closed output once rolled back a key whose success was printed."""
    monkeypatch.chdir(tmp_path)
    run(runner, "users", "create", "ana", "--role", "admin", env={"FIELDAPP_PASSPHRASE": LOGIN_PASSPHRASE})

    def closed_pipe(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise BrokenPipeError

    monkeypatch.setattr(click, "echo", closed_pipe)
    result = runner.invoke(args=["keys", "create", "--holder", "ana"], env={"FIELDAPP_PASSPHRASE": ADMIN_KEY})
    assert isinstance(result.exception, BrokenPipeError)
    monkeypatch.undo()
    [line] = run(runner, "keys", "list").output.strip().splitlines()  # the key was committed before any word
    kid = line.split("\t")[0]
    assert (tmp_path / f"fieldapp-recovery-{kid}.json").stat().st_size > 0  # and its kit written before too
