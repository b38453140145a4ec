"""Reading a bundle where there is no server (offline custody, PROTOCOL.md §6 and §10): the organisation key
from a PEM file or a recovery kit, every report and attachment opened in memory, nothing touched but the
bundle. No database, no network, no Flask: `fieldapp decrypt` writes what this gives only where it is told."""

from __future__ import annotations

import itertools
import multiprocessing
import os
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from .. import crypto
from ..config import Config
from ..errors import N_, Invalid
from . import attachments, bundles, forms
from .attachments import EXTENSIONS, Exported
from .reports import UUID4_RE

DAMAGED_CHUNK = N_("El adjunto está dañado: una parte no pasa la comprobación de cifrado.")


class KeyFileError(Invalid):
    """A key file, kit or phrase that opens nothing: says which."""


def keys_from_pem(pem: bytes, password: str | None = None) -> dict[str, ec.EllipticCurvePrivateKey]:
    """The organisation's private key from a PEM file (PKCS#8 or SEC1, encrypted with `password` or not)."""
    try:
        key = serialization.load_pem_private_key(pem, password.encode() if password else None)
    except TypeError as exc:  # encrypted and no password given, or a password for a plain file
        raise KeyFileError(N_("La clave está protegida con una frase, o no lo está: revise la frase.")) from exc
    except ValueError as exc:
        raise KeyFileError(
            N_("El archivo de clave no es una clave privada PEM que se pueda abrir (¿frase equivocada?).")
        ) from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise KeyFileError(N_("La clave no es una clave P-256 de la organización."))
    return {crypto.kid_for(crypto.public_raw(key)): key}


def keys_from_kit(kit: bytes, phrase: str) -> dict[str, ec.EllipticCurvePrivateKey]:
    """The organisation's private key from its recovery kit and phrase."""
    try:
        der = crypto.open_recovery_kit(kit, phrase)
    except crypto.UnwrapError as exc:
        raise KeyFileError(N_("El kit de recuperación no se abre con esa frase, o no es un kit de fieldapp.")) from exc
    key = crypto.load_private_key(der)
    return {crypto.kid_for(crypto.public_raw(key)): key}


@dataclass(frozen=True)
class Opened:
    """One report of a bundle: a row as exports write them, and what its attachments need to be opened."""

    row: dict[str, Any]
    declared: dict[str, tuple[int, int]]  # aid -> (chunks, envelope version)


def _open_line(line: bundles.Line, private_keys: dict[str, ec.EllipticCurvePrivateKey]) -> Opened:
    envelope = line.envelope
    rid = envelope.get("rid") if isinstance(envelope, dict) else None
    well_formed = isinstance(rid, str) and UUID4_RE.fullmatch(rid) is not None
    row: dict[str, Any] = {
        "rid": rid if well_formed else "",
        "received_on": "",  # a bundle does not say; the server that sent it knows
        "team": line.team or "",
        "status": "",
        "referred_to": None,
    }
    try:
        if not well_formed:  # anyone with the public key can seal: a rid also names files, so it is checked
            raise crypto.EnvelopeError("?", N_("El identificador «rid» debe ser un UUID v4 en minúsculas."))
        document: Any = crypto.open_envelope(envelope, private_keys)  # type: ignore[arg-type]
        error = forms.document_problem(document)
    except crypto.EnvelopeError as exc:
        document, error = None, exc.reason
    if document is not None:
        row["document"] = document
    if error is not None:
        row["error"] = error
    return Opened(row, bundles.declared_by(envelope))


def read_bundle(
    bundle: zipfile.ZipFile, private_keys: dict[str, ec.EllipticCurvePrivateKey], workers: int | None = None
) -> tuple[bundles.Checked, Iterator[Opened]]:
    """The bundle's names, sizes and manifest checked, then each report opened, in order, in one reading: the
    count and the chunks' owners are checked at the end, so a caller that writes as it reads (`fieldapp
    decrypt`) removes what it wrote when the last step refuses. Chunks are checked as they are read.

    Reports are opened by `workers` processes (default: one per core, up to 4, where the system can fork):
    the key agreement holds Python's lock, so threads do not help, and processes do.
    """
    max_ct = Config.max_ct_bytes
    checked = bundles.check_structure(bundle)

    def opened() -> Iterator[Opened]:
        max_line = max_ct * 4 // 3 + 64 * 1024
        seen = 0
        raw = bundles.raw_lines(bundle, bundle.getinfo(bundles.REPORTS), max_line)
        count = default_workers() if workers is None else workers
        for report in _opened_lines(raw, checked.version, private_keys, count):
            seen += 1
            checked.declared.update(report.declared)
            yield report
        bundles.check_lines_end(checked, seen)

    return checked, opened()


WINDOW = 512  # lines handed to the workers at a time: memory stays bounded whatever the bundle's size
_worker_keys: dict[str, ec.EllipticCurvePrivateKey] = {}


def default_workers() -> int:
    if "fork" not in multiprocessing.get_all_start_methods():
        return 1  # spawning would import everything again in each worker: slower than one process
    return max(1, min(os.cpu_count() or 1, 4))


def _start_worker(ders: list[bytes]) -> None:
    global _worker_keys
    opened = [crypto.load_private_key(der) for der in ders]
    _worker_keys = {crypto.kid_for(crypto.public_raw(key)): key for key in opened}


def _open_in_worker(item: tuple[int, bytes, int]) -> Opened | tuple[str, dict[str, Any]]:
    """A line parsed and opened in a worker; a refusal comes back as its msgid and parameters (an exception
    would cross the process boundary as its formatted text alone)."""
    number, raw, version = item
    try:
        return _open_line(bundles.parse_line(number, raw, version), _worker_keys)
    except bundles.BundleError as refused:
        return (refused.msgid, refused.params)


def _opened_lines(
    raw: Iterator[bytes], version: int, private_keys: dict[str, ec.EllipticCurvePrivateKey], workers: int
) -> Iterator[Opened]:
    """Each line parsed and opened, in order; with workers, one window is opened while the next is read from the
    zip, and the parent only splits lines and writes."""
    numbered = ((number, line, version) for number, line in enumerate(raw, start=1))
    if workers <= 1:
        for number, line, _ in numbered:
            yield _open_line(bundles.parse_line(number, line, version), private_keys)
        return
    ders = [crypto.private_der(key) for key in private_keys.values()]
    with multiprocessing.get_context("fork").Pool(workers, _start_worker, (ders,)) as pool:
        pending = None
        while True:
            window = list(itertools.islice(numbered, WINDOW))
            if pending is not None:
                for result in pending.get():
                    if isinstance(result, tuple):
                        raise bundles.BundleError(result[0], **result[1])
                    yield result
            if not window:
                return
            pending = pool.map_async(_open_in_worker, window, chunksize=max(1, WINDOW // (workers * 4)))


def attachments_of(bundle: zipfile.ZipFile, checked: bundles.Checked, report: Opened) -> Iterator[Exported]:
    """Each attachment the report's document names, opened from the bundle's chunks and checked, or why not."""
    document = report.row.get("document") if not report.row.get("error") else None
    rid = report.row["rid"]
    seen: set[str] = set()
    entries = (document or {}).get("attachments") if isinstance(document, dict) else None
    for entry in (entries if isinstance(entries, list) else [])[:32]:
        problem = attachments.entry_problem(entry, report.declared)
        if problem is not None:
            yield Exported(rid, "", "", None, problem)
            continue
        aid = entry["aid"]
        if aid in seen:
            continue
        seen.add(aid)
        mime = entry["mime"].split(";")[0].strip().lower()
        name = f"{rid}/{aid}.{EXTENSIONS.get(mime, 'bin')}"
        count, version = report.declared[aid]
        members = checked.chunks.get(aid, {})
        if any(i not in members for i in range(count)):
            yield Exported(rid, aid, name, None, attachments.NOT_WHOLE)
            continue
        try:
            plain = attachments.open_whole(entry, version, [bundle.read(members[i]) for i in range(count)])
        except Invalid as exc:
            yield Exported(rid, aid, name, None, exc.msgid)
            continue
        except bundles.UNREADABLE:  # a chunk whose CRC fails in the bundle
            yield Exported(rid, aid, name, None, DAMAGED_CHUNK)
            continue
        yield Exported(rid, aid, name, plain, None)


def safe_target(folder: Path, relative: str) -> Path:
    """A path under `folder` for `relative` (made of a rid and an aid, both checked), never outside it."""
    path = (folder / relative).resolve()
    if not path.is_relative_to(folder.resolve()):
        raise Invalid(N_("Un nombre de archivo saldría de la carpeta de destino."))
    return path


def statistics_page(reports: Iterator[Opened], count: int, language: str) -> str:
    """The aggregate picture of a bundle's reports as one self-contained HTML page (no script, nothing from
    elsewhere), in `language`: the dashboard's statistics, for offline custody."""
    import datetime as dt

    from babel.dates import format_date
    from babel.numbers import format_decimal
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    from ..i18n import month_in, registry, translations_for
    from . import stats
    from .inbox import OpenedReport

    cldr = registry()[language].cldr
    environment = Environment(
        loader=FileSystemLoader(Path(__file__).resolve().parent.parent / "templates"),
        autoescape=select_autoescape(default=True),
        extensions=["jinja2.ext.i18n"],
    )
    environment.install_gettext_translations(translations_for(language), newstyle=True)  # type: ignore[attr-defined]
    environment.filters["number"] = lambda value: format_decimal(value, locale=cldr)
    environment.filters["percent_of_one"] = lambda share: format_decimal(share * 100, format="#,##0.0", locale=cldr)
    environment.filters["month"] = lambda value: month_in(value, cldr)

    def opened() -> Iterator[OpenedReport]:
        for report in reports:
            row = report.row
            document = None if row.get("error") else row.get("document")
            yield OpenedReport(row["rid"], None, row["team"], "", None, document, row.get("error"))  # type: ignore[arg-type]

    picture = stats.compute(opened())
    return environment.get_template("offline_report.html").render(
        picture=picture,
        count=count,
        made=format_date(dt.date.today(), format="long", locale=cldr),
        language=language,
        direction=registry()[language].direction,
        chart_width=300,
    )
