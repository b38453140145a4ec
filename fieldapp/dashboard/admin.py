"""The admin's users and keys. Key changes that need a holder's own passphrase stay on the command line."""

from __future__ import annotations

from flask import current_app, redirect, render_template, request, url_for
from flask_babel import gettext

from ..config import Config
from ..crypto import signing
from ..database import writing
from ..errors import N_, Invalid, TooManyAttempts
from ..extensions import db
from ..models import Role, User
from ..services import audit, keylists, keys, users
from . import bp
from .auth import role_required
from .setup import recovery_kit_context
from .unlock import refused_key_passphrase

ADMIN = Role.ADMIN.value


@bp.get("/dashboard/users")
@role_required(ADMIN)
def users_page(user: User):  # type: ignore[no-untyped-def]
    return render_template(
        "dashboard/users.html", user=user, accounts=users.list_users(db.session), roles=[r.value for r in Role]
    )


@bp.post("/dashboard/users")
@role_required(ADMIN)
def user_create(user: User):  # type: ignore[no-untyped-def]
    config: Config = current_app.config["FIELDAPP"]
    account = users.prepare_account(
        request.form.get("username", "")[:64],
        request.form.get("role", ""),
        request.form.get("passphrase", "")[:1024],
        config.kdf,
    )
    with writing(db.session):
        created = users.add_account(db.session, account)
        audit.record(db.session, user.username, "user_created", username=created.username, role=created.role)
    return redirect(url_for("dashboard.users_page"))


@bp.post("/dashboard/users/<int:user_id>/disable")
@role_required(ADMIN)
def user_disable(user: User, user_id: int):  # type: ignore[no-untyped-def]
    with writing(db.session):
        target = users.disable_user(db.session, user_id, by=user)
        audit.record(db.session, user.username, "user_disabled", username=target.username)
    return redirect(url_for("dashboard.users_page"))


@bp.post("/dashboard/users/<int:user_id>/unlock")
@role_required(ADMIN)
def user_clear_lock(user: User, user_id: int):  # type: ignore[no-untyped-def]
    with writing(db.session):
        target = users.clear_lock(db.session, user_id)
        audit.record(db.session, user.username, "user_lock_cleared", username=target.username)
    return redirect(url_for("dashboard.users_page"))


@bp.get("/dashboard/keys")
@role_required(ADMIN)
def keys_page(user: User):  # type: ignore[no-untyped-def]
    return _keys_page(user)


def _keys_page(user: User, **context: object) -> str:
    signed = keylists.latest(db.session)
    return render_template(
        "dashboard/keys.html",
        user=user,
        org_keys=keys.list_keys(db.session),
        signed=signed,
        fingerprint=signing.fingerprint(signed.signer) if signed else None,
        list_pending=keylists.pending(db.session),
        **context,
    )


@bp.post("/dashboard/keys/rotate")
@role_required(ADMIN)
def key_rotate(user: User):  # type: ignore[no-untyped-def]
    config: Config = current_app.config["FIELDAPP"]
    passphrase = request.form.get("key_passphrase", "")[:1024]
    if passphrase != request.form.get("key_passphrase_again", "")[:1024]:
        raise Invalid(N_("Las dos frases de paso de la clave no coinciden."))
    current_passphrase = request.form.get("current_key_passphrase", "")[:1024]
    try:
        rotation = keys.prepare_rotation(db.session, user, current_passphrase, passphrase, config.kdf)
    except (keys.WrongKeyPassphrase, TooManyAttempts) as exc:
        status = refused_key_passphrase(user, exc)
        return _keys_page(user, error=exc.render(gettext)), status
    name = user.username
    with writing(db.session):
        keys.store_rotation(db.session, user, rotation)
        audit.record(
            db.session, name, "key_rotated", kid=rotation.key.kid, waiting=rotation.waiting, left_out=rotation.left_out
        )
    kit = recovery_kit_context(rotation.key.private_der, rotation.key.kid, config)
    return render_template(
        "dashboard/key_rotated.html", user=user, waiting=rotation.waiting, left_out=rotation.left_out, **kit
    )
