"""Serving the app: gunicorn worker processes where gunicorn runs (POSIX), werkzeug's threaded server elsewhere.

Several processes let a 2-core base laptop use both cores (one CPython process is bound to one). Each has a
few threads, because a supervisor's export or statistics page holds one for as long as it streams: with one
thread per process, a phone batch that reached the streaming process waited for the whole export. A TLS proxy
that receives each request body whole (nginx does by default) keeps slow uploads from holding threads.
Neither server logs an address or agent.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("fieldapp")


def gunicorn_available() -> bool:
    try:
        import gunicorn.app.base  # noqa: F401
    except ImportError:  # Windows has no fcntl; gunicorn does not run there
        return False
    return True


def serve_with_gunicorn(host: str, port: int, workers: int, threads: int) -> None:
    from gunicorn.app.base import BaseApplication

    from .security import anonymous_gunicorn_logger

    settings: dict[str, Any] = {
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": "gthread",
        "threads": threads,
        "logger_class": anonymous_gunicorn_logger(),
        "accesslog": None,
        "loglevel": "info",
        "timeout": 120,
        "graceful_timeout": 30,
        "control_socket_disable": True,  # it would write a socket into the home folder
    }

    class FieldappServer(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in settings.items():
                self.cfg.set(key, value)

        def load(self):  # type: ignore[no-untyped-def]
            from . import create_app

            return create_app()  # in each worker: no database connection crosses a fork

    FieldappServer().run()


def serve_with_werkzeug(app: Any, host: str, port: int) -> None:
    from werkzeug.serving import run_simple

    from .security import AnonymousRequestHandler, closing_on_disconnect

    run_simple(
        host,
        port,
        closing_on_disconnect(app),
        threaded=True,
        use_reloader=False,
        request_handler=AnonymousRequestHandler,
    )
