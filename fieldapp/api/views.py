"""Device API views: thin; the work is in services."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from flask import Response, after_this_request, current_app, jsonify, request
from flask_babel import gettext

from ..config import Config
from ..crypto import WIRES
from ..database import end_read, writing
from ..errors import N_, BadRequest, Forbidden, Invalid, TooLarge, UnsupportedMedia
from ..extensions import db
from ..i18n import language_entries
from ..inputs import has_lone_surrogate
from ..looks import look_or_default, offered_looks
from ..services import attachments, audit, devices, enrollment, forms, keylists, relays, reports
from ..services.devices import AuthenticatedDevice
from . import bp
from .auth import delivering_device_required, device_required


def _config() -> Config:
    return current_app.config["FIELDAPP"]


def _reject_constant(name: str) -> None:
    raise ValueError(name)


def read_json_object() -> dict[str, Any]:
    """The body as a JSON object, or a clear 4xx: wrong type, bad UTF-8, bad JSON, NaN, nesting too deep."""
    if request.mimetype != "application/json":
        raise UnsupportedMedia(N_("El cuerpo debe ser JSON (Content-Type: application/json)."))
    raw = request.get_data(cache=False)
    try:
        body = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise BadRequest(N_("El cuerpo no es JSON válido.")) from exc
    if not isinstance(body, dict):
        raise BadRequest(N_("El cuerpo debe ser un objeto JSON."))
    if has_lone_surrogate(body):  # JSON's \u escapes can name half a character; nothing after could encode it
        raise BadRequest(N_("El cuerpo contiene texto Unicode no válido."))
    return body


@bp.post("/enroll")
def enroll():  # type: ignore[no-untyped-def]
    body = read_json_object()
    code = body.get("code")
    if not isinstance(code, str) or not 1 <= len(code) <= 64:
        raise Invalid(N_("Falta el código de inscripción."))
    if relays.is_relay_code(code):
        raise Forbidden(N_("Este código es de una base, no de un teléfono: pida un código de teléfono."))
    enrollment_id = enrollment.check_enrollment_id(body.get("enrollment_id"))
    with writing(db.session):
        device, token = enrollment.enroll(db.session, code, enrollment_id)
        offered = offered_looks(_config().own_look)
        team, look = device.team.name, look_or_default(device.look, _config().default_look, offered).id
        audit.record(db.session, "phone", "enrollment", team=team, device=device.id)
    return jsonify(device_token=token, team=team, look=look), 201


@bp.get("/bootstrap")
@device_required
def bootstrap(device: AuthenticatedDevice):  # type: ignore[no-untyped-def]
    org_keys, signed = keylists.phone_keys(db.session), keylists.latest(db.session)
    if devices.sync_mark_due(device):
        with writing(db.session):
            devices.mark_synced(db.session, device)
    languages = [{"code": e.code, "name": e.name, "direction": e.direction} for e in language_entries()]
    return jsonify(
        keys=org_keys,
        forms=forms.list_forms(),
        locales=languages,
        phone=_config().phone_rules,
        versions=sorted(WIRES),
        **({"signed_keys": signed.wire()} if signed else {}),
    )


@bp.post("/reports")
@delivering_device_required
def post_reports(device: AuthenticatedDevice):  # type: ignore[no-untyped-def]
    config = _config()
    ours = reports.known_kids(db.session)
    end_read(db.session)  # the body may take a while to arrive on a slow link
    body = read_json_object()
    batch = body.get("reports")
    if not isinstance(batch, list) or set(body) != {"reports"}:
        raise Invalid(N_('El cuerpo debe ser {"reports": [sobre, …]}.'))
    if len(batch) > config.max_batch_reports:
        raise TooLarge(N_("Un lote lleva como máximo %(max)s informes."), max=config.max_batch_reports)
    checked = reports.check_batch(batch, ours, config.max_ct_bytes, config.attachment_limits)
    # The write lock is taken only for the insert, not while the batch is parsed and checked; the answer
    # goes out only after the commit, because a device deletes what we call stored.
    with writing(db.session):
        outcomes = reports.store_reports(db.session, device.team_id, checked)
        devices.mark_synced(db.session, device)
    results = []
    for outcome in outcomes:
        result: dict[str, Any] = {"rid": outcome.rid, "status": outcome.status}
        if outcome.error is not None:
            result["error"] = outcome.error.render(gettext)
        results.append(result)
    return jsonify(results=results)


@bp.get("/attachments/<aid>")
@delivering_device_required
def attachment_status(device: AuthenticatedDevice, aid: str):  # type: ignore[no-untyped-def]
    answer = attachments.status(db.session, attachments.DatabaseChunkStore(db.session), aid, device.team_id)
    if devices.sync_mark_due(device):
        with writing(db.session):
            devices.mark_synced(db.session, device)
    return jsonify(answer)


def _close_after_a_refusal(response: Response) -> Response:
    """A refused chunk's body may be left unread on the connection, where no next request could be told from it."""
    if response.status_code >= 400:
        response.headers["Connection"] = "close"
    return response


@bp.put("/attachments/<aid>/chunks/<index>")
@delivering_device_required
def put_chunk(device: AuthenticatedDevice, aid: str, index: str):  # type: ignore[no-untyped-def]
    return receive_chunk(aid, index, device.team_id, lambda: devices.mark_synced(db.session, device))


def receive_chunk(aid: str, index: str, team_id: int | None, mark_contact: Callable[[], None]) -> tuple[str, int]:
    """One chunk's PUT, for a phone (its team's attachments) or a relay (any team's: `team_id` None)."""
    after_this_request(_close_after_a_refusal)
    store = attachments.DatabaseChunkStore(db.session)
    attachment = attachments.find(db.session, aid, team_id)
    attachments.chunk_index(index, attachment)  # a 404 before any body
    if request.mimetype != "application/octet-stream":
        raise UnsupportedMedia(N_("El cuerpo debe ser los bytes de la parte (Content-Type: application/octet-stream)."))
    limit = attachments.full_chunk_bytes(attachment)
    too_large = TooLarge(N_("Una parte lleva como máximo %(max)s bytes."), max=limit)
    if (request.content_length or 0) > limit:
        raise too_large
    end_read(db.session)  # the body may take a minute to arrive over 2G
    data = attachments.read_bounded(request.stream, limit)
    if len(data) > limit:
        raise too_large
    with writing(db.session):
        attachments.store_chunk(db.session, store, aid, team_id, int(index), data)
        mark_contact()
    return "", 204
