"""A real `fieldapp serve` in its own process group, and the HTTP clients that use it: a phone and a person.

Used by the lifecycle tests and by the benchmarks, so that both operate the product as shipped: the same
command, gunicorn's worker processes, SIGTERM and SIGKILL reaching the master and its workers together.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

from fieldapp import crypto

FORM = {"form": "trafficking-report", "form_version": 1}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


class Served:
    """One instance folder and database, served by `fieldapp serve` as often as it is started."""

    def __init__(self, workdir: Path, database_url: str | None = None, server: str = "gunicorn") -> None:
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.server = server
        self.env = {**os.environ, "FIELDAPP_INSTANCE": str(workdir / "instance"), "PYTHONUNBUFFERED": "1"}
        self.env.setdefault("FIELDAPP_SCRYPT_N", "1024")
        self.env.pop("FIELDAPP_ENV", None)
        if database_url:
            self.env["FIELDAPP_DATABASE_URL"] = database_url
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def command(self, *args: str) -> str:
        """Run a `fieldapp` command on the same instance (beside the server, as an operator would)."""
        done = subprocess.run(
            [sys.executable, "-m", "fieldapp", *args], env=self.env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout

    @property
    def out_path(self) -> Path:
        return self.workdir / f"serve-{self.starts}.out"

    @property
    def log_path(self) -> Path:
        return self.workdir / f"serve-{self.starts}.log"

    def start(self) -> None:
        assert self.process is None
        self.starts += 1
        with open(self.out_path, "wb") as out, open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "fieldapp", "serve", "--port", str(self.port), "--server", self.server],
                env=self.env,
                stdout=out,
                stderr=log,
                start_new_session=True,  # its own process group: a signal reaches the master and its workers
            )
        deadline = time.monotonic() + 60
        while not _listening(self.port):
            assert self.process.poll() is None, self.log_path.read_text()[-3000:]
            assert time.monotonic() < deadline, self.log_path.read_text()[-3000:]
            time.sleep(0.05)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        assert self.process is not None
        try:
            os.killpg(self.process.pid, sig)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=60)
        self.process = None
        deadline = time.monotonic() + 30
        while _listening(self.port):  # gunicorn's workers leave with the master; make sure of it
            assert time.monotonic() < deadline, "the server's port is still open"
            time.sleep(0.05)

    def setup_link(self) -> str:
        found = re.search(r"/setup/[A-Za-z0-9_-]+", self.out_path.read_text())
        assert found, self.out_path.read_text()
        return found.group(0)

    def connection(self, timeout: float = 60) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)


class Person:
    """A supervisor's browser without the browser: one session cookie, forms with their CSRF token."""

    def __init__(self, served: Served) -> None:
        self.served = served
        self.cookie = ""

    def request(self, method: str, path: str, form: dict[str, str] | None = None) -> tuple[int, bytes]:
        conn = self.served.connection()
        try:
            headers = {"Cookie": self.cookie} if self.cookie else {}
            body = None
            if form is not None:
                body = urlencode(form).encode()
                headers["Content-Type"] = "application/x-www-form-urlencoded"
            conn.request(method, path, body, headers)
            answer = conn.getresponse()
            data = answer.read()
            self._keep_cookie(answer)
            return answer.status, data
        finally:
            conn.close()

    def _keep_cookie(self, answer: http.client.HTTPResponse) -> None:
        if answer.getheader("Set-Cookie"):
            self.cookie = answer.getheader("Set-Cookie", "").split(";", 1)[0]

    def submit(self, page: str, form: dict[str, str], action: str | None = None) -> tuple[int, bytes]:
        """GET a page for its CSRF token, then POST the form to it (or to `action`)."""
        status, body = self.request("GET", page)
        assert status == 200, (status, body[:300])
        token = re.search(rb'name="csrf_token" value="([^"]+)"', body)
        assert token, body[:300]
        return self.request("POST", action or page, {"csrf_token": token.group(1).decode(), **form})

    def set_up(self, link: str, username: str, passphrase: str, key_passphrase: str) -> None:
        form = {
            "username": username,
            "passphrase": passphrase,
            "passphrase_again": passphrase,
            "key_passphrase": key_passphrase,
            "key_passphrase_again": key_passphrase,
        }
        status, body = self.submit(link, form)
        assert status == 200, body[:500]

    def log_in(self, username: str, passphrase: str) -> None:
        status, body = self.submit("/dashboard/login", {"username": username, "passphrase": passphrase})
        assert status == 302, (status, body[:300])

    def unlock(self, key_passphrase: str) -> None:
        status, body = self.submit("/dashboard/unlock", {"key_passphrase": key_passphrase})
        assert status == 302, (status, body[:300])

    def stream(self, path: str, timeout: float = 300) -> Iterator[bytes]:
        """A long answer, chunk by chunk, as slowly as the caller reads it."""
        conn = self.served.connection(timeout)
        try:
            conn.request("GET", path, headers={"Cookie": self.cookie})
            answer = conn.getresponse()
            assert answer.status == 200, answer.status
            while chunk := answer.read1(16384):
                yield chunk
        finally:
            conn.close()


class Phone:
    """An enrolled phone: seals reports to the organisation key and sends them in batches."""

    def __init__(self, served: Served, code: str) -> None:
        self.served = served
        status, body = self.call("POST", "/api/v1/enroll", {"code": code})
        assert status == 201, (status, body[:300])
        self.token = json.loads(body)["device_token"]
        status, body = self.call("GET", "/api/v1/bootstrap")
        assert status == 200, (status, body[:300])
        current = next(k for k in json.loads(body)["keys"] if k["current"])
        self.pub = crypto.b64u_decode(current["pub"])

    def call(self, method: str, path: str, body: object = None, timeout: float = 60) -> tuple[int, bytes]:
        conn = self.served.connection(timeout)
        try:
            headers = {"Content-Type": "application/json"}
            if getattr(self, "token", None):
                headers["Authorization"] = f"Bearer {self.token}"
            conn.request(method, path, None if body is None else json.dumps(body).encode(), headers)
            answer = conn.getresponse()
            return answer.status, answer.read()
        finally:
            conn.close()

    def seal(self, count: int, note: str = "") -> list[dict]:
        return [
            crypto.seal_document({**FORM, "answers": {"people_count": i % 25 + 1, "notes": note}}, self.pub)
            for i in range(count)
        ]

    def send(self, envelopes: list[dict]) -> tuple[int, dict[str, str], float]:
        """(HTTP status, rid -> status, seconds) for one batch."""
        started = time.perf_counter()
        status, body = self.call("POST", "/api/v1/reports", {"reports": envelopes})
        elapsed = time.perf_counter() - started
        if status != 200:
            return status, {}, elapsed
        return status, {r["rid"]: r["status"] for r in json.loads(body)["results"]}, elapsed
