"""HQ's side of relaying: bases enrolled with a code of their own kind, and the reports they forward, each to
the team it came from (PROTOCOL.md §11)."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..crypto import token_digest
from ..errors import N_, Conflict, Forbidden, Invalid, NotFound, Unauthorized
from ..models import Relay, Team, today, utcnow
from . import reports
from .enrollment import CODE_ALPHABET, CODE_LENGTH, normalize_code
from .reports import CheckedEnvelope, Outcome

RELAY_CODE_LENGTH = 16  # 80 bits, and a length no phone's code has: neither kind is mistaken for the other
MAX_RELAY_CODE_TTL_HOURS = 24 * 30
MAX_NAME = 80
NO_TEAM = N_("La sede no tiene el equipo «%(name)s» de este informe: créelo allí con el mismo nombre.")
NOT_AN_ITEM = N_('Cada informe reenviado es {"team": "…", "envelope": {…}}.')


def format_relay_code(code: str) -> str:
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def is_relay_code(code: str) -> bool:
    """Whether what was typed has a base's length: a phone told so is told where it belongs."""
    return len(normalize_code(code)) == RELAY_CODE_LENGTH


def check_name(name: str) -> str:
    name = name.strip()
    if not 1 <= len(name) <= MAX_NAME or not name.isprintable():
        raise Invalid(N_("El nombre de una base tiene de 1 a %(max)s caracteres visibles."), max=MAX_NAME)
    return name


def add_relay(session: Session, name: str, ttl_hours: int = 72) -> tuple[Relay, str]:
    """A new base that may forward here, and its one-use code (only the code's digest is kept)."""
    name = check_name(name)
    if not 1 <= ttl_hours <= MAX_RELAY_CODE_TTL_HOURS:
        raise Invalid(N_("Un código vale entre 1 y %(max)s horas."), max=MAX_RELAY_CODE_TTL_HOURS)
    if session.scalar(select(Relay.id).where(Relay.name == name)) is not None:
        raise Conflict(N_("Ya hay una base llamada «%(name)s»."), name=name)
    code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(RELAY_CODE_LENGTH))
    relay = Relay(name=name, code_hash=token_digest(code), code_expires_at=utcnow() + dt.timedelta(hours=ttl_hours))
    session.add(relay)
    session.flush()
    return relay, format_relay_code(code)


def enroll_relay(session: Session, code: str, enrollment_id: str | None) -> tuple[Relay, str]:
    """Spend a base's code for its token. The same code and enrollment_id again, before the token is first used,
    is a retry after a lost answer: a fresh token (the lost one stops working), as for phones."""
    if len(normalize_code(code)) == CODE_LENGTH:
        raise Forbidden(N_("Este código es de un teléfono: en la base use un código de base de la sede."))
    digest = token_digest(normalize_code(code))
    relay = session.scalar(
        select(Relay).where(Relay.code_hash == digest, Relay.code_expires_at > utcnow(), Relay.revoked_on.is_(None))
    )
    retry = token_digest(f"{digest}:{enrollment_id}") if enrollment_id else None
    if relay is None or (relay.token_hash is not None and (retry is None or relay.enrollment_digest != retry)):
        raise Forbidden(N_("El código de la base no es válido, ya se usó o caducó."))
    token = secrets.token_urlsafe(32)
    # A conditional update: two bases racing for one code cannot both get a token.
    unchanged = Relay.token_hash.is_(None) if relay.token_hash is None else Relay.token_hash == relay.token_hash
    claimed = session.execute(
        update(Relay)
        .where(Relay.id == relay.id, unchanged)
        .values(token_hash=token_digest(token), enrollment_digest=retry)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        raise Forbidden(N_("El código de la base no es válido, ya se usó o caducó."))
    session.refresh(relay)
    return relay, token


@dataclass(frozen=True)
class AuthenticatedRelay:
    id: int
    name: str
    last_contact_on: dt.date | None
    first_use: bool  # its code is still kept for a retry: the first call spends it for good


def authenticate(session: Session, token: str) -> AuthenticatedRelay:
    row = session.execute(
        select(Relay.id, Relay.name, Relay.last_contact_on, Relay.revoked_on, Relay.code_hash).where(
            Relay.token_hash == token_digest(token)
        )
    ).first()
    if row is None or row.revoked_on is not None:
        raise Unauthorized(N_("Esta base no está inscrita en la sede o fue desconectada."))
    return AuthenticatedRelay(row.id, row.name, row.last_contact_on, row.code_hash is not None)


def contact_mark_due(relay: AuthenticatedRelay, spending: bool = True) -> bool:
    return (spending and relay.first_use) or relay.last_contact_on != today()


def mark_contact(session: Session, relay: AuthenticatedRelay, spending: bool = True) -> None:
    """The day of the base's last contact; its first delivery (`spending`) also ends the code's retry window. A
    bootstrap does not: a base whose join failed after it can retry with the same code."""
    if not contact_mark_due(relay, spending):
        return
    values: dict[str, object] = {"last_contact_on": today()}
    if spending:
        values.update(code_hash=None, code_expires_at=None, enrollment_digest=None)
    session.execute(
        update(Relay).where(Relay.id == relay.id).values(**values).execution_options(synchronize_session=False)
    )


def list_relays(session: Session) -> list[Relay]:
    return list(session.scalars(select(Relay).order_by(Relay.name)))


def revoke(session: Session, relay_id: int) -> Relay:
    relay = session.get(Relay, relay_id)
    if relay is None:
        raise NotFound(N_("No existe la base %(id)s."), id=relay_id)
    if relay.revoked_on is None:
        relay.revoked_on = today()
        relay.code_hash = None
    return relay


def team_names(session: Session) -> list[str]:
    return list(session.scalars(select(Team.name).order_by(Team.name)))


@dataclass(frozen=True)
class Forwarded:
    """One item of a relay's batch, checked: its team's name and its envelope's check (or rejection)."""

    team: str | None
    checked: CheckedEnvelope | Outcome


def check_forwarded(
    items: Iterable[object], known_kids: set[str], max_ct_bytes: int, limits: tuple[int, int]
) -> list[Forwarded]:
    """Each `{"team", "envelope"}` checked as a phone's envelope is; order kept. Pure: runs before the write."""
    items = list(items)
    envelopes = [
        item["envelope"] if isinstance(item, dict) and set(item) == {"team", "envelope"} else None for item in items
    ]
    checked = reports.check_batch(envelopes, known_kids, max_ct_bytes, limits)
    out: list[Forwarded] = []
    for item, envelope, check in zip(items, envelopes, checked, strict=True):
        team = item.get("team") if isinstance(item, dict) else None
        if envelope is None or not isinstance(team, str) or not 1 <= len(team) <= MAX_NAME:
            rid = envelope.get("rid") if isinstance(envelope, dict) else None
            rid = rid if isinstance(rid, str) and len(rid) <= 64 else None
            out.append(Forwarded(None, Outcome(rid, reports.REJECTED, Invalid(NOT_AN_ITEM))))
        else:
            out.append(Forwarded(team, check))
    return out


def store_forwarded(session: Session, batch: list[Forwarded]) -> list[Outcome]:
    """Store a relay's checked batch, each report to its own team here; one outcome per item, in order."""
    teams = dict(session.execute(select(Team.name, Team.id)).all())
    outcomes: list[Outcome | None] = [None] * len(batch)
    by_team: dict[int, list[tuple[int, CheckedEnvelope]]] = {}
    for index, item in enumerate(batch):
        if isinstance(item.checked, Outcome):
            outcomes[index] = item.checked
        elif item.team not in teams:
            outcomes[index] = Outcome(item.checked.rid, reports.REJECTED, Invalid(NO_TEAM, name=item.team or ""))
        else:
            by_team.setdefault(teams[item.team], []).append((index, item.checked))
    for team_id, entries in by_team.items():
        stored = reports.store_reports(session, team_id, [checked for _, checked in entries])
        for (index, _), outcome in zip(entries, stored, strict=True):
            outcomes[index] = outcome
    return [o for o in outcomes if o is not None]
