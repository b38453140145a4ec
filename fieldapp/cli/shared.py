"""What every command group uses: settings, secrets from the environment or a hidden prompt, domain
errors in one line, and the account a command acts for."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any

import click
from flask import current_app
from flask_babel import gettext as _

from ..config import Config
from ..errors import DomainError
from ..extensions import db
from ..services import users


def settings() -> Config:
    return current_app.config["FIELDAPP"]


def read_secret(prompt: str, env: str, confirm: bool = False) -> str:
    """A passphrase from the environment (for scripts) or typed at a hidden prompt; never echoed or logged."""
    value = os.environ.get(env)
    if value:
        return value
    return click.prompt(prompt, hide_input=True, confirmation_prompt=confirm)


def domain_command(f: Callable[..., Any]) -> Callable[..., Any]:
    """Explain a domain error in one line. Each command writes in its own writing() block and says what it
    did only after that block has committed."""

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return f(*args, **kwargs)
        except DomainError as exc:
            raise click.ClickException(exc.render(_)) from None

    return wrapper


def find_account(username: str):  # type: ignore[no-untyped-def]
    return users.find_user(db.session, username)
