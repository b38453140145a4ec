"""Nothing identifies a sender: no IP address or user agent in the request log or the database; strict headers."""

from __future__ import annotations

import http.client
import json
import os
import re
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode

import pytest

from fieldapp import crypto

from .test_dashboard_reports import inbox_org, login, unlock  # noqa: F401  (fixture and helpers)

SOURCE_IP = "127.0.0.7"
KEY_PASS = "llave del equipo 2026"
LOGIN_PASS = "entrada segura 2026"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Browserless:
    """A tiny HTTP client that sends from 127.0.0.7 with a unique user agent and keeps one cookie."""

    def __init__(self, port: int, agent: str) -> None:
        self.port, self.agent, self.cookie = port, agent, ""

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30, source_address=(SOURCE_IP, 0))
        sent = {"User-Agent": self.agent, "X-Forwarded-For": "203.0.113.9", **(headers or {})}
        if self.cookie:
            sent["Cookie"] = self.cookie
        conn.request(method, path, body, sent)
        answer = conn.getresponse()
        data = answer.read()
        if answer.getheader("Set-Cookie"):
            self.cookie = answer.getheader("Set-Cookie").split(";", 1)[0]
        conn.close()
        return answer, data


@pytest.fixture(params=["gunicorn", "werkzeug"])
def served(request, tmp_path):  # type: ignore[no-untyped-def]
    env = {
        **os.environ,
        "FIELDAPP_INSTANCE": str(tmp_path / "instance"),
        "FIELDAPP_SCRYPT_N": "1024",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("FIELDAPP_ENV", None)
    fieldapp = [sys.executable, "-m", "fieldapp"]
    subprocess.run([*fieldapp, "db", "upgrade"], env=env, check=True, capture_output=True)
    port = free_port()
    out_path, log_path = tmp_path / "server.out", tmp_path / "server.log"
    with open(out_path, "wb") as out, open(log_path, "wb") as log:
        server = subprocess.Popen(
            [*fieldapp, "serve", "--port", str(port), "--server", request.param], env=env, stdout=out, stderr=log
        )
        try:
            deadline = time.monotonic() + 30
            while "/setup/" not in out_path.read_text() or not _listening(port):
                assert server.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.05)
            yield port, env, fieldapp, out_path, log_path, tmp_path / "instance"
        finally:
            server.terminate()
            server.wait(timeout=10)


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_no_address_or_agent_in_log_or_database(served) -> None:
    port, env, fieldapp, out_path, log_path, instance = served
    agent = f"CanaryAgent/{uuid.uuid4().hex}"
    web = Browserless(port, agent)

    setup_path = "/setup/" + re.search(r"/setup/([A-Za-z0-9_-]+)", out_path.read_text()).group(1)
    setup_token = setup_path.rsplit("/", 1)[1]
    answer, page = web.request("GET", setup_path)
    assert answer.status == 200
    csrf = re.search(rb'name="csrf_token" value="([^"]+)"', page).group(1).decode()
    form = {
        "csrf_token": csrf,
        "username": "ana",
        "passphrase": LOGIN_PASS,
        "passphrase_again": LOGIN_PASS,
        "key_passphrase": KEY_PASS,
        "key_passphrase_again": KEY_PASS,
    }
    answer, page = web.request(
        "POST", setup_path, urlencode(form).encode(), {"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert answer.status == 200, page[:500]

    subprocess.run([*fieldapp, "teams", "create", "Loreto"], env=env, check=True, capture_output=True)
    code = (
        subprocess.run(
            [*fieldapp, "devices", "code", "--team", "Loreto"], env=env, check=True, capture_output=True, text=True
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    answer, body = web.request(
        "POST", "/api/v1/enroll", json.dumps({"code": code}).encode(), {"Content-Type": "application/json"}
    )
    assert answer.status == 201
    token = json.loads(body)["device_token"]
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    answer, body = web.request("GET", "/api/v1/bootstrap", None, auth)
    pub = crypto.b64u_decode(json.loads(body)["keys"][0]["pub"])
    envelope = crypto.seal_document({"answers": {"notes": "canary-note"}}, pub)
    answer, body = web.request("POST", "/api/v1/reports", json.dumps({"reports": [envelope]}).encode(), auth)
    assert json.loads(body)["results"][0]["status"] == "stored"
    web.request("GET", "/no/such/page")
    web.request("POST", "/api/v1/reports", b"{", auth)
    # Malformed HTTP is what makes server libraries log the client's address.
    with socket.create_connection(("127.0.0.1", port), source_address=(SOURCE_IP, 0)) as raw:
        raw.sendall(b"GARBAGE\x01 / HTTP/9.9\r\nUser-Agent: " + agent.encode() + b"\r\n\r\n")
        raw.settimeout(5)
        try:
            raw.recv(1024)
        except OSError:
            pass
    time.sleep(0.3)

    log = log_path.read_text()
    assert [line for line in out_path.read_text().splitlines() if line.strip()][-1].endswith(setup_path)
    assert "POST /api/v1/reports 200" in log and "GET <unmatched> 404" in log  # the log is on, and anonymous
    for secret in (SOURCE_IP, agent, "203.0.113.9", LOGIN_PASS, KEY_PASS, setup_token, token, code):
        assert secret not in log, secret
    assert not re.search(r"\d{2}:\d{2}:\d{2}", log)  # no clock times either

    files = [p for p in instance.iterdir() if p.is_file()]
    assert any(p.name.startswith("fieldapp.db") for p in files)
    for path in files:
        content = path.read_bytes()
        for needle in (SOURCE_IP, agent, "203.0.113.9", LOGIN_PASS, KEY_PASS, token, "canary-note"):
            assert needle.encode() not in content, (path.name, needle)


def test_headers_on_every_kind_of_answer(app, client) -> None:
    answers = {
        "api": client.get("/api/v1/bootstrap"),
        "page": client.get("/setup/unknown"),
        "error": client.get("/nothing-here"),
        "static": client.get("/static/css/base.css"),
    }
    for kind, answer in answers.items():
        csp = answer.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp and "script-src 'self'" in csp, kind
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert answer.headers["Referrer-Policy"] == "no-referrer"
        assert answer.headers["Cross-Origin-Opener-Policy"] == "same-origin"
        assert answer.headers["Cross-Origin-Resource-Policy"] == "same-origin"
        assert answer.headers["Cross-Origin-Embedder-Policy"] == "require-corp", kind
        assert answer.headers["X-Permitted-Cross-Domain-Policies"] == "none", kind
        if kind != "static":
            assert answer.headers["Cache-Control"] == "no-store", kind
    assert answers["static"].headers.get("Cache-Control") != "no-store"
    for answer in answers.values():
        answer.close()


def test_session_cookie_is_strict(app, client) -> None:
    from fieldapp.extensions import db
    from fieldapp.services import setup

    with app.app_context():
        token = setup.issue_setup_token(db.session)
        db.session.commit()
    answer = client.get(f"/setup/{token}")
    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie


def test_no_code_reads_client_address() -> None:
    source = "\n".join(p.read_text() for p in Path(__file__).parent.parent.joinpath("fieldapp").rglob("*.py"))
    for forbidden in ("remote_addr", "X-Forwarded-For", "user_agent", "ProxyFix"):
        assert forbidden not in source, forbidden


def test_a_dropped_connection_still_closes_the_response() -> None:
    """Werkzeug may skip close() when the client goes away mid-answer: the wrapper closes it anyway."""
    from fieldapp.security import closing_on_disconnect

    closed: list[bool] = []

    class Answer:
        def __iter__(self):  # type: ignore[no-untyped-def]
            yield b"one"
            yield b"two"

        def close(self) -> None:
            closed.append(True)

    chunks = closing_on_disconnect(lambda environ, start_response: Answer())({}, None)
    assert next(chunks) == b"one"
    chunks.close()  # what the generator's collection does when the server drops it unfinished
    assert closed == [True]
    assert list(closing_on_disconnect(lambda environ, start_response: Answer())({}, None)) == [b"one", b"two"]
    assert closed == [True, True]


def test_no_proxy_may_spool_an_export_to_disk(app, client, inbox_org) -> None:  # noqa: F811
    """Decrypted rows must never reach a disk: nginx would buffer a large answer to its temporary files."""
    login(client, "sara")
    unlock(client)
    for fmt in ("csv", "htcds", "jsonl"):
        answer = client.get(f"/dashboard/export?format={fmt}")
        answer.get_data()
        answer.close()
        assert answer.status_code == 200 and answer.headers["X-Accel-Buffering"] == "no", fmt


def test_the_request_log_names_no_method_it_does_not_know(app, client, caplog) -> None:
    with caplog.at_level("INFO", logger="fieldapp.requests"):
        client.open("/dashboard/login", method="SECRET-TOKEN-9")
        client.get("/dashboard/login")
    assert "SECRET-TOKEN-9" not in caplog.text
    assert "<method> <unmatched>" in caplog.text and "GET /dashboard/login 200" in caplog.text
