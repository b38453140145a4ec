"""The device API (/api/v1): JSON in, JSON or problem+json out, bearer-token auth."""

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

from . import relay, views  # noqa: E402,F401  (views register themselves on bp)
