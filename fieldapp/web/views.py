"""App shell views. Everything the phone needs offline is static or rendered from static inputs."""

from __future__ import annotations

from flask import Response, current_app, render_template

from . import bp
from .precache import service_worker_source


@bp.get("/")
def shell():  # type: ignore[no-untyped-def]
    return render_template("app.html")


@bp.get("/sw.js")
def service_worker() -> Response:
    # Root scope, and always revalidated: a stale worker would pin phones to old code.
    response = Response(service_worker_source(current_app), mimetype="text/javascript")
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/manifest.webmanifest")
def manifest() -> Response:
    return Response(render_template("manifest.webmanifest"), mimetype="application/manifest+json")
