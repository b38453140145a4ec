"""App shell views. Everything the phone needs offline is static or rendered from static inputs."""

from __future__ import annotations

from flask import Response, current_app, render_template

from .. import i18n
from ..errors import N_, NotFound
from ..i18n import catalogs
from . import bp
from .precache import service_worker_source


@bp.get("/")
def shell():  # type: ignore[no-untyped-def]
    # The languages on offer, for the picker before the phone is enrolled (bootstrap brings them after).
    languages = [{"code": e.code, "name": e.name, "direction": e.direction} for e in i18n.language_entries()]
    return render_template("app.html", languages=languages)


@bp.get("/sw.js")
def service_worker() -> Response:
    # Root scope, and always revalidated: a stale worker would pin phones to old code.
    response = Response(service_worker_source(current_app), mimetype="text/javascript")
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/manifest.webmanifest")
def manifest() -> Response:
    return Response(render_template("manifest.webmanifest"), mimetype="application/manifest+json")


@bp.get("/i18n/<code>.json")
def language_catalog(code: str) -> Response:
    """A language's compiled catalog for the field app; the service worker keeps it for offline use."""
    path = catalogs.app_catalog_path(code, i18n.translations_dir())
    if code not in i18n.registry() or not path.exists():
        raise NotFound(N_("Ese idioma no está disponible."))
    response = Response(path.read_bytes(), mimetype="application/json")
    response.headers["Cache-Control"] = "no-cache"
    return response
