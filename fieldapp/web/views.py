"""App shell views. Everything the phone needs offline is static or rendered from static inputs."""

from __future__ import annotations

from flask import Response, current_app, render_template
from flask_babel import gettext

from .. import i18n
from ..errors import N_, NotFound
from ..i18n import catalogs
from ..looks import Look, offered_looks, shell_looks
from . import bp
from .precache import service_worker_source


def _offered() -> dict[str, Look]:
    return offered_looks(current_app.config["FIELDAPP"].own_look)


def _default_look() -> Look:
    return _offered()[current_app.config["FIELDAPP"].default_look]


@bp.get("/")
def shell():  # type: ignore[no-untyped-def]
    # The languages on offer, for the picker before the phone is enrolled (bootstrap brings them after).
    languages = [{"code": e.code, "name": e.name, "direction": e.direction} for e in i18n.language_entries()]
    look = _default_look()
    return render_template(
        "app.html", languages=languages, looks=shell_looks(gettext, _offered()), look=look, name=look.label(gettext)
    )


@bp.get("/sw.js")
def service_worker() -> Response:
    # Root scope, and always revalidated: a stale worker would pin phones to old code.
    response = Response(service_worker_source(current_app), mimetype="text/javascript")
    response.headers["Cache-Control"] = "no-cache"
    return response


def _manifest(look: Look) -> Response:
    body = render_template("manifest.webmanifest", look=look, name=look.label(gettext), lang=i18n.ui_language())
    return Response(body, mimetype="application/manifest+json")


@bp.get("/manifest.webmanifest")
def manifest() -> Response:
    return _manifest(_default_look())


@bp.get("/looks/<look_id>.webmanifest")
def look_manifest(look_id: str) -> Response:
    """One look's manifest: the page links a phone's own look here, so that it installs under that look."""
    look = _offered().get(look_id)
    if look is None:
        raise NotFound(N_("Ese aspecto no existe."))
    return _manifest(look)


@bp.get("/looks/<look_id>.png")
def look_icon(look_id: str) -> Response:
    """The organisation's own picture, checked when the server started (config.py)."""
    look = _offered().get(look_id)
    if look is None or look.icon_png is None:
        raise NotFound(N_("Ese aspecto no existe."))
    return Response(look.icon_png, mimetype="image/png")


@bp.get("/i18n/<code>.json")
def language_catalog(code: str) -> Response:
    """A language's compiled catalog for the field app, which keeps the one it uses sealed on the phone."""
    path = catalogs.app_catalog_path(code, i18n.translations_dir())
    if code not in i18n.registry() or not path.exists():
        raise NotFound(N_("Ese idioma no está disponible."))
    response = Response(path.read_bytes(), mimetype="application/json")
    # The form's words in plain text: no cache on the way or on the phone may keep a readable copy.
    response.headers["Cache-Control"] = "no-store"
    return response
