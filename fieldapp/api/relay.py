"""The relay API (/api/v1/relay): a base forwards every team's reports and chunks with the device API's
idempotency (PROTOCOL.md §11)."""

from __future__ import annotations

from typing import Any

from flask import current_app, jsonify
from flask_babel import gettext

from ..config import Config
from ..crypto import WIRES
from ..database import end_read, writing
from ..errors import N_, Invalid, TooLarge
from ..extensions import db
from ..services import attachments, audit, enrollment, keylists, relays, reports
from ..services.relays import AuthenticatedRelay
from . import bp
from .auth import relay_required
from .views import read_json_object, receive_chunk


def _config() -> Config:
    return current_app.config["FIELDAPP"]


def _mark(relay: AuthenticatedRelay, spending: bool = True) -> None:
    if relays.contact_mark_due(relay, spending):
        with writing(db.session):
            relays.mark_contact(db.session, relay, spending)


@bp.post("/relay/enroll")
def relay_enroll():  # type: ignore[no-untyped-def]
    body = read_json_object()
    code = body.get("code")
    if not isinstance(code, str) or not 1 <= len(code) <= 64:
        raise Invalid(N_("Falta el código de la base."))
    enrollment_id = enrollment.check_enrollment_id(body.get("enrollment_id"))
    with writing(db.session):
        relay, token = relays.enroll_relay(db.session, code, enrollment_id)
        audit.record(db.session, "relay", "relay_enrolled", relay=relay.name)
    return jsonify(relay_token=token, name=relay.name), 201


@bp.get("/relay/bootstrap")
@relay_required
def relay_bootstrap(relay: AuthenticatedRelay):  # type: ignore[no-untyped-def]
    org_keys, signed = keylists.phone_keys(db.session), keylists.latest(db.session)
    teams = relays.team_names(db.session)
    _mark(relay, spending=False)
    return jsonify(
        keys=org_keys,
        teams=teams,
        versions=sorted(WIRES),
        name=relay.name,
        **({"signed_keys": signed.wire()} if signed else {}),
    )


@bp.post("/relay/reports")
@relay_required
def relay_reports(relay: AuthenticatedRelay):  # type: ignore[no-untyped-def]
    config = _config()
    ours = reports.known_kids(db.session)
    end_read(db.session)  # the body may take a while to arrive
    body = read_json_object()
    batch = body.get("reports")
    if not isinstance(batch, list) or set(body) != {"reports"}:
        raise Invalid(N_('El cuerpo debe ser {"reports": [{"team": …, "envelope": …}, …]}.'))
    if len(batch) > config.max_batch_reports:
        raise TooLarge(N_("Un lote lleva como máximo %(max)s informes."), max=config.max_batch_reports)
    checked = relays.check_forwarded(batch, ours, config.max_ct_bytes, config.attachment_limits)
    # As for phones: the answer goes out only after the commit, because the base marks what we call stored.
    with writing(db.session):
        outcomes = relays.store_forwarded(db.session, checked)
        relays.mark_contact(db.session, relay)
    results = []
    for outcome in outcomes:
        result: dict[str, Any] = {"rid": outcome.rid, "status": outcome.status}
        if outcome.error is not None:
            result["error"] = outcome.error.render(gettext)
        results.append(result)
    return jsonify(results=results)


@bp.get("/relay/attachments/<aid>")
@relay_required
def relay_attachment_status(relay: AuthenticatedRelay, aid: str):  # type: ignore[no-untyped-def]
    answer = attachments.status(db.session, attachments.DatabaseChunkStore(db.session), aid, None)
    _mark(relay)
    return jsonify(answer)


@bp.put("/relay/attachments/<aid>/chunks/<index>")
@relay_required
def relay_put_chunk(relay: AuthenticatedRelay, aid: str, index: str):  # type: ignore[no-untyped-def]
    return receive_chunk(aid, index, None, lambda: relays.mark_contact(db.session, relay))
