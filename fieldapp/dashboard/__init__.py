"""The supervisor-facing pages (server-rendered): first-run setup, login, and what each role may see."""

from flask import Blueprint

bp = Blueprint("dashboard", __name__)

from . import setup, views  # noqa: E402,F401  (views register themselves on bp)
