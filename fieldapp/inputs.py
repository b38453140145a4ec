"""One check per kind of hostile input, used wherever that kind arrives: text, integers in routes, tokens, links.

Pure (no Flask globals) except the converter, which Flask's routing instantiates.
"""

from __future__ import annotations

import hmac
import re
from typing import Any
from urllib.parse import unquote_to_bytes, urlsplit

from werkzeug.routing import IntegerConverter, ValidationError

# C0 controls and DEL, but tab and line breaks (a note may have paragraphs); NUL breaks PostgreSQL text.
CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Every primary key is a 32-bit integer on PostgreSQL; a larger number in a route names nothing.
MAX_ROUTE_INT = 2**31 - 1
MAX_TOKEN_CHARS = 256


def is_storable_text(text: str) -> bool:
    """Valid Unicode (no lone surrogates) and no NUL, which PostgreSQL refuses in text."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


def is_clean_text(text: str) -> bool:
    """Storable, and no control characters but tab and line breaks: for paths and links."""
    return is_storable_text(text) and CONTROL_RE.search(text) is None


def has_lone_surrogate(value: Any) -> bool:
    """Whether any string in a parsed JSON value (keys included) is not valid Unicode. Iterative: the parser
    accepts nesting deeper than Python's recursion allows."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def is_storable_urlencoded(raw: bytes) -> bool:
    """Each name and value of a query string or form body is UTF-8 and storable text (see is_storable_text);
    fields check their own rules on control characters, so that a refusal can keep what was typed."""
    for pair in raw.split(b"&") if raw else []:
        for part in pair.split(b"=", 1):
            try:
                text = unquote_to_bytes(part.replace(b"+", b" ")).decode("utf-8")
            except UnicodeDecodeError:
                return False
            if not is_storable_text(text):
                return False
    return True


def same_token(sent: object, expected: object) -> bool:
    """A token echoed back equals the one issued: compared as bytes in constant time, after a type and length
    check (hmac.compare_digest refuses a str that is not ASCII)."""
    if not isinstance(sent, str) or not isinstance(expected, str) or not expected:
        return False
    if len(sent) > MAX_TOKEN_CHARS or not sent.isascii():
        return False
    return hmac.compare_digest(sent.encode("ascii"), expected.encode("ascii"))


def same_site_path(target: object) -> str | None:
    """A link target kept only as a path on this site without control characters, else None."""
    if not isinstance(target, str) or len(target) > 2048 or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or any(ord(c) < 0x20 or ord(c) == 0x7F for c in target) or not is_clean_text(target):
        return None
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else None


class BoundedIntConverter(IntegerConverter):
    """`<int:…>` that matches only what the database can hold: a larger number is a 404, never an overflow."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:  # noqa: A002 (werkzeug's name)
        kwargs.setdefault("max", MAX_ROUTE_INT)
        super().__init__(map, *args, **kwargs)

    def to_python(self, value: str) -> Any:
        if len(value) > len(str(MAX_ROUTE_INT)):  # before int(): thousands of digits are a ValueError there
            raise ValidationError()
        return super().to_python(value)
