"""WSGI entry point for production servers (gunicorn): `fieldapp.wsgi:app`."""

from . import create_app

app = create_app()
