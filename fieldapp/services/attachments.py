"""Attachment chunks in (PROTOCOL.md §4–5): accepted only for an attachment a stored report of the same team
declared, each checked for its place and size, idempotent, behind a small storage interface.

The server never opens a chunk: it keeps the sealed bytes exactly as they came.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, Protocol

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from .. import crypto
from ..errors import N_, Conflict, Invalid, NotFound
from ..models import Attachment, AttachmentChunk, Report
from .inbox import open_stored
from .reports import UUID4_RE

INDEX_RE = re.compile(r"0|[1-9][0-9]{0,5}")
UNKNOWN = N_("No hay ningún adjunto con ese identificador.")
NOT_WHOLE = N_("El adjunto aún no ha llegado entero: faltan partes.")


class ChunkStore(Protocol):
    """Where sealed chunks are kept: the database by default; an object store could take its place."""

    def put(self, attachment: Attachment, index: int, data: bytes) -> bool:
        """Keep chunk `index`; True if it is new, False if the same bytes were there; Conflict if other bytes were."""
        ...

    def get(self, attachment: Attachment, index: int) -> bytes | None: ...

    def received(self, attachment: Attachment) -> list[int]: ...


class DatabaseChunkStore:
    """Chunks as rows beside the reports (SQLite and PostgreSQL alike): one thing to back up."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def put(self, attachment: Attachment, index: int, data: bytes) -> bool:
        digest = hashlib.sha256(data).hexdigest()
        dialect = self.session.get_bind().dialect.name
        insert = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}[dialect]
        table = AttachmentChunk.__table__
        row = {"attachment_id": attachment.id, "index": index, "data": data, "sha256": digest}
        # Two copies of one chunk racing: one is stored, the other compared with it.
        stmt = insert(table).on_conflict_do_nothing(index_elements=["attachment_id", "index"]).returning(table.c.index)
        if self.session.execute(stmt, row).first() is not None:
            return True
        stored = self.session.scalar(
            select(AttachmentChunk.sha256).where(
                AttachmentChunk.attachment_id == attachment.id, AttachmentChunk.index == index
            )
        )
        if stored != digest:
            raise Conflict(N_("Ya se recibió otra versión de esta parte del adjunto; se conserva la primera."))
        return False

    def get(self, attachment: Attachment, index: int) -> bytes | None:
        return self.session.scalar(
            select(AttachmentChunk.data).where(
                AttachmentChunk.attachment_id == attachment.id, AttachmentChunk.index == index
            )
        )

    def received(self, attachment: Attachment) -> list[int]:
        return list(
            self.session.scalars(
                select(AttachmentChunk.index)
                .where(AttachmentChunk.attachment_id == attachment.id)
                .order_by(AttachmentChunk.index)
            )
        )


def find(session: Session, aid: str, team_id: int | None) -> Attachment:
    """The attachment a report of this team declared (None: of any team, for a relay that forwards every team's);
    any other (unknown, another team's) is one same 404."""
    if not isinstance(aid, str) or not UUID4_RE.fullmatch(aid):
        raise NotFound(UNKNOWN)
    query = select(Attachment).join(Report).where(Attachment.aid == aid)
    found = session.scalar(query if team_id is None else query.where(Report.team_id == team_id))
    if found is None:
        raise NotFound(UNKNOWN)
    return found


def chunk_index(text: str, attachment: Attachment | None = None) -> int:
    """A chunk's place from the URL: plain decimal digits, within the count its report declared."""
    if not INDEX_RE.fullmatch(text):  # one spelling per chunk: no sign, no leading zero
        raise NotFound(N_("No hay ninguna parte con ese número."))
    index = int(text)
    if attachment is not None and index >= attachment.chunks:
        raise NotFound(N_("No hay ninguna parte con ese número."))
    return index


def read_bounded(stream: BinaryIO, limit: int) -> bytes:
    """At most limit + 1 bytes of a body: a read may come back short before the end, so read until it ends."""
    parts, size = [], 0
    while size <= limit:
        part = stream.read(limit + 1 - size)
        if not part:
            break
        parts.append(part)
        size += len(part)
    return b"".join(parts)


def full_chunk_bytes(attachment: Attachment) -> int:
    """A full chunk and its GCM tag, in the version of the envelope that declared the attachment."""
    return crypto.wire(attachment.version).chunk_size + crypto.TAG_LEN


def check_chunk_size(attachment: Attachment, index: int, size: int) -> None:
    """Every chunk but the last is exactly a full one; the last holds at least its tag (PROTOCOL.md §4)."""
    final = index == attachment.chunks - 1
    full = full_chunk_bytes(attachment)
    if (final and not crypto.TAG_LEN <= size <= full) or (not final and size != full):
        raise Invalid(
            N_("La parte %(index)s tiene %(size)s bytes; se esperaban %(expected)s."),
            index=index,
            size=size,
            expected=f"{crypto.TAG_LEN}–{full}" if final else str(full),
        )


def still_arriving(session: Session, rids: list[str]) -> set[str]:
    """Which of these reports still wait for some of their attachments' chunks (the inbox marks them)."""
    if not rids:
        return set()
    query = (
        select(Report.rid)
        .join(Attachment, Attachment.report_id == Report.id)
        .where(Report.rid.in_(rids), Attachment.received < Attachment.chunks)
    )
    return set(session.scalars(query))


def status(session: Session, store: ChunkStore, aid: str, team_id: int | None) -> dict[str, object]:
    attachment = find(session, aid, team_id)
    return {"chunks": attachment.chunks, "received": store.received(attachment)}


def store_chunk(session: Session, store: ChunkStore, aid: str, team_id: int | None, index: int, data: bytes) -> bool:
    """Keep one chunk inside the caller's write transaction; True if it was new."""
    return keep_chunk(session, store, find(session, aid, team_id), index, data)


def keep_chunk(session: Session, store: ChunkStore, attachment: Attachment, index: int, data: bytes) -> bool:
    """Keep chunk `index` of an attachment already found, checked for its place and size; True if it was new."""
    chunk_index(str(index), attachment)
    check_chunk_size(attachment, index, len(data))
    if not store.put(attachment, index, data):
        return False
    session.execute(update(Attachment).where(Attachment.id == attachment.id).values(received=Attachment.received + 1))
    return True


def chunks_of(session: Session, store: ChunkStore, attachment: Attachment) -> list[bytes] | None:
    """Every chunk in order, or None while some are missing."""
    if attachment.received < attachment.chunks:
        return None
    chunks = [store.get(attachment, i) for i in range(attachment.chunks)]
    return None if any(c is None for c in chunks) else [bytes(c) for c in chunks if c is not None]


# ---------------------------------------------------------------- supervisors: what a decrypted report carries

# Served only as one of these; anything else is a download, never shown in the page.
SHOWN_TYPES = frozenset(
    {"audio/webm", "audio/ogg", "audio/mp4", "audio/mpeg", "audio/wav", "image/jpeg", "image/png", "image/webp"}
)
KINDS = ("audio", "photo")
ENTRY_KEYS = frozenset({"aid", "kind", "mime", "size", "chunks", "key", "sha256", "duration_ms"})
COMPLETE, INCOMPLETE, INVALID = "complete", "incomplete", "invalid"


@dataclass(frozen=True)
class Listed:
    """One attachment of a decrypted report, as the dashboard may show it: checked, never trusted."""

    aid: str
    kind: str
    mime: str  # one of SHOWN_TYPES, or application/octet-stream
    size: int
    chunks: int
    received: int
    state: str
    duration_ms: int | None = None

    @property
    def shown(self) -> bool:
        return self.mime in SHOWN_TYPES


def _b64u_32(value: object) -> bool:
    try:
        return isinstance(value, str) and len(value) == 43 and crypto.b64u_length(value) == 32
    except ValueError:
        return False


def entry_problem(entry: object, declared: dict[str, tuple[int, int]]) -> str | None:
    """Why a document's attachment entry cannot be used (anyone with a device token can seal anything), or None.

    `declared`: {aid: (chunks, version)} as the report's envelope declared them.
    """
    if type(entry) is not dict or not entry.keys() <= ENTRY_KEYS or not ENTRY_KEYS - {"duration_ms"} <= entry.keys():
        return N_("La descripción del adjunto no es válida.")
    aid, size, chunks = entry["aid"], entry["size"], entry["chunks"]
    if not isinstance(aid, str) or not UUID4_RE.fullmatch(aid) or declared.get(aid, (None,))[0] != chunks:
        return N_("El adjunto no coincide con lo que declaró el sobre del informe.")
    if entry["kind"] not in KINDS or not isinstance(entry["mime"], str) or len(entry["mime"]) > 100:
        return N_("La descripción del adjunto no es válida.")
    if (
        type(size) is not int
        or type(chunks) is not int
        or size < 0
        or chunks != crypto.chunk_count(size, declared[aid][1])
    ):
        return N_("El tamaño del adjunto no coincide con sus partes.")
    duration = entry.get("duration_ms")
    if duration is not None and (type(duration) is not int or not 0 <= duration <= 10**8):
        return N_("La descripción del adjunto no es válida.")
    if not _b64u_32(entry["key"]) or not _b64u_32(entry["sha256"]):
        return N_("La descripción del adjunto no es válida.")
    return None


def _entries(document: dict[str, Any] | None) -> list[Any]:
    entries = (document or {}).get("attachments")
    return entries if isinstance(entries, list) else []


def listed(session: Session, report: Report, document: dict[str, Any] | None) -> list[Listed]:
    """The attachments a decrypted report names, each with how much of it has arrived."""
    rows = {a.aid: a for a in session.scalars(select(Attachment).where(Attachment.report_id == report.id))}
    declared = {aid: (row.chunks, row.version) for aid, row in rows.items()}
    found = []
    seen: set[str] = set()
    for entry in _entries(document)[:32]:
        problem = entry_problem(entry, declared)
        if problem is None and entry["aid"] in seen:  # named twice: shown and exported once
            continue
        if problem is not None:
            found.append(Listed("", "", "application/octet-stream", 0, 0, 0, INVALID))
            continue
        seen.add(entry["aid"])
        row = rows[entry["aid"]]
        mime = entry["mime"].split(";")[0].strip().lower()
        found.append(
            Listed(
                entry["aid"],
                entry["kind"],
                mime if mime in SHOWN_TYPES else "application/octet-stream",
                entry["size"],
                row.chunks,
                row.received,
                COMPLETE if row.received >= row.chunks else INCOMPLETE,
                entry.get("duration_ms"),
            )
        )
    return found


def open_attachment(
    session: Session, store: ChunkStore, report: Report, document: dict[str, Any] | None, aid: str
) -> tuple[bytes, Listed]:
    """The decrypted bytes of one attachment, in memory only, checked against the document's sha256."""
    rows = {a.aid: a for a in session.scalars(select(Attachment).where(Attachment.report_id == report.id))}
    entry = next((e for e in _entries(document) if isinstance(e, dict) and e.get("aid") == aid), None)
    if entry is None or aid not in rows:
        raise NotFound(UNKNOWN)
    problem = entry_problem(entry, {a: (r.chunks, r.version) for a, r in rows.items()})
    if problem is not None:
        raise Invalid(problem)
    [shown] = listed(session, report, {"attachments": [entry]})
    chunks = chunks_of(session, store, rows[aid])
    if chunks is None:
        raise Conflict(NOT_WHOLE)
    return open_whole(entry, rows[aid].version, chunks), shown


def open_whole(entry: dict[str, Any], version: int, chunks: list[bytes]) -> bytes:
    """A checked entry's file from all its chunks, in memory: each chunk's tag, then the size and SHA-256."""
    try:
        plain = crypto.open_chunks(crypto.b64u_decode(entry["key"]), entry["aid"], chunks, version)
    except ValueError as exc:
        raise Invalid(N_("El adjunto está dañado: una parte no pasa la comprobación de cifrado.")) from exc
    if crypto.b64u_encode(hashlib.sha256(plain).digest()) != entry["sha256"] or len(plain) != entry["size"]:
        raise Invalid(N_("El adjunto está dañado: su huella SHA-256 no coincide con la del informe."))
    return plain


EXTENSIONS = {"audio/webm": "webm", "audio/ogg": "ogg", "audio/mp4": "m4a", "audio/mpeg": "mp3", "audio/wav": "wav"}
EXTENSIONS |= {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}


@dataclass(frozen=True)
class Exported:
    """One attachment of an export: its decrypted bytes, or why there are none (a msgid)."""

    rid: str
    aid: str
    file_name: str
    data: bytes | None
    problem: str | None


def iter_decrypted(session: Session, store: ChunkStore, private_keys: dict[str, Any]) -> Iterator[Exported]:
    """Every attachment of every report that opens, decrypted in memory one at a time, oldest report first."""
    query = select(Report.id).where(Report.id.in_(select(Attachment.report_id))).order_by(Report.received_on, Report.id)
    for report_id in list(session.scalars(query)):  # one report loaded at a time, not all of them at once
        report = session.get_one(Report, report_id)
        document, error = open_stored(report.envelope, private_keys)  # the one reader of stored reports
        if error is not None:
            continue  # the export's own rows say why the report does not open
        for item in listed(session, report, document):
            if item.state == INVALID:
                yield Exported(report.rid, "", "", None, N_("La descripción del adjunto no es válida."))
                continue
            name = f"{report.rid}/{item.aid}.{EXTENSIONS.get(item.mime, 'bin')}"
            if item.state == INCOMPLETE:
                yield Exported(report.rid, item.aid, name, None, NOT_WHOLE)
                continue
            try:
                plain, _ = open_attachment(session, store, report, document, item.aid)
            except (Invalid, Conflict, NotFound) as exc:
                yield Exported(report.rid, item.aid, name, None, exc.msgid)
                continue
            yield Exported(report.rid, item.aid, name, plain, None)
        session.expunge(report)  # done with: the next report's envelope takes its place in memory
