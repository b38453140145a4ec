"""Attachment chunks in (PROTOCOL.md §4–5): accepted only for an attachment a stored report of the same team
declared, each checked for its place and size, idempotent, behind a small storage interface.

The server never opens a chunk: it keeps the sealed bytes exactly as they came.
"""

from __future__ import annotations

import hashlib
from typing import Protocol

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from .. import crypto
from ..errors import N_, Conflict, Invalid, NotFound
from ..models import Attachment, AttachmentChunk, Report
from .reports import UUID4_RE

MAX_CHUNK_BYTES = crypto.CHUNK_SIZE + crypto.TAG_LEN  # a full chunk and its GCM tag
UNKNOWN = N_("No hay ningún adjunto con ese identificador.")


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


def find(session: Session, aid: str, team_id: int) -> Attachment:
    """The attachment a report of this team declared; any other (unknown, another team's) is one same 404."""
    if not isinstance(aid, str) or not UUID4_RE.fullmatch(aid):
        raise NotFound(UNKNOWN)
    found = session.scalar(select(Attachment).join(Report).where(Attachment.aid == aid, Report.team_id == team_id))
    if found is None:
        raise NotFound(UNKNOWN)
    return found


def chunk_index(text: str, attachment: Attachment | None = None) -> int:
    """A chunk's place from the URL: plain decimal digits, within the count its report declared."""
    if not (text.isascii() and text.isdigit() and len(text) <= 5):
        raise NotFound(N_("No hay ninguna parte con ese número."))
    index = int(text)
    if attachment is not None and index >= attachment.chunks:
        raise NotFound(N_("No hay ninguna parte con ese número."))
    return index


def check_chunk_size(attachment: Attachment, index: int, size: int) -> None:
    """Every chunk but the last is exactly a full one; the last holds at least its tag (PROTOCOL.md §4)."""
    final = index == attachment.chunks - 1
    if (final and not crypto.TAG_LEN <= size <= MAX_CHUNK_BYTES) or (not final and size != MAX_CHUNK_BYTES):
        raise Invalid(
            N_("La parte %(index)s tiene %(size)s bytes; se esperaban %(expected)s."),
            index=index,
            size=size,
            expected=f"{crypto.TAG_LEN}–{MAX_CHUNK_BYTES}" if final else str(MAX_CHUNK_BYTES),
        )


def status(session: Session, store: ChunkStore, aid: str, team_id: int) -> dict[str, object]:
    attachment = find(session, aid, team_id)
    return {"chunks": attachment.chunks, "received": store.received(attachment)}


def store_chunk(session: Session, store: ChunkStore, aid: str, team_id: int, index: int, data: bytes) -> bool:
    """Keep one chunk inside the caller's write transaction; True if it was new."""
    attachment = find(session, aid, team_id)
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
