"""Serving the app: gunicorn worker processes where gunicorn runs (POSIX), werkzeug's threaded server elsewhere.

Several processes let a 2-core base laptop use both cores (one CPython process is bound to one). Each has a
few threads, because a supervisor's export or statistics page holds one for as long as it streams: with one
thread per process, a phone batch that reached the streaming process waited for the whole export. A TLS proxy
that receives each request body whole (nginx does by default) keeps slow uploads from holding threads.
Neither server logs an address, an agent or a request target's values, nor names itself in a Server header;
both serve the app behind guarding_request_bodies (a body they cannot read is a 400, one over the limit a 413).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from werkzeug.routing import Map

from .wsgi import guarding_request_bodies

log = logging.getLogger("fieldapp")


def gunicorn_available() -> bool:
    try:
        import gunicorn.app.base  # noqa: F401
    except ImportError:  # Windows has no fcntl; gunicorn does not run there
        return False
    return True


def serve_with_gunicorn(
    host: str, port: int, workers: int, threads: int, url_map: Map, tls_files: tuple[Path, Path] | None = None
) -> None:
    from gunicorn.app.base import BaseApplication

    from .security import anonymous_gunicorn_logger

    _use_anonymous_gunicorn_response()
    settings: dict[str, Any] = {
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": "gthread",
        "threads": threads,
        "logger_class": anonymous_gunicorn_logger(url_map),
        "accesslog": None,
        "loglevel": "info",
        "timeout": 120,
        "graceful_timeout": 30,
        "control_socket_disable": True,  # it would write a socket into the home folder
    }
    if tls_files:
        settings |= {"certfile": str(tls_files[0]), "keyfile": str(tls_files[1])}

    class FieldappServer(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in settings.items():
                self.cfg.set(key, value)

        def load(self):  # type: ignore[no-untyped-def]
            from . import create_app

            return guarding_request_bodies(create_app())  # in each worker: no database connection crosses a fork

    FieldappServer().run()


def _use_anonymous_gunicorn_response() -> None:
    """Gunicorn's answers without its Server header, and closed after the app's answer says Connection: close."""
    from gunicorn.http import wsgi

    class AnonymousResponse(wsgi.Response):  # type: ignore[misc]
        def process_headers(self, headers: list[tuple[str, str]]) -> None:
            # Gunicorn drops hop-by-hop headers the app sends; this one means what is left of a refused body is unread.
            if any(name.lower() == "connection" and value.strip().lower() == "close" for name, value in headers):
                self.force_close()
            super().process_headers(headers)

        def default_headers(self) -> list[str]:
            return [line for line in super().default_headers() if not line.startswith("Server:")]

    wsgi.Response = AnonymousResponse  # wsgi.create builds every answer of the workers from this name


def serve_with_werkzeug(app: Any, host: str, port: int, tls_files: tuple[Path, Path] | None = None) -> None:
    from werkzeug.serving import run_simple

    from .security import AnonymousRequestHandler, closing_on_disconnect

    run_simple(
        host,
        port,
        closing_on_disconnect(guarding_request_bodies(app)),
        threaded=True,
        use_reloader=False,
        request_handler=AnonymousRequestHandler,
        ssl_context=(str(tls_files[0]), str(tls_files[1])) if tls_files else None,
    )


def start_forwarder(seconds: int) -> None:
    """A base forwards to HQ from a process of its own beside the server's (the same environment, so the same
    instance and database); it ends when the server does. Without a link to HQ it only looks for one."""
    command = [sys.executable, "-m", "fieldapp", "relay", "run", "--every", str(seconds), "--parent", str(os.getpid())]
    subprocess.Popen(command, stdin=subprocess.DEVNULL)  # noqa: S603 (our own command, no shell)
