"""Sealed reports in: validation of every envelope field and idempotent, race-safe storage.

The server never opens an envelope here; it checks the shape of what it will keep.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from .. import crypto
from ..errors import N_, Invalid
from ..models import Attachment, OrgKey, Report, today

# Used with fullmatch only: `$` would let a trailing newline through.
UUID4_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
ENVELOPE_FIELDS = ("v", "rid", "kid", "epk", "iv", "ct", "att")
ALL_FIELDS = frozenset(ENVELOPE_FIELDS)
REQUIRED_FIELDS = ALL_FIELDS - {"att"}
MAX_ATTACHMENTS = 16
MAX_ATTACHMENT_BYTES = 1 << 30  # whatever the configuration says, 1 GiB an attachment at most

STORED, DUPLICATE, REJECTED = "stored", "duplicate", "rejected"


@dataclass(frozen=True)
class CheckedEnvelope:
    rid: str
    kid: str
    text: str  # the canonical JSON kept and compared
    sha256: str
    att: tuple[tuple[str, int], ...] = ()  # (aid, chunks) declared
    version: int = 1  # the envelope's v, which fixes its attachments' chunk size


# (bytes one attachment may have, bytes all of one report's may have together): Config.attachment_limits.
NO_LIMITS = (MAX_ATTACHMENT_BYTES, MAX_ATTACHMENT_BYTES * MAX_ATTACHMENTS)


@dataclass(frozen=True)
class Outcome:
    rid: str | None
    status: str
    error: Invalid | None = None


def _b64u_field(envelope: dict[str, Any], name: str, min_len: int, max_len: int) -> None:
    value = envelope[name]
    # Length first: hostile megabytes are refused before any work is done on them.
    if not isinstance(value, str) or len(value) > (max_len * 4 + 2) // 3:
        raise Invalid(N_("El campo «%(field)s» no es base64url válido o es demasiado largo."), field=name)
    try:
        length = crypto.b64u_length(value)
    except ValueError as exc:
        raise Invalid(N_("El campo «%(field)s» no es base64url válido o es demasiado largo."), field=name) from exc
    if not min_len <= length <= max_len:
        raise Invalid(N_("El campo «%(field)s» no tiene la longitud esperada."), field=name)


def _check_attachments(att: object, limits: tuple[int, int], v: int) -> list[dict[str, Any]]:
    chunk_size = crypto.wire(v).chunk_size
    if not isinstance(att, list) or len(att) > MAX_ATTACHMENTS:
        raise Invalid(N_("El campo «att» debe ser una lista de hasta %(max)s adjuntos."), max=MAX_ATTACHMENTS)
    seen = set()
    for item in att:
        if (
            not isinstance(item, dict)
            or set(item) != {"aid", "chunks"}
            or not isinstance(item["aid"], str)
            or not UUID4_RE.fullmatch(item["aid"])
            or type(item["chunks"]) is not int
            or not 1 <= item["chunks"] <= MAX_ATTACHMENT_BYTES // chunk_size
            or item["aid"] in seen
        ):
            raise Invalid(N_("Un adjunto del campo «att» no es válido."))
        seen.add(item["aid"])
    per_attachment, per_report = limits
    # Declared chunks are full ones, so a file may be up to one chunk under what is counted here.
    if any(item["chunks"] * chunk_size > per_attachment for item in att):
        raise Invalid(N_("Un adjunto pasa del tamaño máximo de %(mb)s MiB."), mb=per_attachment >> 20)
    if sum(item["chunks"] for item in att) * chunk_size > per_report:
        raise Invalid(N_("Los adjuntos de un informe pasan del tamaño máximo de %(mb)s MiB."), mb=per_report >> 20)
    return [{"aid": item["aid"], "chunks": item["chunks"]} for item in att]


def check_envelope(
    envelope: object, known_kids: set[str], max_ct_bytes: int, attachment_limits: tuple[int, int] = NO_LIMITS
) -> CheckedEnvelope:
    """Validate every field of a v1 or v2 envelope (PROTOCOL.md §2) and give its canonical form.

    Pure, so a batch is checked without holding the database's write lock. Whether `epk` is on the curve is
    left to the opener (one clear error there): checking it here would cost more than the rest together.
    """
    if not isinstance(envelope, dict):
        raise Invalid(N_("Cada informe debe ser un objeto JSON."))
    fields = envelope.keys()
    if not fields <= ALL_FIELDS:
        unknown = sorted(str(f) for f in fields - ALL_FIELDS)[0][:40]
        raise Invalid(N_("Campo desconocido en el sobre: %(field)s."), field=unknown)
    if not REQUIRED_FIELDS <= fields:
        raise Invalid(N_("Falta el campo «%(field)s» en el sobre."), field=sorted(REQUIRED_FIELDS - fields)[0])
    v = envelope["v"]
    if type(v) is not int or v not in crypto.WIRES:
        raise Invalid(N_("Versión de sobre no admitida."))
    rid = envelope["rid"]
    if not isinstance(rid, str) or not UUID4_RE.fullmatch(rid):
        raise Invalid(N_("El identificador «rid» debe ser un UUID v4 en minúsculas."))
    kid = envelope["kid"]
    if not crypto.is_kid(kid):
        raise Invalid(N_("El identificador de clave «kid» no es válido."))
    if kid not in known_kids:
        raise Invalid(N_("La clave %(kid)s no es una clave de esta organización."), kid=kid)
    _b64u_field(envelope, "epk", crypto.PUB_LEN, crypto.PUB_LEN)
    if not envelope["epk"].startswith("B"):  # 0x04: an uncompressed point
        raise Invalid(N_("La clave efímera «epk» no es un punto P-256 sin comprimir."))
    _b64u_field(envelope, "iv", crypto.IV_LEN, crypto.IV_LEN)
    _b64u_field(envelope, "ct", crypto.TAG_LEN, max_ct_bytes)
    canonical: dict[str, Any] = {name: envelope[name] for name in ENVELOPE_FIELDS if name != "att"}
    att = _check_attachments(envelope["att"], attachment_limits, v) if "att" in fields else None
    if att:
        canonical["att"] = att
    # A serializer, never string assembly: whatever slips past a check above still yields valid JSON.
    text = json.dumps(canonical, separators=(",", ":"), ensure_ascii=True)
    declared = tuple((item["aid"], item["chunks"]) for item in att or ())
    return CheckedEnvelope(rid, kid, text, hashlib.sha256(text.encode()).hexdigest(), declared, v)


def _insert_ignoring_existing(session: Session, table: Any, key: str, rows: list[dict[str, Any]]) -> dict[str, int]:
    """Insert rows whose `key` is new, atomically against concurrent writers; returns {key: id} of those inserted."""
    dialect = session.get_bind().dialect.name
    insert = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}[dialect]
    # executemany with RETURNING (insertmanyvalues): compiled once and cached, unlike a literal VALUES list.
    stmt = insert(table).on_conflict_do_nothing(index_elements=[key]).returning(table.c[key], table.c.id)
    return {key_value: row_id for key_value, row_id in session.connection().execute(stmt, rows)}


AID_TAKEN = N_("Un adjunto de este informe ya lo declaró otro informe.")


def _taken_aids(session: Session, candidates: list[CheckedEnvelope]) -> set[str]:
    """The rids of new reports declaring an aid that a stored report holds, or an earlier report of the batch."""
    declaring = [c for c in candidates if c.att]
    if not declaring:
        return set()
    # A report already stored (a retry, or a conflict) is answered by its rid alone, whatever it declares.
    stored = set(session.scalars(select(Report.rid).where(Report.rid.in_([c.rid for c in declaring]))))
    new = [c for c in declaring if c.rid not in stored]
    declared = [aid for c in new for aid, _ in c.att]
    held = set(session.scalars(select(Attachment.aid).where(Attachment.aid.in_(declared)))) if declared else set()
    clashing = set()
    for c in new:
        aids = {aid for aid, _ in c.att}
        if aids & held:
            clashing.add(c.rid)
        else:
            held |= aids  # a later report of the batch may not declare them again
    return clashing


def _store_attachments(session: Session, inserted: dict[str, int], candidates: dict[str, CheckedEnvelope]) -> set[str]:
    """The attachment rows of reports just inserted; answers the rids whose aids a concurrent writer took first,
    whose reports are taken out again in the same transaction."""
    rows = [
        {"aid": aid, "report_id": report_id, "chunks": chunks, "received": 0, "version": candidates[rid].version}
        for rid, report_id in inserted.items()
        for aid, chunks in candidates[rid].att
    ]
    if not rows:
        return set()
    stored = _insert_ignoring_existing(session, Attachment.__table__, "aid", rows)
    lost = {rid for rid, report_id in inserted.items() for aid, _ in candidates[rid].att if aid not in stored}
    if lost:
        ids = [inserted[rid] for rid in lost]
        session.execute(delete(Attachment).where(Attachment.report_id.in_(ids)))
        session.execute(delete(Report).where(Report.id.in_(ids)))
    return lost


def check_batch(
    envelopes: Iterable[object],
    known_kids: set[str],
    max_ct_bytes: int,
    attachment_limits: tuple[int, int] = NO_LIMITS,
) -> list[CheckedEnvelope | Outcome]:
    """Each envelope checked, or its rejection; order kept."""
    checked: list[CheckedEnvelope | Outcome] = []
    for envelope in envelopes:
        try:
            checked.append(check_envelope(envelope, known_kids, max_ct_bytes, attachment_limits))
        except Invalid as exc:
            rid = envelope.get("rid") if isinstance(envelope, dict) else None
            checked.append(Outcome(rid if isinstance(rid, str) and len(rid) <= 64 else None, REJECTED, exc))
    return checked


def store_reports(session: Session, team_id: int, checked: list[CheckedEnvelope | Outcome]) -> list[Outcome]:
    """Store a checked batch; one outcome per envelope, in order.

    Same rid and bytes as stored: duplicate; same rid, other bytes: rejected, and the first is kept.
    """
    outcomes: list[Outcome | None] = []
    first_in_batch: dict[str, CheckedEnvelope] = {}
    pending: list[tuple[int, CheckedEnvelope]] = []
    for item in checked:
        if isinstance(item, Outcome):
            outcomes.append(item)
        else:
            outcomes.append(None)
            pending.append((len(outcomes) - 1, item))
            first_in_batch.setdefault(item.rid, item)

    received = today()
    clashing = _taken_aids(session, list(first_in_batch.values()))
    for rid in clashing:
        del first_in_batch[rid]
    rows = [
        {
            "rid": c.rid,
            "team_id": team_id,
            "kid": c.kid,
            "envelope": c.text,
            "envelope_sha256": c.sha256,
            "size": len(c.text),
            "received_on": received,
        }
        for c in first_in_batch.values()
    ]
    inserted_ids = _insert_ignoring_existing(session, Report.__table__, "rid", rows) if rows else {}
    clashing |= _store_attachments(session, inserted_ids, first_in_batch)
    inserted = set(inserted_ids) - clashing
    stored_digest = {rid: first_in_batch[rid].sha256 for rid in inserted}
    earlier = [rid for rid in first_in_batch if rid not in inserted and rid not in clashing]
    if earlier:  # only retries and conflicts need what was stored before
        query = select(Report.rid, Report.envelope_sha256).where(Report.rid.in_(earlier))
        stored_digest.update({rid: digest for rid, digest in session.execute(query)})

    for index, checked in pending:
        if checked.rid in clashing:
            outcomes[index] = Outcome(checked.rid, REJECTED, Invalid(AID_TAKEN))
        elif checked.rid in inserted and checked is first_in_batch[checked.rid]:
            outcomes[index] = Outcome(checked.rid, STORED)
        elif stored_digest.get(checked.rid) == checked.sha256:
            outcomes[index] = Outcome(checked.rid, DUPLICATE)
        else:
            outcomes[index] = Outcome(
                checked.rid,
                REJECTED,
                Invalid(N_("Ya se recibió otro informe con el mismo identificador; se conserva el primero.")),
            )
    return [o for o in outcomes if o is not None]


def known_kids(session: Session) -> set[str]:
    return set(session.scalars(select(OrgKey.kid)))
