"""Between the server and the app: a request body the server cannot read, or one over the limit, is refused
with a 4xx, and the connection closes after that answer.

Gunicorn raises its own errors while it reads a chunked body (InvalidChunkSize, ChunkMissingTerminator,
NoMoreData), werkzeug's server an OSError; either reached the app as a 500. Gunicorn ends a body that stops
short of its Content-Length as if it were whole, and werkzeug stops reading a chunked body at
MAX_CONTENT_LENGTH without saying so: the app took the first for the body sent and refused the second as
malformed. What is left of a refused body is still on the connection, where no next request could be told from
it: hence the close.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from flask import Flask
from werkzeug.exceptions import RequestEntityTooLarge

from .errors import N_, BadRequest

StartResponse = Callable[..., Any]


class GuardedInput:
    """wsgi.input that refuses a body the server cannot read or that ends before its `announced` length (400),
    or one longer than `limit` bytes (413)."""

    def __init__(self, stream: Any, limit: int | None, announced: int | None) -> None:
        self._stream = stream
        self._limit = limit
        self._announced = announced
        self._taken = 0
        self.refusal: Exception | None = None

    def read(self, size: int | None = -1) -> bytes:
        return self._take(self._stream.read, -1 if size is None else size)

    def readline(self, size: int | None = -1) -> bytes:
        return self._take(self._stream.readline, -1 if size is None else size)

    def readlines(self, hint: int = -1) -> list[bytes]:
        lines, total = [], 0
        while line := self.readline():
            lines.append(line)
            total += len(line)
            if 0 < hint <= total:
                break
        return lines

    def __iter__(self) -> Iterator[bytes]:
        while line := self.readline():
            yield line

    def _take(self, read: Callable[[int], bytes], size: int) -> bytes:
        if self.refusal is not None:
            raise self.refusal
        try:
            data = read(size)
            if not data and size and self._announced is not None and self._taken < self._announced:
                raise EOFError("the body ended before its Content-Length")
            self._taken += len(data)
            # Werkzeug asks for the limit at most: one byte more, if there is one, says the body is longer.
            if self._limit is not None and self._taken >= self._limit:
                if self._taken > self._limit or self._stream.read(1):
                    self.refusal = RequestEntityTooLarge()
        except Exception as exc:  # each server has its own errors for a body it cannot read
            self.refusal = BadRequest(N_("No se pudo leer el cuerpo de la solicitud: llegó cortado o mal codificado."))
            raise self.refusal from exc
        if self.refusal is not None:
            raise self.refusal
        return data


def guarding_request_bodies(app: Flask) -> Callable[[dict, StartResponse], Iterable[bytes]]:
    """The app, reading its request bodies through GuardedInput, and closing the connection after a refusal."""
    limit = app.config.get("MAX_CONTENT_LENGTH")

    def guarded(environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        announced = _content_length(environ)
        # With a Content-Length, werkzeug refuses a body over the limit before reading it.
        unannounced_end = "wsgi.input_terminated" in environ and announced is None
        body = GuardedInput(environ["wsgi.input"], limit if unannounced_end else None, announced)
        environ["wsgi.input"] = body

        def starting(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            if body.refusal is not None:
                headers = [(name, value) for name, value in headers if name.lower() != "connection"]
                headers.append(("Connection", "close"))
            return start_response(status, headers, exc_info)

        return app(environ, starting)

    return guarded


def _content_length(environ: dict) -> int | None:
    try:
        length = int(environ.get("CONTENT_LENGTH") or "")
    except ValueError:
        return None  # none, or not a number (werkzeug then reads no body)
    return length if length >= 0 else None
