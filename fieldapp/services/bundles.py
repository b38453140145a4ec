"""Bundles (PROTOCOL.md §6 and §10): sealed reports and their attachments' chunks in a zip, ciphertext only, to
carry on a USB stick or through a relay.

Import reads the whole file once before it writes anything, and refuses a hostile or damaged one whole, with
one clear reason; then it stores the reports batch by batch, each report with every chunk the bundle holds
for it in the same transaction, through the same checks and idempotency as the device API.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import stat
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .. import crypto
from ..database import writing
from ..errors import N_, Conflict, Invalid, NotFound
from ..models import Attachment, AttachmentChunk, Report, Team
from . import attachments, exports, reports
from .reports import UUID4_RE, CheckedEnvelope, Outcome

FORMAT = "fieldapp-bundle"
VERSION = 2  # what this server writes; it reads 1 and 2
MANIFEST, REPORTS = "manifest.json", "reports.jsonl"
MANIFEST_KEYS = frozenset({"format", "v", "created_at", "count"})
CHUNK_RE = re.compile(r"attachments/([0-9a-f-]{36})/(0|[1-9][0-9]{0,5})\.bin")
FOLDER_RE = re.compile(r"attachments/(?:[0-9a-f-]{36}/)?")
MAX_MEMBERS = 250_000  # 10,000 reports with a long recording each
MAX_MANIFEST_BYTES = 4096
MAX_TOTAL_BYTES = 16 << 30  # what the members may hold together, uncompressed
BATCH_REPORTS = 100
BATCH_CHUNK_BYTES = 32 << 20  # chunks read for one batch before its write begins
READ_STEP = 1 << 20


class BundleError(Invalid):
    """A bundle refused: before the writing begins nothing of it is stored; after, what was stored is whole."""


# What zipfile and zlib raise for a file they cannot read to its end (damaged, cut, or of a kind they do not do).
UNREADABLE = (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, zlib.error, NotImplementedError)


@dataclass
class Summary:
    """What an import did: counts by outcome, the reasons of the rejected, and the chunks kept."""

    stored: int = 0
    duplicate: int = 0
    rejected: list[Outcome] = field(default_factory=list)
    chunks_new: int = 0
    chunks_known: int = 0
    chunks_conflicting: int = 0


# ---------------------------------------------------------------- writing


def _line(team: str, envelope_text: str) -> bytes:
    # The stored envelope is canonical JSON already; parsed and written again it keeps every byte.
    doc = {"team": team, "envelope": json.loads(envelope_text)}
    return (json.dumps(doc, separators=(",", ":"), ensure_ascii=True) + "\n").encode()


def _selected(since: dt.date | None, team: Team | None) -> Any:
    query = select(Report.id)
    if since is not None:
        query = query.where(Report.received_on >= since)
    if team is not None:
        query = query.where(Report.team_id == team.id)
    return query


def count_selected(session: Session, since: dt.date | None = None, team: Team | None = None) -> int:
    return session.scalar(select(func.count()).select_from(_selected(since, team).subquery())) or 0


def peek_count(path: Path) -> int:
    """The count a bundle's manifest states, for a progress bar; 0 if it cannot be read (import says why)."""
    try:
        with open_bundle(path) as bundle:
            return _manifest(bundle, bundle.getinfo(MANIFEST))[1]
    except (Invalid, KeyError, *UNREADABLE):
        return 0


def iter_bundle(
    session: Session,
    *,
    since: dt.date | None = None,
    team: Team | None = None,
    progress: Callable[[int], None] = lambda n: None,
) -> Iterator[bytes]:
    """The bundle of the reports received since `since` (of `team`, or all) and every chunk they have, made
    while it is read: a stream that cannot seek (sizes after each member), so it can go straight to a browser."""
    sink = exports.StreamSink()
    ids = list(session.scalars(_selected(since, team).order_by(Report.received_on, Report.id)))
    manifest = {"format": FORMAT, "v": VERSION, "created_at": dt.datetime.now(dt.UTC).isoformat(), "count": len(ids)}
    names = {t.id: t.name for t in session.scalars(select(Team))}
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr(MANIFEST, json.dumps(manifest, separators=(",", ":")))
        with bundle.open(REPORTS, "w", force_zip64=True) as lines:
            for start in range(0, len(ids), 500):
                rows = session.execute(
                    select(Report.id, Report.team_id, Report.envelope).where(Report.id.in_(ids[start : start + 500]))
                )
                by_id = {row.id: row for row in rows}
                for report_id in ids[start : start + 500]:
                    row = by_id[report_id]
                    lines.write(_line(names[row.team_id], row.envelope))
                progress(len(by_id))
                yield sink.take()
        for start in range(0, len(ids), 500):
            chunks = session.execute(
                select(Attachment.aid, AttachmentChunk.index, AttachmentChunk.data)
                .join(AttachmentChunk, AttachmentChunk.attachment_id == Attachment.id)
                .where(Attachment.report_id.in_(ids[start : start + 500]))
                .order_by(Attachment.id, AttachmentChunk.index)
            )
            for aid, index, data in chunks:
                # Ciphertext does not compress: stored as it is.
                bundle.writestr(f"attachments/{aid}/{index}.bin", bytes(data), compress_type=zipfile.ZIP_STORED)
                if sink.size >= 1 << 20:
                    yield sink.take()
    yield sink.take()


def write_bundle_file(
    session: Session, path: Path, *, since: dt.date | None = None, team: Team | None = None, **kwargs: Any
) -> int:
    """A bundle at `path`, whole or not at all: written beside it, then linked into place, never over a file
    already there (Conflict: an earlier bundle on the stick is not lost); its count."""
    if path.exists():
        raise Conflict(N_("Ya existe %(path)s; no se sobrescribe."), path=str(path))
    count = count_selected(session, since, team)
    partial = path.with_name(f".{path.name}.partial")
    try:
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            for piece in iter_bundle(session, since=since, team=team, **kwargs):
                out.write(piece)
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(partial, path)  # fails, instead of replacing, if a file took the name meanwhile
        except FileExistsError:
            raise Conflict(N_("Ya existe %(path)s; no se sobrescribe."), path=str(path)) from None
        except OSError:  # no hard links (a FAT or exFAT stick): checked again, then moved into place
            if path.exists():
                raise Conflict(N_("Ya existe %(path)s; no se sobrescribe."), path=str(path)) from None
            partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    return count


# ---------------------------------------------------------------- reading


@dataclass(frozen=True)
class Line:
    number: int
    team: str | None  # None in a v1 bundle: the importer names the team
    envelope: object
    digest: bytes = b""  # of the line's bytes: the writing pass meets the lines the checking pass read


@dataclass
class Checked:
    """What the reading pass found: the bundle's version and count, and each declared chunk's member."""

    version: int
    count: int
    chunks: dict[str, dict[int, zipfile.ZipInfo]]  # aid -> index -> member
    declared: dict[str, tuple[int, int]]  # aid -> (chunks, envelope version), of well-formed reports
    digests: list[bytes] = field(default_factory=list)  # each line's, in order (the checking pass)
    # A small bundle's lines as the checking pass parsed them: the writing pass stores these, not a second reading.
    kept_lines: list[Line] | None = None


KEEP_LINES_BYTES = 24 << 20  # reports.jsonl up to this size is read once; a larger one twice, in bounded memory


def _refuse(reason: str, **params: object) -> BundleError:
    return BundleError(reason, **params)


def _is_link(info: zipfile.ZipInfo) -> bool:
    return stat.S_ISLNK(info.external_attr >> 16)


def _read_member(bundle: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    """A member's bytes, at most `limit`, its CRC checked by zipfile at the end; else the bundle is damaged."""
    parts, size = [], 0
    with bundle.open(info) as member:
        while True:
            part = member.read(min(READ_STEP, limit + 1 - size))
            if not part:
                break
            parts.append(part)
            size += len(part)
            if size > limit:
                raise _refuse(N_("El paquete tiene un archivo mayor de lo permitido: %(name)s."), name=info.filename)
    return b"".join(parts)


def _raw_lines(bundle: zipfile.ZipFile, info: zipfile.ZipInfo, max_line: int) -> Iterator[bytes]:
    """The member's lines, read a block at a time (zipfile's own readline is slow); none longer than `max_line`."""
    with bundle.open(info) as member:
        rest = b""
        number = 0
        while block := member.read(READ_STEP):
            lines = (rest + block).split(b"\n")
            rest = lines.pop()
            for raw in lines:
                number += 1
                if len(raw) > max_line:
                    raise _refuse(N_("La línea %(line)s de reports.jsonl es demasiado larga."), line=number)
                yield raw
            if len(rest) > max_line:
                raise _refuse(N_("La línea %(line)s de reports.jsonl es demasiado larga."), line=number + 1)
        if rest:
            yield rest


def lines_of(bundle: zipfile.ZipFile, info: zipfile.ZipInfo, version: int, max_line: int) -> Iterator[Line]:
    """Each line of reports.jsonl, parsed; a line over `max_line` bytes or not JSON refuses the bundle."""
    for number, raw in enumerate(raw_lines(bundle, info, max_line), start=1):
        yield parse_line(number, raw, version)


raw_lines = _raw_lines


def parse_line(number: int, raw: bytes, version: int) -> Line:
    """One line of reports.jsonl: a v1 envelope, or a v2 `{"team", "envelope"}`; not JSON refuses the bundle."""
    try:
        item = json.loads(raw)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise _refuse(N_("La línea %(line)s de reports.jsonl no es JSON válido."), line=number) from exc
    digest = hashlib.blake2b(raw, digest_size=16).digest()
    if version == 1:
        return Line(number, None, item, digest)
    if type(item) is not dict or set(item) != {"team", "envelope"} or not isinstance(item["team"], str):
        raise _refuse(N_('La línea %(line)s de reports.jsonl no es {"team", "envelope"}.'), line=number)
    return Line(number, item["team"][:200], item["envelope"], digest)


def _members(bundle: zipfile.ZipFile) -> tuple[zipfile.ZipInfo, zipfile.ZipInfo, dict[str, dict[int, zipfile.ZipInfo]]]:
    infos = bundle.infolist()
    if len(infos) > MAX_MEMBERS:
        raise _refuse(N_("El paquete tiene más de %(max)s archivos."), max=MAX_MEMBERS)
    if len({i.filename for i in infos}) != len(infos):
        raise _refuse(N_("El paquete tiene dos archivos con el mismo nombre."))
    if sum(i.file_size for i in infos) > MAX_TOTAL_BYTES:
        raise _refuse(N_("El paquete ocupa más de %(gb)s GiB descomprimido."), gb=MAX_TOTAL_BYTES >> 30)
    manifest = lines = None
    chunks: dict[str, dict[int, zipfile.ZipInfo]] = {}
    for info in infos:
        name = info.filename
        if (
            _is_link(info)
            or info.flag_bits & 0x61  # encrypted, patched or strongly encrypted: zipfile cannot read them
            or info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
        ):
            raise _refuse(N_("El paquete tiene un archivo que no se puede aceptar: %(name)s."), name=name[:80])
        if name == MANIFEST:
            manifest = info
        elif name == REPORTS:
            lines = info
        elif (match := CHUNK_RE.fullmatch(name)) and UUID4_RE.fullmatch(match[1]):
            if info.file_size > max(w.chunk_size for w in crypto.WIRES.values()) + crypto.TAG_LEN:
                raise _refuse(N_("El paquete tiene un archivo mayor de lo permitido: %(name)s."), name=name)
            chunks.setdefault(match[1], {})[int(match[2])] = info
        elif FOLDER_RE.fullmatch(name) and info.file_size == 0:
            continue  # a folder entry, as some zip tools write
        else:
            raise _refuse(N_("El paquete tiene un archivo que no se puede aceptar: %(name)s."), name=name[:80])
    if manifest is None or lines is None:
        raise _refuse(N_("Al paquete le falta manifest.json o reports.jsonl."))
    return manifest, lines, chunks


def _manifest(bundle: zipfile.ZipFile, info: zipfile.ZipInfo) -> tuple[int, int]:
    try:
        manifest = json.loads(_read_member(bundle, info, MAX_MANIFEST_BYTES))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise _refuse(N_("manifest.json no es JSON válido.")) from exc
    if (
        type(manifest) is not dict
        or not manifest.keys() <= MANIFEST_KEYS
        or manifest.get("format") != FORMAT
        or type(manifest.get("v")) is not int
        or manifest["v"] not in (1, 2)
        or type(manifest.get("count")) is not int
        or manifest["count"] < 0
        or not isinstance(manifest.get("created_at"), str)
    ):
        raise _refuse(N_("manifest.json no describe un paquete de fieldapp (formato, versión 1 o 2, cantidad)."))
    return manifest["v"], manifest["count"]


def declared_by(envelope: Any) -> dict[str, tuple[int, int]]:
    """What an envelope's `att` declares, {aid: (chunks, version)}, read without trusting it: only well-formed
    entries of a known version. Whether the envelope is acceptable is decided later, as the API decides it."""
    version = envelope.get("v") if isinstance(envelope, dict) else None
    att = envelope.get("att") if isinstance(envelope, dict) else None
    if type(version) is not int or version not in crypto.WIRES or not isinstance(att, list):
        return {}
    found = {}
    for item in att[: reports.MAX_ATTACHMENTS]:
        aid, count = (item.get("aid"), item.get("chunks")) if isinstance(item, dict) else (None, None)
        if isinstance(aid, str) and UUID4_RE.fullmatch(aid) and type(count) is int and count >= 1:
            found[aid] = (count, version)
    return found


def check_structure(bundle: zipfile.ZipFile) -> Checked:
    """Every member's name and size, and the manifest; what the lines declare is filled in by whoever reads them."""
    manifest_info, _, chunks = _members(bundle)
    version, count = _manifest(bundle, manifest_info)
    return Checked(version, count, chunks, {})


def check_lines_end(checked: Checked, seen: int) -> None:
    """After every line: as many as the manifest says, and no chunk that no line declared."""
    if seen != checked.count:
        raise _refuse(
            N_("manifest.json dice %(count)s informes y reports.jsonl tiene %(lines)s."),
            count=checked.count,
            lines=seen,
        )
    for aid in checked.chunks:
        if aid not in checked.declared:
            raise _refuse(N_("El paquete trae partes de un adjunto que ningún informe declara: %(aid)s."), aid=aid)


def check_bundle(bundle: zipfile.ZipFile, max_ct_bytes: int) -> Checked:
    """The reading pass: every member's name, size and CRC, the manifest, every line; nothing is written."""
    checked = check_structure(bundle)
    version, chunks = checked.version, checked.chunks
    lines_info = bundle.getinfo(REPORTS)
    max_line = max_ct_bytes * 4 // 3 + 64 * 1024
    declared: dict[str, tuple[int, int]] = {}
    seen = 0
    kept: list[Line] | None = [] if lines_info.file_size <= KEEP_LINES_BYTES else None
    for line in lines_of(bundle, lines_info, version, max_line):  # read to its end: its CRC is checked
        seen += 1
        checked.digests.append(line.digest)
        if kept is not None:
            kept.append(line)
        for aid, said in declared_by(line.envelope).items():
            if declared.setdefault(aid, said) != said:  # one attachment, two sizes: which chunks would be read?
                raise _refuse(N_("Dos informes del paquete declaran el adjunto %(aid)s de dos maneras."), aid=aid)
    checked.declared.update(declared)
    check_lines_end(checked, seen)
    checked.kept_lines = kept
    for aid, members in chunks.items():
        n, v = declared[aid]
        full = crypto.wire(v).chunk_size + crypto.TAG_LEN
        for index, info in members.items():
            final = index == n - 1
            if (
                index >= n
                or (final and not crypto.TAG_LEN <= info.file_size <= full)
                or (not final and info.file_size != full)
            ):
                raise _refuse(N_("La parte %(index)s del adjunto %(aid)s no es válida."), index=index, aid=aid)
    for members in chunks.values():  # every chunk's CRC, before anything is stored
        for info in members.values():
            _read_member(bundle, info, info.file_size)
    return checked


def open_bundle(path: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except (*UNREADABLE, ValueError) as exc:
        raise _refuse(N_("El archivo no es un paquete zip legible (dañado o incompleto).")) from exc


def _batches(bundle: zipfile.ZipFile, checked: Checked, max_line: int) -> Iterator[list[Line]]:
    batch: list[Line] = []
    chunk_bytes = 0
    lines = checked.kept_lines
    for line in lines if lines is not None else lines_of(bundle, bundle.getinfo(REPORTS), checked.version, max_line):
        envelope = line.envelope
        att = envelope.get("att") if isinstance(envelope, dict) else None
        size = sum(
            info.file_size
            for item in (att if isinstance(att, list) else [])
            if isinstance(item, dict) and isinstance(item.get("aid"), str)
            for info in checked.chunks.get(item["aid"], {}).values()
        )
        if batch and (len(batch) >= BATCH_REPORTS or chunk_bytes + size > BATCH_CHUNK_BYTES):
            yield batch
            batch, chunk_bytes = [], 0
        batch.append(line)
        chunk_bytes += size
    if batch:
        yield batch


NO_TEAM = N_("No existe aquí el equipo «%(name)s» de este informe: créelo, o importe nombrando un equipo.")


def import_bundle(
    session: Session,
    path: Path,
    *,
    max_ct_bytes: int,
    limits: tuple[int, int],
    team: Team | None = None,
    progress: Callable[[int], None] = lambda n: None,
) -> Summary:
    """Import a bundle file; a v1 bundle needs `team`, which in a v2 bundle takes the place of each line's."""
    known = reports.known_kids(session)
    teams_by_name = {t.name: t.id for t in session.scalars(select(Team))}
    with open_bundle(path) as bundle:
        try:
            checked = check_bundle(bundle, max_ct_bytes)
        except UNREADABLE as exc:
            raise _refuse(N_("El paquete está dañado: un archivo no pasa su comprobación (CRC).")) from exc
        if checked.version == 1 and team is None:
            raise _refuse(N_("Este paquete (versión 1) no dice de qué equipo son sus informes: nombre el equipo."))
        session.rollback()  # the reading is over: no snapshot is held while the batches are written
        summary = Summary()
        max_line = max_ct_bytes * 4 // 3 + 64 * 1024
        try:
            for batch in _batches(bundle, checked, max_line):
                _import_batch(
                    session, bundle, checked, batch, team, teams_by_name, known, max_ct_bytes, limits, summary
                )
                progress(len(batch))
        except UNREADABLE as exc:  # the stick was pulled, say
            raise _refuse(
                N_(
                    "El paquete dejó de leerse a medias: %(done)s informes quedaron guardados enteros; "
                    "importarlo de nuevo completa el resto."
                ),
                done=summary.stored + summary.duplicate,
            ) from exc
    return summary


def _import_batch(
    session: Session,
    bundle: zipfile.ZipFile,
    checked: Checked,
    batch: list[Line],
    team: Team | None,
    teams_by_name: dict[str, int],
    known: set[str],
    max_ct_bytes: int,
    limits: tuple[int, int],
    summary: Summary,
) -> None:
    for line in batch:  # the file may have changed since it was checked (a copy over it, a failing stick)
        if line.number > len(checked.digests) or checked.digests[line.number - 1] != line.digest:
            raise _refuse(
                N_(
                    "El paquete cambió mientras se leía: %(done)s informes quedaron guardados enteros; "
                    "importe el archivo de nuevo."
                ),
                done=summary.stored + summary.duplicate,
            )
    by_team: dict[int, list[CheckedEnvelope | Outcome]] = {}
    for line, item in zip(
        batch, reports.check_batch([line.envelope for line in batch], known, max_ct_bytes, limits), strict=True
    ):
        team_id = team.id if team is not None else teams_by_name.get(line.team or "")
        if team_id is None and isinstance(item, CheckedEnvelope):
            item = Outcome(item.rid, reports.REJECTED, Invalid(NO_TEAM, name=line.team or ""))
        if isinstance(item, Outcome):
            summary.rejected.append(item)
            continue
        by_team.setdefault(team_id, []).append(item)
    # The chunks are read before the write begins: the write lock is not held while the zip is read.
    data: dict[str, dict[int, bytes]] = {}
    data_rids: set[str] = set()  # the reports with chunks in this bundle: only theirs are looked up
    for items in by_team.values():
        for candidate in items:
            for aid, count in candidate.att:  # type: ignore[union-attr]
                # Only the chunks its own envelope declares: never more than that report may hold.
                members = {i: info for i, info in checked.chunks.get(aid, {}).items() if i < count}
                if members:
                    data_rids.add(candidate.rid)  # type: ignore[union-attr]
                data[aid] = {index: bundle.read(info) for index, info in sorted(members.items())}
    with writing(session):
        for team_id, items in by_team.items():
            for outcome in reports.store_reports(session, team_id, items):
                if outcome.status == reports.REJECTED:
                    summary.rejected.append(outcome)
                    continue
                if outcome.status == reports.STORED:
                    summary.stored += 1
                else:
                    summary.duplicate += 1
                if outcome.rid in data_rids:
                    _keep_chunks(session, outcome.rid, data, summary)


def _keep_chunks(session: Session, rid: str | None, data: dict[str, dict[int, bytes]], summary: Summary) -> None:
    store = attachments.DatabaseChunkStore(session)
    for attachment in session.scalars(select(Attachment).join(Report).where(Report.rid == rid)):
        for index, chunk in data.get(attachment.aid, {}).items():
            try:
                if attachments.keep_chunk(session, store, attachment, index, chunk):
                    summary.chunks_new += 1
                else:
                    summary.chunks_known += 1
            except (Conflict, Invalid, NotFound):
                summary.chunks_conflicting += 1  # the server's own copy of that chunk is kept
