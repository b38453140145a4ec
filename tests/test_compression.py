"""What a phone downloads comes gzip-compressed when it asks for it (2G links), byte for byte the same once
opened; nothing that may hold a secret beside what a visitor sent is ever compressed (BREACH)."""

from __future__ import annotations

import gzip

import pytest

GZIP = {"Accept-Encoding": "gzip, deflate, br"}


@pytest.mark.parametrize("path", ["/static/js/db.js", "/static/css/app.css", "/", "/sw.js"])
def test_the_phones_files_come_compressed_and_open_to_the_same_bytes(client, path) -> None:
    plain = client.get(path)
    plain.close()  # a static file's answer holds the file open until closed
    packed = client.get(path, headers=GZIP)
    assert plain.status_code == packed.status_code == 200
    assert "Content-Encoding" not in plain.headers and packed.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in packed.headers["Vary"] and "Accept-Encoding" in plain.headers["Vary"]
    assert gzip.decompress(packed.get_data()) == plain.get_data()
    assert len(packed.get_data()) < len(plain.get_data())
    if plain.headers.get("ETag"):
        assert packed.headers["ETag"] == f"W/{plain.headers['ETag']}" and "Accept-Ranges" not in packed.headers
        again = client.get(path, headers={**GZIP, "If-None-Match": packed.headers["ETag"]})
        again.close()
        assert again.status_code == 304  # an unchanged file is not sent again over 2G


def test_the_bootstrap_comes_compressed_and_a_report_answer_does_not(client, org) -> None:
    packed = client.get("/api/v1/bootstrap", headers={**org.headers, **GZIP})
    assert packed.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(packed.get_data()) == client.get("/api/v1/bootstrap", headers=org.headers).get_data()
    answer = client.post("/api/v1/reports", json={"reports": [org.envelope()] * 20}, headers={**org.headers, **GZIP})
    assert answer.status_code == 200 and "Content-Encoding" not in answer.headers


def test_dashboard_pages_and_errors_are_never_compressed(client) -> None:
    for path in ("/dashboard/login", "/static/js/nothing-here.js", "/api/v1/bootstrap"):
        answer = client.get(path, headers=GZIP)
        assert "Content-Encoding" not in answer.headers, path


def test_a_range_request_is_answered_as_it_was(client) -> None:
    answer = client.get("/static/js/db.js", headers={**GZIP, "Range": "bytes=0-99"})
    assert answer.status_code == 206 and "Content-Encoding" not in answer.headers and len(answer.get_data()) == 100
    answer.close()
