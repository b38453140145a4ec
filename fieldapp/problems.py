"""The one place that builds error answers: problem+json (RFC 9457) for the API, a page for people."""

from __future__ import annotations

import logging

from flask import Flask, Response, current_app, has_request_context, json, render_template, request
from flask.globals import request_ctx
from flask_babel import gettext
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from .errors import N_, DomainError

log = logging.getLogger("fieldapp")

TITLES = {
    400: N_("Solicitud mal formada"),
    401: N_("No autorizado"),
    403: N_("Prohibido"),
    404: N_("No encontrado"),
    405: N_("Método no permitido"),
    409: N_("Conflicto"),
    413: N_("Contenido demasiado grande"),
    415: N_("Tipo de contenido no admitido"),
    422: N_("Datos no válidos"),
    429: N_("Demasiadas solicitudes"),
    500: N_("Error interno del servidor"),
    503: N_("Servicio no disponible por el momento"),
}


def problem(status: int, detail: str | None = None, **extra: object) -> Response:
    body: dict[str, object] = {
        "type": "about:blank",
        "title": gettext(TITLES.get(status, TITLES[400])),
        "status": status,
    }
    if detail:
        body["detail"] = detail
    body.update(extra)
    response = Response(json.dumps(body), status=status, mimetype="application/problem+json")
    if status == 503:
        response.headers["Retry-After"] = "5"
    return response


def _wants_problem_json() -> bool:
    # The device API and the looks' manifests answer JSON, so their errors do too.
    return request.path.startswith(("/api/", "/looks/")) or request.accept_mimetypes.best == "application/json"


def _url_for_without_host(endpoint: str, **values: object) -> str:
    """url_for's path, for a request whose Host the router refused: built on a route map bound to no host."""
    return current_app.url_map.bind("", script_name=request.script_root or None).build(endpoint, values)


def _answer(status: int, detail: str | None, members: dict[str, object] | None = None) -> Response | tuple[str, int]:
    if _wants_problem_json():
        return problem(status, detail, **(members or {}))
    context: dict[str, object] = {"status": status, "title": gettext(TITLES.get(status, TITLES[400])), "detail": detail}
    if request_ctx.url_adapter is None:
        context["url_for"] = _url_for_without_host  # a Host label over 63 characters left url_for nothing to build on
    return render_template("error.html", **context), status


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def domain_error(exc: DomainError):  # type: ignore[no-untyped-def]
        return _answer(exc.status, exc.render(gettext), exc.members())

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):  # type: ignore[no-untyped-def]
        status = exc.code or 400
        detail = None
        if status == 413:
            # The route's own limit (a bundle upload takes more than an API request), else the app's.
            limit = request.max_content_length if has_request_context() else app.config["MAX_CONTENT_LENGTH"]
            detail = gettext("El cuerpo de la solicitud supera el límite de %(limit)s bytes.", limit=limit)
        response = _answer(status, detail)
        if status == 405 and isinstance(response, Response):
            response.headers["Allow"] = ", ".join(exc.valid_methods or [])  # type: ignore[attr-defined]
        return response

    @app.errorhandler(OperationalError)
    def database_busy(exc: OperationalError):  # type: ignore[no-untyped-def]
        log.warning("database unavailable: %s", type(exc.orig).__name__)
        return _answer(503, gettext("La base de datos está ocupada; vuelva a intentarlo."))

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):  # type: ignore[no-untyped-def]
        log.exception("unexpected error on %s", request.url_rule.rule if request.url_rule else "?")
        return _answer(500, None)
