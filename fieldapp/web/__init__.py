"""The field app's shell: the page, its service worker and its manifest (the phone's audience)."""

from flask import Blueprint

bp = Blueprint("web", __name__)

from . import views  # noqa: E402,F401  (views register themselves on bp)
