"""Domain exceptions. Pure: services raise them, problems.py turns them into answers.

Messages are Spanish gettext msgids (the source language), formatted with named
parameters and translated only at the boundary, so services stay free of Flask.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def N_(msgid: str) -> str:
    """Marks a msgid for extraction; translation happens where it is shown."""
    return msgid


class DomainError(Exception):
    status = 400
    translatable_params: tuple[str, ...] = ()

    def __init__(self, msgid: str, **params: Any) -> None:
        super().__init__(msgid % params if params else msgid)
        self.msgid = msgid
        self.params = params

    def render(self, translate: Callable[[str], str]) -> str:
        params = {k: translate(v) if k in self.translatable_params else v for k, v in self.params.items()}
        return translate(self.msgid) % params if params else translate(self.msgid)

    def members(self) -> dict[str, object]:
        """Extension members of its problem+json answer (RFC 9457), beside type, title, status and detail."""
        return {}


class BadRequest(DomainError):
    status = 400


class Unauthorized(DomainError):
    status = 401


class Forbidden(DomainError):
    status = 403


class NotFound(DomainError):
    status = 404


class Conflict(DomainError):
    status = 409


class TooLarge(DomainError):
    status = 413


class UnsupportedMedia(DomainError):
    status = 415


class Invalid(DomainError):
    status = 422


class TooManyAttempts(DomainError):
    status = 429


class Unavailable(DomainError):
    """The server cannot take the request now (e.g. the database is busy); the client retries."""

    status = 503
