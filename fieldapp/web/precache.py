"""What the service worker caches for offline use, and its version: a hash of exactly that content."""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path

from flask import Flask

from .. import i18n
from ..i18n import catalogs

# Served by views rather than from static/: the shell page and the manifest.
SHELL_URLS = ("/", "/manifest.webmanifest")
STATIC_KINDS = ("js", "css", "icons")


@cache
def _static_files(static_folder: str) -> tuple[tuple[str, str], ...]:
    """(url, sha256) of every static file the app needs offline, read once per process."""
    root = Path(static_folder)
    files = []
    for kind in STATIC_KINDS:
        for path in sorted((root / kind).rglob("*")):
            if path.is_file():
                files.append(
                    (f"/static/{path.relative_to(root).as_posix()}", hashlib.sha256(path.read_bytes()).hexdigest())
                )
    return tuple(files)


def _language_catalogs(app: Flask) -> tuple[tuple[str, str], ...]:
    """(url, sha256) of each compiled language catalog: read on every request for the worker, since the
    translator page recompiles them while the server runs. One not compiled yet is left out: a missing file
    would make the worker's install fail, and phones would lose their offline copy of the app."""
    with app.app_context():
        directory = i18n.translations_dir()
        files = []
        for code in i18n.available_locales():
            try:
                content = catalogs.app_catalog_path(code, directory).read_bytes()
            except OSError:
                continue
            files.append((f"/i18n/{code}.json", hashlib.sha256(content).hexdigest()))
    return tuple(files)


def precached_files(app: Flask) -> tuple[tuple[str, str], ...]:
    """(url, sha256) of every file the worker caches besides the shell's views."""
    return _static_files(app.static_folder or "") + _language_catalogs(app)


def precache_urls(app: Flask, files: tuple[tuple[str, str], ...] | None = None) -> list[str]:
    return list(SHELL_URLS) + [url for url, _ in (files if files is not None else precached_files(app))]


def version(app: Flask, files: tuple[tuple[str, str], ...] | None = None) -> str:
    """Changes whenever any cached byte changes: templates, static files or the worker itself."""
    digest = hashlib.sha256()
    templates = Path(app.root_path) / "templates"
    for name in ("app.html", "manifest.webmanifest"):
        digest.update((templates / name).read_bytes())
    for url, file_hash in files if files is not None else precached_files(app):
        digest.update(f"{url}:{file_hash}\n".encode())
    digest.update(_worker_template(app.static_folder or "").encode())
    return digest.hexdigest()[:16]


@cache
def _worker_template(static_folder: str) -> str:
    return (Path(static_folder) / "sw.js").read_text("utf-8")


def service_worker_source(app: Flask) -> str:
    source = _worker_template(app.static_folder or "")
    files = precached_files(app)  # the language catalogs are read once per request for the worker
    return source.replace('"__FIELDAPP_VERSION__"', json.dumps(version(app, files=files))).replace(
        '["__FIELDAPP_PRECACHE__"]', json.dumps(precache_urls(app, files))
    )
