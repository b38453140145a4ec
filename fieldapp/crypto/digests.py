"""Digests of random secrets (device tokens, enrolment codes, setup links): what the database keeps of them."""

from __future__ import annotations

import hashlib


def token_digest(token: str) -> str:
    """Tokens and codes are stored only as this digest (they are random, so no slow hash is needed)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
