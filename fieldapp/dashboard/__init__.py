"""The supervisor-facing pages (server-rendered). For now: the first-run setup."""

from flask import Blueprint

bp = Blueprint("dashboard", __name__)

from . import setup  # noqa: E402,F401  (views register themselves on bp)
