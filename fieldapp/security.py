"""Response headers, an anonymous request log and CSRF for the people-facing forms.

No code here (or anywhere) reads the client's address or user agent: the request
log names the route pattern, never its values, so tokens in URLs stay out too.
"""

from __future__ import annotations

import hmac
import logging
import re
import secrets
from collections.abc import Iterator
from typing import Any

from flask import Flask, Response, request, session
from werkzeug.serving import WSGIRequestHandler

from .errors import N_, BadRequest

request_log = logging.getLogger("fieldapp.requests")

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob:",
        "connect-src 'self'",
        "worker-src 'self'",
        "manifest-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

STATIC_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": "geolocation=(), camera=(self), microphone=(self)",
}


def set_security_headers(response: Response) -> Response:
    response.headers.update(STATIC_HEADERS)
    if request.is_secure:
        response.headers["Strict-Transport-Security"] = "max-age=31536000"
    # API answers and pages may carry report data or tokens: never cache them; static files may be.
    if not request.path.startswith("/static/"):
        response.headers["Cache-Control"] = "no-store"
    return response


def log_request(response: Response) -> Response:
    rule = request.url_rule.rule if request.url_rule else "<unmatched>"
    request_log.info("%s %s %s", request.method, rule, response.status_code)
    return response


CSRF_FIELD = "csrf_token"


def csrf_token() -> str:
    if CSRF_FIELD not in session:
        session[CSRF_FIELD] = secrets.token_urlsafe(32)
    return str(session[CSRF_FIELD])


def check_csrf() -> None:
    """Every state-changing form post must echo the session's token (the token API is exempt)."""
    if request.method in ("GET", "HEAD", "OPTIONS") or request.path.startswith("/api/"):
        return
    sent = request.form.get(CSRF_FIELD, "")
    expected = session.get(CSRF_FIELD, "")
    if not expected or not hmac.compare_digest(str(sent), str(expected)):
        raise BadRequest(N_("El formulario caducó o no vino de esta aplicación; vuelva a cargar la página."))


def init_security(app: Flask) -> None:
    app.before_request(check_csrf)
    app.after_request(set_security_headers)
    app.after_request(log_request)
    app.jinja_env.globals["csrf_token"] = csrf_token


# IPv4, and IPv6 written with colons (at least two groups): what a server library might print of a client.
ADDRESS_RE = re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}\b|\b[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}\b")


class ScrubAddresses(logging.Filter):
    """Rewrites any address a library puts in a log record (gunicorn names the client on bad requests)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = ADDRESS_RE.sub("-", record.getMessage()), ()
        return True


def closing_on_disconnect(app: Any) -> Any:
    """Werkzeug's server can skip closing a response (an open static file) when the client drops the
    connection mid-answer; a generator's finally closes it whatever happens."""

    def wrapped(environ: dict, start_response: Any) -> Iterator[bytes]:
        answer = app(environ, start_response)
        try:
            yield from answer
        finally:
            close = getattr(answer, "close", None)
            if close is not None:
                close()

    return wrapped


class AnonymousRequestHandler(WSGIRequestHandler):
    """Werkzeug's server, minus the client address and the time in its log lines."""

    def address_string(self) -> str:
        return "-"

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # the app logs each request itself, without the address

    def log(self, type: str, message: str, *args: object) -> None:
        logging.getLogger("werkzeug").log(logging.ERROR if type == "error" else logging.INFO, message, *args)


def anonymous_gunicorn_logger() -> type:
    """Gunicorn's logger with no access log at all and addresses scrubbed from its error log."""
    from gunicorn import glogging

    class AnonymousGunicornLogger(glogging.Logger):
        error_fmt = "%(levelname)s gunicorn: %(message)s"  # no clock time, as in the app's own log

        def setup(self, cfg):  # type: ignore[no-untyped-def]
            super().setup(cfg)
            self.error_log.addFilter(ScrubAddresses())

        def access(self, *args: object, **kwargs: object) -> None:
            pass  # an access log would hold addresses and user agents

    return AnonymousGunicornLogger
