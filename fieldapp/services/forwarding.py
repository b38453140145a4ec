"""A base's side of relaying: its link to HQ, and forwarding what it holds until HQ confirms each report and
chunk (PROTOCOL.md §11). Ciphertext only; HQ's idempotency makes every resend after a cut harmless."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import json
import secrets
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from ..crypto import b64u_decode, b64u_encode, kid_for
from ..database import end_read, writing
from ..errors import N_, Conflict, DomainError, Invalid
from ..models import Attachment, AttachmentChunk, OrgKey, RelayLink, Report, SignedKeyList, Team, today, utcnow
from . import keylists, keys
from .enrollment import normalize_code

USER_AGENT = "fieldapp-relay"  # HQ stores no user agent; this one names software, not a person's phone
MAX_ANSWER_BYTES = 4 << 20
BATCH_REPORTS = 100
BATCH_BYTES = 3 << 20  # under HQ's 4 MiB body limit, with room for the JSON around the envelopes
REFUSAL_CHARS = 500


class Unreachable(DomainError):
    """HQ could not be reached, or answered in a way that leaves everything as it was: try again later."""

    status = 503


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes

    def json(self) -> Any:
        try:
            found = json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise Unreachable(N_("La sede respondió algo que no es JSON (%(status)s)."), status=self.status) from exc
        if not isinstance(found, dict):  # HQ answers objects only
            raise Unreachable(N_("La sede respondió algo que no es JSON (%(status)s)."), status=self.status)
        return found

    def detail(self) -> str:
        try:
            detail = self.json().get("detail", "")
        except (Unreachable, AttributeError):
            detail = ""
        return str(detail)[:REFUSAL_CHARS] if detail else str(self.status)


class Transport(Protocol):
    def call(self, method: str, path: str, body: bytes | None = None, content_type: str = "application/json") -> Answer:
        """One request to HQ; raises Unreachable when no answer came."""
        ...


def check_hq_url(url: str) -> str:
    """HQ's address: https, or http to this machine or a private network only (the token travels with it)."""
    url = url.strip().rstrip("/")
    parts = urlsplit(url)
    try:
        port_ok = parts.port != 0  # ValueError for one that is not a number from 0 to 65535
    except ValueError:
        port_ok = False
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment or len(url) > 300:
        raise Invalid(N_("La dirección de la sede debe ser https://nombre[:puerto]."))
    if not port_ok:
        raise Invalid(N_("La dirección de la sede debe ser https://nombre[:puerto]."))
    if parts.scheme == "http":
        try:
            address = ipaddress.ip_address(parts.hostname)
        except ValueError:
            address = None
        if parts.hostname != "localhost" and (address is None or not (address.is_private or address.is_loopback)):
            raise Invalid(N_("Sin https, la sede solo puede estar en esta máquina o en una red privada."))
    return url


class HttpTransport:
    """HTTP(S) to HQ with a timeout on every wait: a stalled answer is given up on, never waited for."""

    def __init__(self, url: str, token: str | None = None, ca_pem: str | None = None, timeout: float = 30) -> None:
        self.parts = urlsplit(check_hq_url(url))
        self.token = token
        self.timeout = timeout
        self.context: ssl.SSLContext | None = None
        if self.parts.scheme == "https":
            try:
                self.context = ssl.create_default_context(cadata=ca_pem) if ca_pem else ssl.create_default_context()
            except (ssl.SSLError, ValueError) as exc:
                raise Invalid(N_("El certificado de la autoridad de la sede no se puede leer.")) from exc

    def _connection(self) -> http.client.HTTPConnection:
        host, port = self.parts.hostname or "", self.parts.port
        if self.context is not None:
            return http.client.HTTPSConnection(host, port, timeout=self.timeout, context=self.context)
        return http.client.HTTPConnection(host, port, timeout=self.timeout)

    def call(self, method: str, path: str, body: bytes | None = None, content_type: str = "application/json") -> Answer:
        headers = {"User-Agent": USER_AGENT, "Accept-Language": "es"}
        if body is not None:
            headers["Content-Type"] = content_type
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        connection = self._connection()
        try:
            connection.request(method, self.parts.path + path, body, headers)
            response = connection.getresponse()
            data = response.read(MAX_ANSWER_BYTES + 1)
        except (OSError, http.client.HTTPException, ssl.SSLError) as exc:  # refused, reset, timed out, cut short
            raise Unreachable(N_("No se pudo hablar con la sede: %(reason)s."), reason=_reason(exc)) from exc
        finally:
            connection.close()
        if len(data) > MAX_ANSWER_BYTES:
            raise Unreachable(N_("La respuesta de la sede es demasiado grande."))
        return Answer(response.status, data)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, socket.timeout | TimeoutError):
        return "timeout"
    return type(exc).__name__ if not str(exc) else f"{type(exc).__name__}: {str(exc)[:200]}"


TransportFactory = Callable[[str, "str | None", "str | None"], Transport]


def http_transport(url: str, token: str | None, ca_pem: str | None) -> Transport:
    return HttpTransport(url, token, ca_pem)


def http_transport_waiting(seconds: float) -> TransportFactory:
    """HTTP(S) that waits at most `seconds` for each of HQ's answers (Config.relay_timeout_seconds)."""
    return lambda url, token, ca_pem: HttpTransport(url, token, ca_pem, timeout=seconds)


# ---------------------------------------------------------------- the link


def link(session: Session) -> RelayLink | None:
    return session.scalar(select(RelayLink).order_by(RelayLink.id).limit(1))


def _answer_or_raise(answer: Answer, expected: int) -> Any:
    if answer.status == expected:
        return answer.json()
    if answer.status == 401:
        raise Unreachable(
            N_("La sede no reconoce esta base: pídale un código nuevo (%(detail)s)."), detail=answer.detail()
        )
    if answer.status == 403:
        raise Invalid(N_("La sede rechazó el código: %(detail)s"), detail=answer.detail())
    raise Unreachable(N_("La sede respondió %(status)s: %(detail)s"), status=answer.status, detail=answer.detail())


def join(
    session: Session,
    url: str,
    code: str,
    ca_pem: str | None,
    transport: TransportFactory = http_transport,
    secret: str = "",
) -> RelayLink:
    """Enrol this server with HQ's code for a base and keep the link; HQ's keys become this server's."""
    url = check_hq_url(url)
    if link(session) is not None:
        raise Conflict(N_("Este servidor ya reenvía a una sede; quite ese enlace antes."))
    end_read(session)
    # The same for the same code on this server (keyed by its secret): a join retried after a failure, even by a
    # new command, is HQ's retry of one enrolment, and costs no second code.
    mac = hmac.new(secret.encode() or secrets.token_bytes(32), normalize_code(code).encode(), hashlib.sha256)
    enrollment_id = b64u_encode(mac.digest()[:24])
    body = json.dumps({"code": code, "enrollment_id": enrollment_id}).encode()
    try:
        answer = transport(url, None, ca_pem).call("POST", "/api/v1/relay/enroll", body)
    except Unreachable:
        answer = transport(url, None, ca_pem).call("POST", "/api/v1/relay/enroll", body)
    enrolled = _answer_or_raise(answer, 201)
    token, name = enrolled.get("relay_token"), enrolled.get("name")
    if not isinstance(token, str) or not isinstance(name, str) or not 0 < len(token) <= 100 or len(name) > 80:
        raise Unreachable(N_("La sede respondió algo inesperado al inscribir la base."))
    boot = _answer_or_raise(transport(url, token, ca_pem).call("GET", "/api/v1/relay/bootstrap"), 200)
    with writing(session):
        if link(session) is not None:
            raise Conflict(N_("Este servidor ya reenvía a una sede; quite ese enlace antes."))
        joined = RelayLink(hq_url=url, name=name, token=token, ca_pem=ca_pem, last_contact_at=utcnow())
        session.add(joined)
        # The base's own first-run list gives way to HQ's: from now on its phones trust HQ's signer alone.
        session.execute(delete(SignedKeyList))
        # What an earlier link confirmed is no proof for this HQ: everything goes again (duplicates cost nothing).
        session.execute(update(Report).values(forwarded_on=None, forward_refusal=None))
        session.execute(update(AttachmentChunk).values(forwarded=False))
        adopt_keys(session, boot)
        session.flush()
    return joined


def leave(session: Session) -> None:
    """Forget the link (HQ keeps the base until it revokes it); what was not forwarded stays here."""
    current = link(session)
    if current is not None:
        session.delete(current)


def adopt_keys(session: Session, bootstrap: object) -> None:
    """HQ's public keys, as HQ lists them: phones enrolled here seal to HQ's current key (HQ alone reads them).
    HQ's signed list is kept as it is and given to this base's phones; once there is one, only a list signed by
    the same key is taken (PROTOCOL.md §12)."""
    signed = bootstrap.get("signed_keys") if isinstance(bootstrap, dict) else None
    if signed is not None or keylists.pinned_signer(session) is not None:
        keylists.import_signed(session, signed)  # Invalid or Conflict: the keys here stay as they were
        return
    listed = bootstrap.get("keys") if isinstance(bootstrap, dict) else None
    if not isinstance(listed, list) or not listed:
        raise Unreachable(N_("La sede no envió sus claves."))
    found: list[tuple[bytes, bool]] = []
    for entry in listed:
        try:
            pub = b64u_decode(entry["pub"])
            if len(pub) != 65 or pub[0] != 4 or kid_for(pub) != entry["kid"]:
                raise ValueError("kid")
            found.append((pub, entry.get("current") is True))
        except (KeyError, TypeError, ValueError) as exc:
            raise Unreachable(N_("La sede envió una clave que no se puede leer.")) from exc
    if sum(current for _, current in found) != 1:
        raise Unreachable(N_("La sede no marca una sola clave vigente."))
    have = {key.kid: key for key in session.scalars(select(OrgKey))}
    for pub, current in found:
        key = have.get(kid_for(pub)) or keys.store_public_key(session, pub)
        if current and not key.current:
            keys.make_current(session, key)


# ---------------------------------------------------------------- what waits for HQ


@dataclass
class Waiting:
    reports: int
    chunks: int
    refused: int


def waiting(session: Session) -> Waiting:
    reports_waiting = session.scalar(
        select(func.count()).select_from(Report).where(Report.forwarded_on.is_(None), Report.forward_refusal.is_(None))
    )
    refused = session.scalar(select(func.count()).select_from(Report).where(Report.forward_refusal.is_not(None)))
    chunks = session.scalar(
        select(func.count())
        .select_from(AttachmentChunk)
        .join(Attachment, Attachment.id == AttachmentChunk.attachment_id)
        .join(Report, Report.id == Attachment.report_id)
        .where(AttachmentChunk.forwarded.is_(False), Report.forward_refusal.is_(None))
    )
    return Waiting(reports_waiting or 0, chunks or 0, refused or 0)


def refusals(session: Session, limit: int = 200) -> list[tuple[str, str, str]]:
    """(rid, team, HQ's reason) of the reports HQ refused, newest first."""
    query = (
        select(Report.rid, Report.team_id, Report.forward_refusal)
        .where(Report.forward_refusal.is_not(None))
        .order_by(Report.id.desc())
        .limit(limit)
    )
    names = dict(session.execute(select(Team.id, Team.name)).all())
    return [(rid, names.get(team_id, ""), reason or "") for rid, team_id, reason in session.execute(query)]


def retry_refused(session: Session) -> int:
    """Send HQ's refusals again (HQ has the team now, or a key): inside the caller's write."""
    done = session.execute(
        update(Report)
        .where(Report.forward_refusal.is_not(None))
        .values(forward_refusal=None)
        .execution_options(synchronize_session=False)
    )
    return done.rowcount or 0


# ---------------------------------------------------------------- forwarding


@dataclass
class Pass:
    """What one forwarding pass did."""

    confirmed: int = 0  # reports HQ answered stored or duplicate for
    refused: int = 0
    chunks: int = 0  # chunks HQ now holds
    conflicts: int = 0  # chunks HQ holds other bytes for (it keeps its first)
    problems: list[str] = field(default_factory=list)


Progress = Callable[[Pass], None]


def render_error(stored: str, translate: Callable[[str], str]) -> str:
    """The link's last error, kept as its msgid and parameters, in the reader's language."""
    try:
        msgid, params = json.loads(stored)
        return translate(msgid) % params if params else translate(msgid)
    except (ValueError, TypeError, KeyError):
        return stored


def _record_attempt(session: Session, error: DomainError | None, contacted: bool) -> None:
    with writing(session):
        current = link(session)
        if current is None:
            return
        now = utcnow()
        current.last_attempt_at = now
        if contacted:
            current.last_contact_at = now
        if error is None:
            current.last_error = None
        else:  # parameters cut, not the JSON: it must still read back
            params = {k: str(v)[:200] for k, v in error.params.items()}
            current.last_error = json.dumps([error.msgid, params], ensure_ascii=False)[:500]


def forward(session: Session, transport: TransportFactory = http_transport, progress: Progress | None = None) -> Pass:
    """One pass: HQ's keys, then every report HQ has not confirmed, then every chunk HQ lacks. Stops at the
    first cut (kept as the link's last error); whatever HQ confirmed is marked as it goes, so the next pass
    resumes there."""
    current = link(session)
    if current is None:
        raise Invalid(N_("Este servidor no reenvía a ninguna sede: use fieldapp relay join."))
    hq = transport(current.hq_url, current.token, current.ca_pem)
    end_read(session)
    done = Pass()
    contacted = False
    try:
        boot = _answer_or_raise(hq.call("GET", "/api/v1/relay/bootstrap"), 200)
        contacted = True
        keys_refused = _adopt_or_refuse(session, boot)
        _forward_reports(session, hq, done, progress)
        _forward_chunks(session, hq, done, progress)
    except (Unreachable, Invalid) as failure:
        _record_attempt(session, failure, contacted)
        raise
    # Ciphertext goes on even when HQ's key list is refused: the base's phones keep sealing to the keys they had.
    _record_attempt(session, keys_refused, True)
    return done


def _adopt_or_refuse(session: Session, bootstrap: object) -> DomainError | None:
    try:
        with writing(session):
            adopt_keys(session, bootstrap)
    except (Invalid, Conflict) as refused:
        return refused
    return None


@dataclass(frozen=True)
class _Waiting:
    id: int
    rid: str
    team: str
    envelope: str  # the canonical JSON the base stored: sent as it is, never parsed again


def _next_reports(session: Session, after: int) -> list[_Waiting]:
    query = (
        select(Report.id, Report.rid, Team.name, Report.envelope)
        .join(Team, Team.id == Report.team_id)
        .where(Report.forwarded_on.is_(None), Report.forward_refusal.is_(None), Report.id > after)
        .order_by(Report.id)
        .limit(BATCH_REPORTS)
    )
    rows = [_Waiting(row.id, row.rid, row.name, row.envelope) for row in session.execute(query)]
    end_read(session)
    return rows


def _batch_body(batch: list[_Waiting]) -> bytes:
    items = ",".join(f'{{"team":{json.dumps(w.team, ensure_ascii=False)},"envelope":{w.envelope}}}' for w in batch)
    return f'{{"reports":[{items}]}}'.encode()


def _forward_reports(session: Session, hq: Transport, done: Pass, progress: Progress | None) -> None:
    after = 0
    while rows := _next_reports(session, after):
        batch, size = [], 0
        for row in rows:
            if batch and size + len(row.envelope) > BATCH_BYTES:
                break
            batch.append(row)
            size += len(row.envelope) + len(row.team) + 32
        answer = _answer_or_raise(hq.call("POST", "/api/v1/relay/reports", _batch_body(batch)), 200)
        results = answer.get("results") if isinstance(answer, dict) else None
        if not isinstance(results, list) or len(results) != len(batch):
            raise Unreachable(N_("La sede respondió al lote algo inesperado; se enviará de nuevo."))
        confirmed, refused = [], []
        for waiting_report, result in zip(batch, results, strict=True):
            if not isinstance(result, dict) or result.get("rid") != waiting_report.rid:
                continue  # an answer for another report confirms nothing: this one goes again
            if result.get("status") in ("stored", "duplicate"):
                confirmed.append(waiting_report.id)
            elif result.get("status") == "rejected":
                refused.append((waiting_report.id, str(result.get("error") or "")[:REFUSAL_CHARS] or "rejected"))
        with writing(session):
            if confirmed:
                session.execute(
                    update(Report)
                    .where(Report.id.in_(confirmed))
                    .values(forwarded_on=today())
                    .execution_options(synchronize_session=False)
                )
            for report_id, reason in refused:
                session.execute(
                    update(Report)
                    .where(Report.id == report_id)
                    .values(forward_refusal=reason)
                    .execution_options(synchronize_session=False)
                )
        done.confirmed += len(confirmed)
        done.refused += len(refused)
        after = batch[-1].id
        if progress:
            progress(done)


def _attachments_waiting(session: Session, after: int) -> list[tuple[int, str]]:
    """(attachment id, aid) of confirmed reports' attachments with chunks not yet at HQ, a few at a time."""
    query = (
        select(Attachment.id, Attachment.aid)
        .join(Report, Report.id == Attachment.report_id)
        .where(
            Report.forwarded_on.is_not(None),
            Attachment.id > after,
            select(AttachmentChunk.index)
            .where(AttachmentChunk.attachment_id == Attachment.id, AttachmentChunk.forwarded.is_(False))
            .exists(),
        )
        .order_by(Attachment.id)
        .limit(50)
    )
    found = [(attachment_id, aid) for attachment_id, aid in session.execute(query)]
    end_read(session)
    return found


def _unforwarded(session: Session, attachment_id: int) -> list[int]:
    query = select(AttachmentChunk.index).where(
        AttachmentChunk.attachment_id == attachment_id, AttachmentChunk.forwarded.is_(False)
    )
    indices = list(session.scalars(query.order_by(AttachmentChunk.index)))
    end_read(session)
    return indices


def _mark_chunks(session: Session, attachment_id: int, indices: list[int]) -> None:
    with writing(session):
        session.execute(
            update(AttachmentChunk)
            .where(AttachmentChunk.attachment_id == attachment_id, AttachmentChunk.index.in_(indices))
            .values(forwarded=True)
            .execution_options(synchronize_session=False)
        )


# HQ's answers for a chunk it will not take as it is: noted, and asked again at the next pass, not fatal to this one.
SKIPPED = frozenset({404, 413, 415, 422})


def _forward_chunks(session: Session, hq: Transport, done: Pass, progress: Progress | None) -> None:
    after = 0
    while waiting_now := _attachments_waiting(session, after):
        for attachment_id, aid in waiting_now:
            after = attachment_id
            status = hq.call("GET", f"/api/v1/relay/attachments/{aid}")
            if status.status in SKIPPED:
                done.problems.append(aid)
                continue
            held = _answer_or_raise(status, 200).get("received")
            held_there = {i for i in held if isinstance(i, int)} if isinstance(held, list) else set()
            indices = _unforwarded(session, attachment_id)
            already = [i for i in indices if i in held_there]
            done.chunks += len(already)
            sent = [
                i for i in indices if i not in held_there and _forward_chunk(session, hq, aid, attachment_id, i, done)
            ]
            # One mark per attachment: after a cut before it, the next pass's status shows what HQ holds.
            if already or sent:
                _mark_chunks(session, attachment_id, already + sent)
            if progress:
                progress(done)


def _forward_chunk(session: Session, hq: Transport, aid: str, attachment_id: int, index: int, done: Pass) -> bool:
    """Send one chunk; True once HQ holds it (its 204, or its 409: HQ keeps the bytes it got first)."""
    data = session.scalar(
        select(AttachmentChunk.data).where(
            AttachmentChunk.attachment_id == attachment_id, AttachmentChunk.index == index
        )
    )
    end_read(session)
    if data is None:
        return False
    put = hq.call("PUT", f"/api/v1/relay/attachments/{aid}/chunks/{index}", bytes(data), "application/octet-stream")
    if put.status in SKIPPED:
        done.problems.append(aid)
        return False
    if put.status == 409:
        done.conflicts += 1
    elif put.status != 204:
        _answer_or_raise(put, 204)
    done.chunks += 1
    return True
