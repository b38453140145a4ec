"""What the service worker caches for offline use, and its version: a hash of exactly that content.

The language catalogs are not cached here: they hold the form's words in plain text, so the page fetches
the language it uses and keeps it sealed on the phone itself. Nor are the screens with a worker's reports,
whose words tell what the app is for: the worker keeps them sealed to the phone's key (`SEALED_SCREENS`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from functools import cache
from pathlib import Path

from flask import Flask

from .. import i18n
from ..i18n import catalogs
from ..looks import offered_looks

STATIC_KINDS = ("js", "css", "icons")
NOT_FOR_THE_PHONE = (".md",)  # notes for people beside the files (the icons' licence)
# Kept sealed by the worker, checked against these files' digests, never in Cache Storage or the HTTP cache.
SEALED_SCREENS = ("/static/js/ui/home.js", "/static/js/ui/report.js", "/static/js/ui/attachments.js")


@cache
def _static_files(static_folder: str) -> tuple[tuple[str, str], ...]:
    """(url, sha256) of every static file the app needs offline, read once per process."""
    root = Path(static_folder)
    files = []
    for kind in STATIC_KINDS:
        for path in sorted((root / kind).rglob("*")):
            if path.is_file() and path.suffix not in NOT_FOR_THE_PHONE:
                files.append(
                    (f"/static/{path.relative_to(root).as_posix()}", hashlib.sha256(path.read_bytes()).hexdigest())
                )
    return tuple(files)


def precached_files(app: Flask) -> tuple[tuple[str, str], ...]:
    """(url, sha256) of every file the worker caches besides the shell's views."""
    return _static_files(app.static_folder or "")


def shell_urls(app: Flask) -> list[str]:
    """Served by views rather than from static/: the shell page, the manifests (the default's and each look's)
    and the organisation's own picture."""
    looks = offered_looks(app.config["FIELDAPP"].own_look).values()
    own_icons = [look.own_icon for look in looks if look.icon_png is not None]
    return ["/", "/manifest.webmanifest", *(look.manifest for look in looks), *own_icons]


def precache_urls(app: Flask, files: tuple[tuple[str, str], ...] | None = None) -> list[str]:
    listed = files if files is not None else precached_files(app)
    return shell_urls(app) + [url for url, _ in listed if url not in SEALED_SCREENS]


def sealed_screens(app: Flask, files: tuple[tuple[str, str], ...] | None = None) -> dict[str, str]:
    """{url: sha256} of the screens the worker keeps sealed: it refuses any other bytes under those names."""
    listed = files if files is not None else precached_files(app)
    return {url: digest for url, digest in listed if url in SEALED_SCREENS}


def _view_inputs(app: Flask) -> bytes:
    """What the shell's views are rendered from besides their templates: the looks and the default one, the
    languages on offer, and the phone's words (the compiled catalogs, which also hold the shell's and the
    looks' words; not the dashboard's, so a dashboard translation leaves phones as they are). Read on every
    request for the worker, since the translator page recompiles catalogs while the server runs."""
    with app.app_context():
        directory = i18n.translations_dir()
        listed = {
            "looks": [look.fingerprint() for look in offered_looks(app.config["FIELDAPP"].own_look).values()],
            "default_look": app.config["FIELDAPP"].default_look,
            "languages": [dataclasses.asdict(entry) for entry in i18n.language_entries()],
        }
        digest = hashlib.sha256(json.dumps(listed, sort_keys=True).encode())
        for code in i18n.available_locales():
            try:
                compiled = catalogs.app_catalog_path(code, directory).read_bytes()
            except OSError:
                continue  # not compiled yet: the phone falls back to Spanish, already hashed
            digest.update(f"{code}:{len(compiled)}:".encode() + compiled)
    return digest.digest()


def version(app: Flask, files: tuple[tuple[str, str], ...] | None = None) -> str:
    """Changes whenever any cached byte changes: templates and what they render, static files, the worker."""
    digest = hashlib.sha256()
    templates = Path(app.root_path) / "templates"
    for name in ("app.html", "manifest.webmanifest"):
        digest.update((templates / name).read_bytes())
    digest.update(_view_inputs(app))
    for url, file_hash in files if files is not None else precached_files(app):
        digest.update(f"{url}:{file_hash}\n".encode())
    digest.update(_worker_template(app.static_folder or "").encode())
    return digest.hexdigest()[:16]


@cache
def _worker_template(static_folder: str) -> str:
    return (Path(static_folder) / "sw.js").read_text("utf-8")


def service_worker_source(app: Flask) -> str:
    source = _worker_template(app.static_folder or "")
    files = precached_files(app)
    return (
        source.replace('"__FIELDAPP_VERSION__"', json.dumps(version(app, files=files)))
        .replace('["__FIELDAPP_PRECACHE__"]', json.dumps(precache_urls(app, files)))
        .replace('{ "__FIELDAPP_SEALED__": "" }', json.dumps(sealed_screens(app, files)))
    )
