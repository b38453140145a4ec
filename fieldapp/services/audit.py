"""The tamper-evident audit trail: append-only events, each hash covering the one before it.

A changed row no longer matches its hash; a deleted or inserted row breaks the link from the next one.
Removing rows from the end leaves a shorter valid chain, which is why verification reports the head
hash and count: written down or exported elsewhere, they show that later rows existed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..errors import N_
from ..models import AuditEvent, utcnow

GENESIS = "0" * 64
# Events about a phone keep their date only: no row may place a phone at a precise time (README).
PHONE_ACTIONS = frozenset({"enrollment", "device_revoked", "device_wiped"})
# What each recorded action means, in words for the audit page (the stored code never changes).
ACTION_LABELS = {
    "setup": N_("Configuración inicial"),
    "login": N_("Entrada al panel"),
    "login_refused": N_("Entrada rechazada"),
    "logout": N_("Salida del panel"),
    "unlock": N_("Lectura desbloqueada"),
    "unlock_refused": N_("Desbloqueo rechazado"),
    "lock": N_("Lectura bloqueada"),
    "report_opened": N_("Informe abierto"),
    "attachment_opened": N_("Adjunto abierto"),
    "status_changed": N_("Estado cambiado"),
    "note_added": N_("Nota añadida"),
    "export": N_("Exportación"),
    "enrollment": N_("Teléfono inscrito"),
    "enrollment_code_issued": N_("Código de inscripción emitido"),
    "device_revoked": N_("Teléfono desconectado"),
    "device_wiped": N_("Teléfono borrado a distancia"),
    "team_created": N_("Equipo creado"),
    "user_created": N_("Cuenta creada"),
    "user_disabled": N_("Cuenta desactivada"),
    "user_lock_cleared": N_("Bloqueo de cuenta quitado"),
    "key_created": N_("Clave creada"),
    "key_rotated": N_("Clave rotada"),
    "key_granted": N_("Clave entregada"),
    "key_imported": N_("Clave importada"),
    "key_recovered": N_("Clave recuperada"),
    "translation_saved": N_("Traducción guardada"),
    "translations_imported": N_("Catálogo importado"),
    "bundle_exported": N_("Paquete exportado"),
    "bundle_imported": N_("Paquete importado"),
    "key_list_signed": N_("Lista de claves firmada"),
    "relay_added": N_("Base añadida"),
    "relay_enrolled": N_("Base inscrita"),
    "relay_revoked": N_("Base desconectada"),
    "relay_joined": N_("Enlace con la sede creado"),
    "relay_left": N_("Enlace con la sede quitado"),
    "relay_retried": N_("Rechazos de la sede reintentados"),
}


def _digest(prev_hash: str, at: dt.datetime, actor: str, action: str, report_rid: str | None, detail: str) -> str:
    body = json.dumps([prev_hash, at.isoformat(), actor, action, report_rid, detail], separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()


def record(session: Session, actor: str, action: str, report_rid: str | None = None, **detail: Any) -> AuditEvent:
    """Append one event in the caller's transaction, so it commits (or not) with the action it records."""
    detail_text = json.dumps(detail, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    for _ in range(5):
        last = session.scalar(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1))
        prev = last or GENESIS
        at = utcnow().replace(microsecond=0)
        if action in PHONE_ACTIONS:
            at = at.replace(hour=0, minute=0, second=0)
        event = AuditEvent(
            at=at,
            actor=actor,
            action=action,
            report_rid=report_rid,
            detail=detail_text,
            prev_hash=prev,
            hash=_digest(prev, at, actor, action, report_rid, detail_text),
        )
        try:
            with session.begin_nested():
                session.add(event)
            return event
        except IntegrityError:
            continue  # another writer appended first (PostgreSQL): link to the new head and try again
    raise RuntimeError("could not append to the audit trail")


@dataclass(frozen=True)
class Verification:
    ok: bool
    checked: int
    head: str
    broken_at: int | None = None  # the id of the first row that does not verify
    reason: str = ""


def verify(session: Session) -> Verification:
    prev = GENESIS
    checked = 0
    for event in session.scalars(select(AuditEvent).order_by(AuditEvent.id)).yield_per(500):
        if event.prev_hash != prev:
            return Verification(False, checked, prev, event.id, N_("falta o se insertó una fila antes de esta"))
        if event.hash != _digest(prev, event.at, event.actor, event.action, event.report_rid, event.detail):
            return Verification(False, checked, prev, event.id, N_("la fila fue modificada"))
        prev = event.hash
        checked += 1
    return Verification(True, checked, prev)


def shown_time(event: AuditEvent) -> str:
    """When, as the audit page shows it: a phone's events by their date alone."""
    return event.at.strftime("%Y-%m-%d" if event.action in PHONE_ACTIONS else "%Y-%m-%d %H:%M:%S")


def recent(session: Session, limit: int = 200) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)))
