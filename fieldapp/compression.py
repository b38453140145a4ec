"""Gzip for what a phone downloads, often over 2G: the app's files, its shell, manifests and catalogs, and the
bootstrap. Only answers that hold no secret are compressed, so that no secret can leak through the size of a
compressed answer that also echoes what a visitor sent (BREACH): the dashboard and the other API calls are
sent as they are."""

from __future__ import annotations

import gzip

from flask import Flask, Response, request

PHONE_PREFIXES = ("/static/", "/i18n/", "/looks/")
PHONE_PATHS = frozenset({"/", "/sw.js", "/manifest.webmanifest", "/api/v1/bootstrap"})
TEXT_TYPES = frozenset(
    {
        "text/javascript",
        "application/javascript",
        "text/css",
        "text/html",
        "application/json",
        "application/manifest+json",
        "image/svg+xml",
    }
)
MIN_BYTES = 1024  # below this, gzip's own header and the work cost more than they save
MAX_BYTES = 4 * 1024 * 1024  # the app's files are far smaller; nothing large is read into memory


def _wanted(response: Response) -> bool:
    if request.method not in ("GET", "HEAD") or response.status_code != 200:
        return False
    if not (request.path in PHONE_PATHS or request.path.startswith(PHONE_PREFIXES)):
        return False
    if response.mimetype not in TEXT_TYPES or "Content-Encoding" in response.headers:
        return False
    if "Content-Range" in response.headers or not request.accept_encodings["gzip"]:
        return False
    length = response.content_length
    return length is None or length <= MAX_BYTES


def compress_for_phones(response: Response) -> Response:
    if request.path in PHONE_PATHS or request.path.startswith(PHONE_PREFIXES):
        response.vary.add("Accept-Encoding")  # a cache must not hand the gzip answer to a client without it
    if not _wanted(response):
        return response
    original = response.response
    response.direct_passthrough = False  # a static file is read whole: it is small (MAX_BYTES)
    body = response.get_data()
    if hasattr(original, "close"):
        original.close()  # the file it was read from; set_data below replaces it
    if len(body) < MIN_BYTES:
        return response
    response.set_data(gzip.compress(body, compresslevel=6, mtime=0))
    response.headers["Content-Encoding"] = "gzip"
    response.headers.pop("Accept-Ranges", None)  # ranges are of the file, not of this body
    etag, _ = response.get_etag()
    if etag:
        # Weak: the same content in another encoding, so a revalidation still gets 304 for an unchanged file.
        response.set_etag(etag, weak=True)
    return response


def init_compression(app: Flask) -> None:
    app.after_request(compress_for_phones)
