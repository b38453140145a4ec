"""`fieldapp keys`: the organisation keys and their holders."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import click
from flask.cli import AppGroup
from flask_babel import gettext as _

from ..crypto import b64u_decode, b64u_encode, generate_recovery_phrase, make_recovery_kit, signing
from ..database import writing
from ..errors import N_, DomainError
from ..extensions import db
from ..services import audit, keylists, keys, users
from .decrypt import KEY_OPTION, KIT_OPTION
from .shared import domain_command, find_account, read_secret, settings


@click.group("keys", cls=AppGroup)
def keys_group() -> None:
    """Claves de la organización."""


class _RecoveryKit:
    """A recovery kit made before the key is stored and written after: its file is claimed first, so a name
    already taken stops the command before anything changes, and the phrase is shown only for a stored key."""

    def __init__(self, private_der: bytes, kid: str, path: str | None) -> None:
        self.target = Path(path or f"fieldapp-recovery-{kid}.json")
        self.phrase = generate_recovery_phrase()
        self.kit = make_recovery_kit(private_der, self.phrase, settings().kdf)
        try:
            self.fd = os.open(self.target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise click.ClickException(_("Ya existe %(path)s; no se sobrescribe.", path=str(self.target))) from None

    def discard(self) -> None:
        os.close(self.fd)
        self.target.unlink(missing_ok=True)

    def write(self) -> None:
        with os.fdopen(self.fd, "wb") as f:
            f.write(self.kit)
            os.fsync(f.fileno())

    def show(self) -> None:
        click.echo(_("Archivo de recuperación: %(path)s", path=str(self.target)))
        click.echo(_("Frase de recuperación (se muestra una sola vez; escríbala y guárdela fuera de línea):"))
        click.echo(self.phrase)


def _store_new_key(  # type: ignore[no-untyped-def]
    user,
    prepared: keys.PreparedKey,
    store: Callable[[], object],
    action: str,
    said: list[str],
    recovery_file: str | None,
    **detail,
) -> None:
    """Store a prepared key as current with `store`; its kit's file is written before anything is said."""
    kit = _RecoveryKit(prepared.private_der, prepared.kid, recovery_file)
    try:
        with writing(db.session):
            store()
            audit.record(db.session, user.username, action, kid=prepared.kid, **detail)
    except BaseException:
        kit.discard()
        raise
    kit.write()  # the key exists now, and so must its kit
    for line in said:
        click.echo(line)
    kit.show()


@keys_group.command("create")
@click.option("--holder", required=True, help="Usuario que guardará la clave, cifrada con su frase de paso.")
@click.option("--recovery-file", default=None, help="Dónde escribir el kit de recuperación.")
@domain_command
def keys_create(holder: str, recovery_file: str | None) -> None:
    """Crea una clave nueva (modo gestionado) y la hace la actual."""
    user = find_account(holder)
    passphrase = read_secret(
        _("Frase de paso de la clave para %(name)s", name=user.username), "FIELDAPP_PASSPHRASE", confirm=True
    )
    prepared = keys.prepare_managed_key(user.role, passphrase, settings().kdf)
    said = [_("Clave creada: %(kid)s (actual)", kid=prepared.kid)]
    _store_new_key(
        user, prepared, lambda: keys.store_managed_key(db.session, prepared, user), "key_created", said, recovery_file
    )


@keys_group.command("rotate")
@click.option("--holder", required=True, help="Usuario que guardará la nueva clave.")
@click.option("--recovery-file", default=None, help="Dónde escribir el kit de recuperación.")
@domain_command
def keys_rotate(holder: str, recovery_file: str | None) -> None:
    """Crea una nueva clave actual (pide abrir la actual); las anteriores se conservan para informes antiguos."""
    user = find_account(holder)
    current = read_secret(
        _("Frase de paso de la clave actual de %(name)s", name=user.username), "FIELDAPP_CURRENT_PASSPHRASE"
    )
    passphrase = read_secret(
        _("Frase de paso de la clave para %(name)s", name=user.username), "FIELDAPP_PASSPHRASE", confirm=True
    )
    try:
        rotation = keys.prepare_rotation(db.session, user, current, passphrase, settings().kdf)
    except keys.WrongKeyPassphrase:
        with writing(db.session):
            users.record_failure(db.session, user.id, "unlock")
        raise
    said = [_("Nueva clave actual: %(kid)s", kid=rotation.key.kid)]
    said += [_("%(name)s la recibirá en su próximo desbloqueo.", name=name) for name in rotation.waiting]
    said += [
        _("%(name)s no podrá leer los informes nuevos hasta que se le entregue la clave (fieldapp keys grant).", name=n)
        for n in rotation.left_out
    ]
    _store_new_key(
        user,
        rotation.key,
        lambda: keys.store_rotation(db.session, user, rotation),
        "key_rotated",
        said,
        recovery_file,
        waiting=rotation.waiting,
        left_out=rotation.left_out,
    )


@keys_group.command("import")
@click.argument("pem_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--holder", default=None, help="Para una clave privada: quién la guarda.")
@domain_command
def keys_import(pem_file: str, holder: str | None) -> None:
    """Importa una clave PEM: privada (modo gestionado) o pública (custodia fuera de línea)."""
    pem = Path(pem_file).read_bytes()
    user = find_account(holder) if holder else None
    passphrase = None
    if user is not None:
        passphrase = read_secret(
            _("Frase de paso de la clave para %(name)s", name=user.username), "FIELDAPP_PASSPHRASE", confirm=True
        )
    prepared = keys.prepare_import(pem, user.role if user else None, passphrase, settings().kdf)
    actor = user.username if user else "cli"
    with writing(db.session):
        key = keys.store_import(db.session, prepared, user)
        audit.record(db.session, actor, "key_imported", kid=key.kid, managed=user is not None)
        kid = key.kid
    click.echo(
        _(
            "Clave importada: %(kid)s (%(mode)s, actual)",
            kid=kid,
            mode=_("gestionada") if prepared.managed else _("custodia fuera de línea"),
        )
    )


@keys_group.command("grant")
@click.option("--to", "to_user", required=True, help="Usuario que recibe la clave.")
@click.option("--as", "as_user", required=True, help="Administrador que ya tiene la clave.")
@click.option("--kid", default=None, help="Solo esta clave (por defecto, todas las del administrador).")
@domain_command
def keys_grant(to_user: str, as_user: str, kid: str | None) -> None:
    """Entrega la clave a otro titular, cifrada con la frase de paso de ese titular."""
    granter, grantee = find_account(as_user), find_account(to_user)
    granter_pass = read_secret(_("Frase de paso de la clave de %(name)s", name=granter.username), "FIELDAPP_PASSPHRASE")
    grantee_pass = read_secret(
        _("Nueva frase de paso de la clave para %(name)s", name=grantee.username),
        "FIELDAPP_NEW_PASSPHRASE",
        confirm=True,
    )
    wrapped = keys.prepare_grant(db.session, granter, granter_pass, grantee, grantee_pass, settings().kdf, kid)
    names = granter.username, grantee.username
    with writing(db.session):
        granted = keys.store_grants(db.session, grantee, wrapped)
        audit.record(db.session, names[0], "key_granted", to=names[1], kids=[k.kid for k in granted])
    for key_id in wrapped.wrapped:
        click.echo(_("Clave %(kid)s entregada a %(name)s", kid=key_id, name=names[1]))


@keys_group.command("recover")
@click.argument("kit_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--holder", required=True, help="Usuario que guardará la clave restaurada.")
@domain_command
def keys_recover(kit_file: str, holder: str) -> None:
    """Restaura una clave desde su archivo y su frase de recuperación."""
    user = find_account(holder)
    phrase = read_secret(_("Frase de recuperación (12 palabras)"), "FIELDAPP_RECOVERY_PHRASE")
    passphrase = read_secret(
        _("Nueva frase de paso de la clave para %(name)s", name=user.username), "FIELDAPP_PASSPHRASE", confirm=True
    )
    prepared = keys.prepare_recovery(Path(kit_file).read_bytes(), phrase, user.role, passphrase, settings().kdf)
    name = user.username
    with writing(db.session):
        keys.store_recovered(db.session, prepared, user)
        audit.record(db.session, name, "key_recovered", kid=prepared.kid)
    click.echo(_("Clave %(kid)s restaurada para %(name)s", kid=prepared.kid, name=name))


@keys_group.command("list")
def keys_list() -> None:
    """Lista las claves: kid, modo, actual, creada, retirada."""
    for key in keys.list_keys(db.session):
        retired = key.retired_on.isoformat() if key.retired_on else "-"
        current = "current" if key.current else "-"
        click.echo(f"{key.kid}\t{key.mode}\t{current}\t{key.created_on.isoformat()}\t{retired}")


@keys_group.command("unsigned")
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False), help="Archivo nuevo.")
@domain_command
def keys_unsigned(out_path: str) -> None:
    """Escribe la lista de claves de aquí para firmarla fuera de línea (fieldapp keys sign)."""
    document, signer = keylists.unsigned_document(db.session), keylists.pinned_signer(db.session)
    body = {"list": b64u_encode(document), "signer": b64u_encode(signer) if signer else None}
    _write_new(Path(out_path), json.dumps(body, indent=1).encode())
    click.echo(_("Lista de claves por firmar: %(path)s", path=out_path))


@keys_group.command("sign", with_appcontext=False)
@click.argument("unsigned_path", type=click.Path(exists=True, dir_okay=False))
@KEY_OPTION
@KIT_OPTION
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False), help="Archivo nuevo.")
def keys_sign(unsigned_path: str, key_path: str | None, kit_path: str | None, out_path: str) -> None:
    """Firma una lista de claves donde está la clave de la organización, sin servidor ni red."""
    from .decrypt import _keys, _translate

    _ = _translate()  # noqa: N806  (the command line's gettext, without an app)
    try:
        unsigned = json.loads(Path(unsigned_path).read_bytes())
        document = b64u_decode(unsigned["list"])
        expected = b64u_decode(unsigned["signer"]) if unsigned.get("signer") else None
        signing.parse_list(document)
    except (ValueError, TypeError, KeyError, signing.KeyListError):
        raise click.ClickException(_("El archivo no es una lista de claves de fieldapp keys unsigned.")) from None
    try:
        private_keys = _keys(key_path, kit_path, _)
    except DomainError as exc:
        raise click.ClickException(exc.render(_)) from None
    candidates = [signing.derive_signing_key(key) for key in private_keys.values()]
    chosen = next((k for k in candidates if expected is None or signing.signer_raw(k) == expected), None)
    if chosen is None:
        raise click.ClickException(
            _("Esta clave no hace la clave de firma de la organización (huella %(fingerprint)s).")
            % {"fingerprint": signing.fingerprint(expected or b"")}
        )
    signed = {
        "list": b64u_encode(document),
        "sig": b64u_encode(signing.sign_list(chosen, document)),
        "signer": b64u_encode(signing.signer_raw(chosen)),
    }
    _write_new(Path(out_path), json.dumps(signed, indent=1).encode(), _)
    click.echo(_("Lista firmada: %(path)s") % {"path": out_path})
    click.echo(
        _("Huella de la organización: %(fingerprint)s")
        % {"fingerprint": signing.fingerprint(signing.signer_raw(chosen))}
    )


@keys_group.command("import-signed")
@click.argument("signed_path", type=click.Path(exists=True, dir_okay=False))
@domain_command
def keys_import_signed(signed_path: str) -> None:
    """Importa una lista de claves firmada fuera de línea: los teléfonos la reciben en su próxima conexión."""
    try:
        member = json.loads(Path(signed_path).read_bytes())
    except ValueError:
        raise click.ClickException(_("El archivo no es una lista de claves firmada.")) from None
    with writing(db.session):
        imported = keylists.import_signed(db.session, member)
        audit.record(db.session, "cli", "key_list_signed", seq=imported.seq, kid=imported.current.kid)
        seq, current, signer = imported.seq, imported.current.kid, imported.signer
    click.echo(_("Lista de claves %(seq)s importada; clave actual: %(kid)s", seq=seq, kid=current))
    click.echo(_("Huella de la organización: %(fingerprint)s", fingerprint=signing.fingerprint(signer)))


def _write_new(path: Path, data: bytes, translate: Callable[[str], str] | None = None) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        message = N_("Ya existe %(path)s; no se sobrescribe.")
        raise click.ClickException((translate or _)(message) % {"path": str(path)}) from None
    with os.fdopen(fd, "wb") as out:
        out.write(data)
