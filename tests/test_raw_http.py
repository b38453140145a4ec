"""Hostile HTTP on a raw socket, against a real `fieldapp serve` (gunicorn, and werkzeug's built-in server).

Input classes covered: chunked bodies with a size that is not hex, negative, empty, over gunicorn's line
limit or followed by a bad extension; chunks missing their CRLF, a body cut off mid-chunk, before its last
chunk or before the end of its trailers, a Content-Length longer than the body; a chunked body over the
4 MiB limit (and one exactly at it); a 100 KB request line, a 100 KB header line, 500 headers; Host headers
with a label over 63 characters, empty, with spaces, with bytes outside ASCII, huge; malformed request lines
carrying a setup token and a query (which must never reach the log); a valid request sent on the same
connection after each kind of error. Every answer is a 4xx (or the server's refusal with a 4xx), none names
the server software, and after a refused body the connection closes instead of reading the rest as a request.
"""

from __future__ import annotations

import re
import secrets
import socket
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest

from fieldapp import create_app

from .conftest import make_config
from .served import Served

pytestmark = pytest.mark.slow

LIMIT = 4 * 1024 * 1024  # MAX_CONTENT_LENGTH: Config.max_request_bytes
HOST = b"Host: fieldapp.test\r\n"
FOLLOW_UP = b"GET /api/v1/bootstrap HTTP/1.1\r\n" + HOST + b"Connection: close\r\n\r\n"


@pytest.fixture(scope="module", params=["gunicorn", "werkzeug"])
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    served = Served(tmp_path_factory.mktemp(f"raw-{request.param}"), server=request.param)
    served.command("db", "upgrade")
    served.start()
    yield served
    served.stop()


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass
class Exchange:
    answers: list[Answer]
    closed: bool  # the server closed (or reset) the connection; False: still open when we stopped waiting
    reset: bool


def converse(served: Served, parts: Iterable[bytes], half_close: bool | None = None, wait: float = 10) -> Exchange:
    """Send `parts` on one connection (from a thread, so a server that answers early is still read), then read
    every answer until the server closes or `wait` seconds pass.

    Unless told, the client keeps its side open on gunicorn, which must close by itself, and closes it on
    werkzeug's server, which after each answer reads what is left on the connection until the client is done.
    """
    if half_close is None:
        half_close = served.server == "werkzeug"
    sock = socket.create_connection(("127.0.0.1", served.port))
    sock.settimeout(wait)

    def send() -> None:
        try:
            for part in parts:
                sock.sendall(part)
            if half_close:
                sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the server closed its side after answering: what follows is not read

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    received, closed, reset = bytearray(), False, False
    try:
        while data := sock.recv(65536):
            received += data
        closed = True
    except TimeoutError:
        pass
    except ConnectionResetError:
        closed = reset = True
    finally:
        sender.join(timeout=wait)
        sock.close()
    return Exchange(parse_answers(bytes(received)), closed, reset)


def parse_answers(raw: bytes) -> list[Answer]:
    answers = []
    while raw:
        head, sep, raw = raw.partition(b"\r\n\r\n")
        assert sep, f"not an HTTP answer: {head[:300]!r}"
        status_line, *lines = head.decode("latin-1").split("\r\n")
        assert re.fullmatch(r"HTTP/1\.[01] \d{3}( .*)?", status_line), status_line
        headers: dict[str, str] = {}
        for line in lines:
            name, _, value = line.partition(":")
            key = name.strip().lower()
            headers[key] = f"{headers[key]}, {value.strip()}" if key in headers else value.strip()
        if "content-length" in headers:
            length = int(headers["content-length"])
            body, raw = raw[:length], raw[length:]
        elif headers.get("transfer-encoding") == "chunked":
            body = bytearray()
            while True:
                size_line, _, raw = raw.partition(b"\r\n")
                size = int(size_line.split(b";")[0], 16)
                body += raw[:size]
                raw = raw[size + 2 :]
                if size == 0:
                    break
            body = bytes(body)
        else:
            body, raw = raw, b""
        answers.append(Answer(int(status_line.split()[1]), headers, body))
    return answers


def chunked_post(body: bytes, path: str = "/api/v1/enroll") -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\n".encode()
        + HOST
        + b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        + body
    )


def assert_problem(answer: Answer, status: int) -> None:
    assert answer.status == status, (answer.status, answer.body[:300])
    assert answer.headers["content-type"] == "application/problem+json", answer.headers
    assert f'"status": {status}'.encode() in answer.body, answer.body


def assert_refused_then_closed(exchange: Exchange, status: int) -> None:
    """One problem answer saying Connection: close, then the end of the connection (no second answer)."""
    assert len(exchange.answers) == 1, [(a.status, a.body[:100]) for a in exchange.answers]
    assert_problem(exchange.answers[0], status)
    assert exchange.answers[0].headers["connection"] == "close"
    assert exchange.closed


BAD_CHUNKED = {
    "size not hex": b"zz\r\n{}\r\n0\r\n\r\n",
    "negative size": b"-2\r\n{}\r\n0\r\n\r\n",
    "empty size": b"\r\n{}\r\n0\r\n\r\n",
    "extension with a control byte": b"2;a=\x01\r\n{}\r\n0\r\n\r\n",
    "chunk without its CRLF": b"2\r\n{}XX0\r\n\r\n",
    "chunk longer than its size": b"2\r\n{}}}\r\n0\r\n\r\n",
}
CUT_CHUNKED = {
    "cut mid-chunk": b"10\r\n{}",
    "cut before the last chunk": b"2\r\n{}\r\n",
    "cut before the end of the trailers": b"2\r\n{}\r\n0\r\n",
}


@pytest.mark.parametrize("body", BAD_CHUNKED.values(), ids=BAD_CHUNKED.keys())
def test_a_malformed_chunked_body_is_a_400_problem_and_the_connection_closes(served: Served, body: bytes) -> None:
    exchange = converse(served, [chunked_post(body), FOLLOW_UP])
    assert_refused_then_closed(exchange, 400)


@pytest.mark.parametrize("body", CUT_CHUNKED.values(), ids=CUT_CHUNKED.keys())
def test_a_chunked_body_cut_off_is_a_400_problem(served: Served, body: bytes) -> None:
    assert_refused_then_closed(converse(served, [chunked_post(body)], half_close=True), 400)


def test_a_chunk_size_line_over_the_server_limit_is_a_400_problem(served: Served) -> None:
    if served.server == "gunicorn":
        assert_refused_then_closed(converse(served, [chunked_post(b"1" * 10_000), FOLLOW_UP]), 400)
    else:  # werkzeug's server reads 100 bytes of a size line and waits for that many: at the client's end, it closes
        exchange = converse(served, [chunked_post(b"1" * 10_000)], half_close=True)
        assert exchange.closed and not exchange.reset and all(a.status < 500 for a in exchange.answers)


def test_a_content_length_longer_than_the_body_is_a_400(served: Served) -> None:
    request = (
        b"POST /api/v1/enroll HTTP/1.1\r\n" + HOST + b"Content-Type: application/json\r\nContent-Length: 50\r\n\r\n{}"
    )
    exchange = converse(served, [request], half_close=True)
    assert [a.status for a in exchange.answers] == [400]
    assert exchange.closed


def test_a_valid_chunked_body_is_read_whole(served: Served) -> None:
    body = b'{"code": "no-such-code"}'
    request = chunked_post(b"%x\r\n%s\r\n4\r\n%s\r\n0\r\n\r\n" % (len(body) - 4, body[:-4], body[-4:]))
    exchange = converse(served, [request, FOLLOW_UP])
    statuses = [a.status for a in exchange.answers]
    assert statuses[0] in (403, 422), exchange.answers[0].body  # the code was read and looked up
    assert statuses[1:] in ([], [401])  # the next request on the connection is answered as itself, if at all


def _chunks(total: int, size: int = 256 * 1024) -> Iterable[bytes]:
    sent = 0
    while sent < total:
        piece = min(size, total - sent)
        yield b"%x\r\n" % piece + b"a" * piece + b"\r\n"
        sent += piece
    yield b"0\r\n\r\n"


def test_a_chunked_body_over_the_limit_is_a_413_and_the_connection_closes(served: Served) -> None:
    exchange = converse(served, [chunked_post(b""), *_chunks(LIMIT + 1024), FOLLOW_UP], wait=30)
    assert not exchange.reset or exchange.answers, "reset before any answer"
    assert_refused_then_closed(exchange, 413)


def test_a_chunked_body_exactly_at_the_limit_is_read(served: Served) -> None:
    exchange = converse(served, [chunked_post(b""), *_chunks(LIMIT)], wait=30)
    assert exchange.answers, exchange
    assert_problem(exchange.answers[0], 400)  # read whole, then refused as what it is: not JSON
    assert b"JSON" in exchange.answers[0].body


# Each with what gunicorn and werkzeug's server answer: the server's own refusal (then a close), or the page.
HUGE = {
    "100 KB request line": (b"GET /?" + b"a" * 100_000 + b" HTTP/1.1\r\n" + HOST + b"\r\n", [414], [414]),
    "100 KB header line": (b"GET / HTTP/1.1\r\n" + HOST + b"X-Big: " + b"a" * 100_000 + b"\r\n\r\n", [431], [431]),
    "500 headers": (
        b"GET / HTTP/1.1\r\n" + HOST + b"".join(b"X-H%d: v\r\n" % i for i in range(500)) + b"\r\n",
        [431],
        [431],
    ),
    "100 headers of 8000 bytes": (
        b"GET / HTTP/1.1\r\n" + HOST + b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 8000) for i in range(99)) + b"\r\n",
        [200, 401],  # within gunicorn's limits (100 fields of 8190 bytes): the page, then the next request
        [431],  # werkzeug's server takes at most 100 headers, Host among them
    ),
}


@pytest.mark.parametrize(("request_bytes", "gunicorn", "werkzeug"), HUGE.values(), ids=HUGE.keys())
def test_huge_request_heads_are_refused_with_a_4xx(
    served: Served, request_bytes: bytes, gunicorn: list[int], werkzeug: list[int]
) -> None:
    exchange = converse(served, [request_bytes, FOLLOW_UP])
    assert [a.status for a in exchange.answers] == {"gunicorn": gunicorn, "werkzeug": werkzeug}[served.server]
    assert exchange.closed


LONG_LABEL = b"a" * 64 + b".example"
HOSTS = {
    "label over 63 characters": LONG_LABEL,
    "empty label": b"a..example",
    "only a dot": b".",
    "empty": b"",
    "spaces": b"a b c",
    "bytes outside ASCII": b"\xe9\xe9.example",
    "huge": b"h" * 20_000,
    "bad port": b"fieldapp.test:99999999",
    "unclosed IPv6": b"[::1",
    "a long name of short labels": b".".join([b"abcdefghi"] * 40),
}


@pytest.mark.parametrize("host", HOSTS.values(), ids=HOSTS.keys())
@pytest.mark.parametrize("path", ["/dashboard/login", "/api/v1/bootstrap", "/setup/abc"])
def test_any_host_header_gets_a_clean_answer(served: Served, host: bytes, path: str) -> None:
    request = f"GET {path} HTTP/1.1\r\n".encode() + b"Host: " + host + b"\r\n\r\n"
    exchange = converse(served, [request, FOLLOW_UP])
    assert exchange.answers, "no answer at all"
    first = exchange.answers[0]
    assert first.status < 500, (first.status, first.body[:300])
    if path.startswith("/api/") and "content-security-policy" in first.headers:  # the app's answer, not a refusal
        assert_problem(first, first.status)
    # The next request on the connection is answered as itself, or the connection is closed.
    assert [a.status for a in exchange.answers[1:]] in ([], [401])


@pytest.mark.parametrize("path", ["/dashboard/login", "/setup/abc"])
def test_a_host_label_over_63_characters_is_a_400_page(served: Served, path: str) -> None:
    request = f"GET {path} HTTP/1.1\r\n".encode() + b"Host: " + LONG_LABEL + b"\r\n\r\n"
    exchange = converse(served, [request, FOLLOW_UP])
    page = exchange.answers[0]
    assert page.status == 400, (page.status, page.body[:300])
    assert page.headers["content-type"].startswith("text/html")
    assert "Solicitud mal formada" in page.body.decode()
    assert b"/static/css/base.css" in page.body  # the page keeps its stylesheet
    assert [a.status for a in exchange.answers[1:]] in ([], [401])


def test_a_host_label_over_63_characters_is_a_400_problem_on_the_api(served: Served) -> None:
    request = b"GET /api/v1/bootstrap HTTP/1.1\r\nHost: " + LONG_LABEL + b"\r\n\r\n"
    exchange = converse(served, [request, FOLLOW_UP])
    assert_problem(exchange.answers[0], 400)
    assert [a.status for a in exchange.answers[1:]] in ([], [401])


def test_a_request_line_the_server_refuses_is_a_400_and_the_connection_closes(served: Served) -> None:
    control_byte = converse(served, [b"GET /setup/abc\x01 HTTP/1.1\r\n" + HOST + b"\r\n", FOLLOW_UP])
    statuses = [a.status for a in control_byte.answers]
    if served.server == "gunicorn":
        assert statuses == [400]  # gunicorn's own refusal, before the app
    else:
        assert len(statuses) == 1 and 400 <= statuses[0] < 500, statuses  # werkzeug's server lets the app answer
    assert control_byte.closed
    bad_version = converse(served, [b"GET / HTTP/1.1 extra\r\n" + HOST + b"\r\n", FOLLOW_UP])
    assert [a.status for a in bad_version.answers] == [400]  # with a status line, not a bare HTTP/0.9 body
    assert bad_version.closed


def test_no_answer_names_the_server_software(served: Served) -> None:
    kinds = {
        "page": [b"GET /dashboard/login HTTP/1.1\r\n" + HOST + b"Connection: close\r\n\r\n"],
        "static": [b"GET /static/css/base.css HTTP/1.1\r\n" + HOST + b"Connection: close\r\n\r\n"],
        "not found": [b"GET /no/such/page HTTP/1.1\r\n" + HOST + b"Connection: close\r\n\r\n"],
        "problem": [b"GET /api/v1/bootstrap HTTP/1.1\r\n" + HOST + b"Connection: close\r\n\r\n"],
        "bad host": [b"GET /dashboard/login HTTP/1.1\r\nHost: " + LONG_LABEL + b"\r\nConnection: close\r\n\r\n"],
        "bad body": [chunked_post(b"zz\r\n")],
        "too large": [chunked_post(b""), *_chunks(LIMIT + 1)],
        "refused line": [b"GET /\x01 HTTP/1.1\r\n\r\n"],
        "refused version": [b"GET / HTTP/1.1 extra\r\n\r\n"],
        "refused head": [b"GET / HTTP/1.1\r\n" + HOST + b"".join(b"X-H%d: v\r\n" % i for i in range(500)) + b"\r\n"],
        "HTTP/0.9": [b"GET /\r\n\r\n"],
        "TLS hello": [b"\x16\x03\x01\x00\x05hello\r\n\r\n"],
    }
    for kind, parts in kinds.items():
        exchange = converse(served, parts, wait=30)
        assert exchange.answers, kind
        for answer in exchange.answers:
            assert "server" not in answer.headers, (kind, answer.headers["server"])


def _log_text(served: Served) -> str:
    return served.log_path.read_text(errors="replace") + served.out_path.read_text(errors="replace")


def test_the_log_names_route_patterns_never_tokens_or_queries(served: Served) -> None:
    token = "tok" + secrets.token_urlsafe(24)
    query = "q" + secrets.token_hex(10)
    target = f"/setup/{token}?next={query}"
    refused_lines = [
        f"GET {target}\x01 HTTP/1.1",  # a control byte in the target
        f"GET {target}\xe9 HTTP/1.1",  # a byte outside ASCII
        f"GET {target} HTTP/1.1 extra",  # a bad version
        f"GET {target} {query} HTTP/1.1",  # a space in the target
        f"GET {target}",  # no version at all
        f"GET /setup/{token} {query}",  # a space, no version
        f"G(T {target} HTTP/1.1",  # a bad method
        f"GET http://fieldapp.test{target}\x01 HTTP/1.1",  # absolute form
        f"GET ?{query}\x01 HTTP/1.1",  # a query alone
        f"GET {target} HTTP/9.9",  # an unknown version
    ]
    for line in refused_lines:  # their answers are checked elsewhere: here, only what the log says of them
        converse(served, [line.encode("latin-1") + b"\r\n" + HOST + b"\r\n"], half_close=True)
    # Accepted requests whose answer is an error the app handles (a Host the router refuses, a bad body).
    for request in (
        f"GET {target} HTTP/1.1\r\nHost: ".encode() + LONG_LABEL + b"\r\nConnection: close\r\n\r\n",
        f"POST {target} HTTP/1.1\r\n".encode()
        + HOST
        + b"Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    ):
        converse(served, [request], half_close=True)
    # What was refused is still told, by its route pattern.
    told = {
        "gunicorn": "Invalid HTTP request line: 'GET /setup/<token> HTTP/1.1'",
        "werkzeug": "Bad request syntax ('GET /setup/<token> HTTP/1.1')",
    }[served.server]
    deadline = time.monotonic() + 5
    while told not in served.log_path.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)  # the workers write their log lines when they get to them
    time.sleep(0.3)
    log = _log_text(served)
    assert token not in log and token[:12] not in log
    assert query not in log and query[:10] not in log
    assert told in log


def test_a_route_pattern_stands_for_each_target(tmp_path: Path) -> None:
    """The scrubbing itself, on the app's route map: request lines and targets become route patterns."""
    from fieldapp.security import scrub_request_targets

    url_map = create_app(make_config(tmp_path)).url_map
    cases = {
        "Invalid request line: 'GET /setup/s3cr3t?x=1 HTTP/1.1'": "Invalid request line: 'GET /setup/<token> HTTP/1.1'",
        "Invalid request line: 'GET /setup/s3 cr3t HTTP/1.1'": "Invalid request line: 'GET /setup/<token> HTTP/1.1'",
        "Error handling request POST /api/v1/enroll?x=s3cr3t": "Error handling request POST /api/v1/enroll",
        "Exception on /dashboard/reports/s3cr3t/notes [POST]": "Exception on /dashboard/reports/<rid>/notes [POST]",
        "GET http://-:5000/dashboard/users/12/disable?s3cr3t": "GET /dashboard/users/<int:user_id>/disable",
        "GET //setup//s3cr3t HTTP/1.1": "GET /setup/<token> HTTP/1.1",
        "GET /no/such/s3cr3t": "GET <path>",
        "GET ?s3cr3t": "GET <path>",
        "POST /api/v1/reports 200": "POST /api/v1/reports 200",
        "GET /static/<path:filename> 304": "GET /static/<path:filename> 304",
        "Invalid HTTP Version: 's3cr3t HTTP/1.1'": "Invalid HTTP Version: '...'",
        "code 400, message Bad request version ('s3cr3t')": "code 400, message Bad request version ('...')",
        "Invalid HTTP request line: '/setup/s3cr3t\\x01'": "Invalid HTTP request line: '/setup/<token>'",
        "No more data: b'POST /api/v1/enroll?s3cr3t HTTP/1.1'": "No more data: b'POST /api/v1/enroll HTTP/1.1'",
        'Bad request syntax ("GET /setup/it\'s3cr3t HTTP/1.1")': 'Bad request syntax ("GET /setup/<token> HTTP/1.1")',
        "Listening at: http://-:5000 (1234)": "Listening at: http://-:5000 (1234)",
        'File "/work/fieldapp/wsgi.py", line 3, in read': 'File "/work/fieldapp/wsgi.py", line 3, in read',
        "can't read HTTP/1.1 bodies": "can't read HTTP/1.1 bodies",
    }
    for message, scrubbed in cases.items():
        assert scrub_request_targets(message, url_map) == scrubbed, message
