"""First-run setup: the one-time link makes the first admin and the organisation key."""

from __future__ import annotations

import base64

from flask import current_app, render_template, request
from flask_babel import gettext

from ..config import Config
from ..crypto import generate_recovery_phrase, make_recovery_kit
from ..database import writing
from ..errors import DomainError
from ..extensions import db
from ..services import audit
from ..services import setup as setup_service
from . import bp


@bp.route("/setup/<token>", methods=["GET", "POST"])
def first_admin(token: str):  # type: ignore[no-untyped-def]
    if len(token) > 100 or not setup_service.setup_token_valid(db.session, token):
        return render_template("setup_used.html"), 404
    if request.method == "GET":
        return render_template("setup.html", errors=[], username="")
    form = request.form
    username = form.get("username", "")
    errors = []
    if form.get("passphrase", "") != form.get("passphrase_again", ""):
        errors.append(gettext("Las dos frases de paso de acceso no coinciden."))
    if form.get("key_passphrase", "") != form.get("key_passphrase_again", ""):
        errors.append(gettext("Las dos frases de paso de la clave no coinciden."))
    if form.get("key_passphrase", "") == form.get("passphrase", ""):
        errors.append(gettext("La frase de paso de la clave debe ser distinta de la de acceso."))
    config: Config = current_app.config["FIELDAPP"]
    if not errors:
        try:
            prepared = setup_service.prepare_setup(
                username, form.get("passphrase", ""), form.get("key_passphrase", ""), config.kdf
            )
            with writing(db.session):
                result = setup_service.complete_setup(db.session, token, prepared)
                audit.record(db.session, result.admin.username, "setup", kid=result.new_key.key.kid)
                admin_name, kid = result.admin.username, result.new_key.key.kid
        except DomainError as exc:
            errors.append(exc.render(gettext))
    if errors:
        return render_template("setup.html", errors=errors, username=username), 422
    kit = recovery_kit_context(result.new_key.private_der, kid, config)
    return render_template("setup_done.html", username=admin_name, **kit)


def recovery_kit_context(private_der: bytes, kid: str, config: Config) -> dict[str, object]:
    """What recovery_kit.html shows, once. The kit is ciphertext under a 128-bit phrase; it is not kept here."""
    phrase = generate_recovery_phrase()
    kit = make_recovery_kit(private_der, phrase, config.kdf)
    return {
        "kid": kid,
        "phrase": phrase.split(),
        "kit": kit.decode(),
        "kit_href": "data:application/json;base64," + base64.b64encode(kit).decode("ascii"),
    }
