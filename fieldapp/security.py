"""Response headers, an anonymous request log and CSRF for the people-facing forms.

No code here (or anywhere) reads the client's address or user agent: the request
log names the route pattern, never its values, so tokens in URLs stay out too.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote, urlsplit

from flask import Flask, Response, request, session
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.routing import Map, RequestRedirect
from werkzeug.serving import WSGIRequestHandler

from . import inputs
from .errors import N_, BadRequest
from .web.precache import SEALED_SCREENS

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
    "Cross-Origin-Embedder-Policy": "require-corp",  # nothing from another origin may even be embedded
    "X-Permitted-Cross-Domain-Policies": "none",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": "geolocation=(), camera=(self), microphone=(self)",
}


def set_security_headers(response: Response) -> Response:
    own_policy = response.headers.get("Content-Security-Policy")  # a view may only narrow it (an attachment's)
    response.headers.update(STATIC_HEADERS)
    if own_policy and "sandbox" in own_policy and "default-src 'none'" in own_policy:
        response.headers["Content-Security-Policy"] = own_policy
    if request.is_secure:
        response.headers["Strict-Transport-Security"] = "max-age=31536000"
    # API answers and pages may carry report data or tokens: never cache them; static files may be, but for
    # the screens a phone keeps sealed (their words would lie readable in the browser's cache).
    if not request.path.startswith("/static/") or request.path in SEALED_SCREENS:
        response.headers["Cache-Control"] = "no-store"
    return response


KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})


def log_request(response: Response) -> Response:
    rule = request.url_rule.rule if request.url_rule else "<unmatched>"
    method = request.method if request.method in KNOWN_METHODS else "<method>"  # a server may pass any token on
    request_log.info("%s %s %s", method, rule, response.status_code)
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
    if not inputs.same_token(request.form.get(CSRF_FIELD), session.get(CSRF_FIELD)):
        raise BadRequest(N_("El formulario caducó o no vino de esta aplicación; vuelva a cargar la página."))


def refuse_unclean_text() -> None:
    """A path with control characters, or a query string or form whose text is not UTF-8 or holds NUL, is refused
    whole before any view reads it (Werkzeug would pass NUL on, which PostgreSQL refuses, and keep bad escapes
    as text)."""
    clean = inputs.is_clean_text(request.path) and inputs.is_storable_urlencoded(request.query_string)
    if clean and request.method not in ("GET", "HEAD", "OPTIONS"):
        if request.mimetype == "application/x-www-form-urlencoded":
            clean = inputs.is_storable_urlencoded(request.get_data(cache=True))
        elif request.mimetype == "multipart/form-data":
            clean = all(inputs.is_storable_text(value) for value in request.form.values())
    if not clean:
        raise BadRequest(N_("La solicitud contiene texto no válido (UTF-8 mal formado o caracteres nulos)."))


def init_security(app: Flask) -> None:
    app.before_request(refuse_unclean_text)
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
    """Werkzeug's server, minus the client address and the time in its log lines, and minus its Server header."""

    # A request line it cannot read is answered with a status line, not as HTTP/0.9 (a bare body).
    default_request_version = "HTTP/1.0"

    def address_string(self) -> str:
        return "-"

    def send_response(self, code: int, message: str | None = None) -> None:
        # BaseHTTPRequestHandler's, without "Server: Werkzeug/… Python/…" (a scanner's first question)
        self._connection_header_sent = False
        self.log_request(code)
        self.send_response_only(code, message)
        self.send_header("Date", self.date_time_string())

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        if code == 505:
            code = 400  # "HTTP/2.0" or above on a request line is malformed input, as gunicorn answers it
        super().send_error(code, message, explain)

    def send_header(self, keyword: str, value: str) -> None:
        if keyword.lower() == "connection":
            if getattr(self, "_connection_header_sent", False):
                return  # the app's Connection: close after a refused body, then the server's own: one is enough
            self._connection_header_sent = True
        super().send_header(keyword, value)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # the app logs each request itself, without the address

    def log(self, type: str, message: str, *args: object) -> None:
        logging.getLogger("werkzeug").log(logging.ERROR if type == "error" else logging.INFO, message, *args)


def anonymous_gunicorn_logger(url_map: Map) -> type:
    """Gunicorn's logger with no access log at all, and addresses and request targets scrubbed from its error log."""
    from gunicorn import glogging

    class AnonymousGunicornLogger(glogging.Logger):
        error_fmt = "%(levelname)s gunicorn: %(message)s"  # no clock time, as in the app's own log

        def setup(self, cfg):  # type: ignore[no-untyped-def]
            super().setup(cfg)
            self.error_log.addFilter(ScrubRequestTargets(url_map))
            self.error_log.addFilter(ScrubAddresses())

        def access(self, *args: object, **kwargs: object) -> None:
            pass  # an access log would hold addresses and user agents

    return AnonymousGunicornLogger


# A request target as a server or Flask writes it: a path (with its query), a query alone, or an absolute URL.
# Not a file in a traceback (File "/…"), nor the "/" inside a word (HTTP/1.1).
REQUEST_TARGET_RE = re.compile(
    r"""(?<![^\s'"(\[=])(?<!File ")(?:[A-Za-z][A-Za-z0-9+.-]*://[^\s'"/?]*)?(?:/|\?(?=[^\s'"]))[^\s'"]*"""
)
# What a server library quotes of a request it refused (Python's repr): a request line, a version, a header.
QUOTED_RE = re.compile(r"""(?<![\w\\])(?<!File )(b?)(['"])((?:\\.|(?!\2)[^\\])*)\2(?!\w)""")
REQUEST_LINE_RE = re.compile(r"([A-Za-z]{1,20}) +((?:[/?*]|[A-Za-z][A-Za-z0-9+.-]*://).*?)(?: +(HTTP/\d(?:\.\d)?))?")


def route_pattern(target: str, url_map: Map) -> str:
    """The route a request target matches ("/setup/<token>"), or "<path>": never a value in the path, nor the query."""
    path = target.split("?", 1)[0].split("#", 1)[0]
    if "://" in path:
        try:
            path = urlsplit(path).path
        except ValueError:
            return "<path>"
    if not path.startswith("/"):
        return "<path>"
    adapter = url_map.bind("localhost")
    method = "GET"
    for _ in range(4):  # a redirect to the canonical path (merged slashes, a trailing slash) or another method
        try:
            rule, _ = adapter.match(unquote(path), method=method, return_rule=True)
            return str(rule.rule)
        except RequestRedirect as redirect:
            path = urlsplit(redirect.new_url).path
        except MethodNotAllowed as refused:
            if not refused.valid_methods:
                break
            method = refused.valid_methods[0]
        except HTTPException:
            break
    return "<path>"


def scrub_request_targets(text: str, url_map: Map) -> str:
    """A log message with each request line reduced to its method, route pattern and version, any other text a
    library quotes of a request dropped, and every request target reduced to its route pattern."""

    def quoted(found: re.Match[str]) -> str:
        prefix, quote, content = found.groups()
        line = REQUEST_LINE_RE.fullmatch(content)
        if line:
            method, target, version = line.groups()
            content = " ".join(part for part in (method, route_pattern(target, url_map), version) if part)
        elif content.startswith(("/", "?")):
            content = route_pattern(content, url_map)  # a target alone
        elif content:
            content = "..."  # a header line, or the rest of a target split at a space: nothing a log needs
        return f"{prefix}{quote}{content}{quote}"

    text = QUOTED_RE.sub(quoted, text)
    return REQUEST_TARGET_RE.sub(lambda found: route_pattern(found.group(0), url_map), text)


class ScrubRequestTargets(logging.Filter):
    """Rewrites the request targets in a log record to their route patterns: a setup link's token, a report id or
    a query never reaches the log (gunicorn and werkzeug's server quote the request lines they refuse)."""

    def __init__(self, url_map: Map) -> None:
        super().__init__()
        self.url_map = url_map

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            record.msg = scrub_request_targets(record.getMessage(), self.url_map)
        except Exception:  # a filter that raises would fail the request being logged
            record.msg = "(a log message withheld: it could not be scrubbed of request targets)"
        record.args = ()
        return True
