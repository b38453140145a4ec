"""Property-based: malformed, oversized, truncated and hostile input at every endpoint never gets a 5xx
and never stores anything half-written, and a hostile sealed report never breaks a page or an export.

Input classes covered here (on SQLite and PostgreSQL): any bytes and any JSON as a body; envelopes mutated
field by field; identifiers with a trailing newline; hostile text (lone surrogates, NUL and other controls,
CR/LF, bidi controls, `%` and format sequences, markup, template syntax, spreadsheet formulas, very long
strings) in JSON bodies, form fields, query strings, paths, the CSRF token and the login's `next`; huge and
negative integers in every `<int:…>` route; any path and method; any language asked for; hostile sealed
documents (any JSON, wrong types at every level, codes the form does not offer) pushed through the report
page, the list, the statistics page and every export format. Raw HTTP (chunked bodies, huge headers, a long
Host, keep-alive after an error, the error log) is in test_raw_http.py; a copied session cookie replayed
after logout is in test_dashboard_access.py.
"""

from __future__ import annotations

import csv
import gzip
import html
import io
import json
import re
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fieldapp.inputs import has_lone_surrogate

from .conftest import KEY_PASSPHRASE, Org, table_counts
from .test_dashboard_reports import inbox_org, login, unlock  # noqa: F401  (fixture and helpers)
from .test_exports import seal_bytes

SETTINGS = settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=25,
)
FIELDS = ["v", "rid", "kid", "epk", "iv", "ct", "att"]


def assert_clean_4xx(answer) -> None:
    assert answer.status_code < 500, answer.get_data(as_text=True)[:300]
    if answer.status_code >= 400 and answer.mimetype != "text/html":
        assert answer.mimetype == "application/problem+json"
        assert answer.json["status"] == answer.status_code


@SETTINGS
@given(body=st.binary(max_size=300) | json_values.map(lambda v: json.dumps(v).encode()))
def test_enroll_never_fails_hard(org: Org, client, app, body: bytes) -> None:
    before = table_counts(app)
    answer = client.post("/api/v1/enroll", data=body, content_type="application/json")
    assert_clean_4xx(answer)
    assert answer.status_code in (400, 403, 422)
    assert table_counts(app) == before


@SETTINGS
@given(
    header=st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=255), max_size=300),
    path=st.sampled_from(["/api/v1/bootstrap", "/api/v1/reports"]),
)
def test_bad_tokens_are_401(org: Org, client, header: str, path: str) -> None:
    if header.strip() == f"Bearer {org.token}":
        return
    answer = client.open(
        path,
        method="GET" if path.endswith("bootstrap") else "POST",
        headers={"Authorization": header},
        json={"reports": []},
    )
    assert_clean_4xx(answer)
    assert answer.status_code == 401


@SETTINGS
@given(body=st.binary(max_size=500) | json_values.map(lambda v: json.dumps(v).encode()))
def test_reports_with_any_body(org: Org, client, app, body: bytes) -> None:
    before = table_counts(app)
    answer = client.post("/api/v1/reports", data=body, content_type="application/json", headers=org.headers)
    assert_clean_4xx(answer)
    if answer.status_code == 200:
        assert all(r["status"] == "rejected" for r in answer.json["results"])
    after = table_counts(app)
    assert after["reports"] == before["reports"]


@SETTINGS
@given(
    data=st.data(),
    field=st.sampled_from(FIELDS),
    how=st.sampled_from(["random", "truncate", "drop", "extend"]),
)
def test_mutated_envelopes_store_exactly_what_is_valid(org: Org, client, app, data, field: str, how: str) -> None:
    good = org.envelope()
    bad = dict(org.envelope())
    if how == "random":
        bad[field] = data.draw(json_values)
    elif how == "truncate" and isinstance(bad.get(field), str):
        bad[field] = bad[field][: data.draw(st.integers(0, max(0, len(bad[field]) - 1)))]
    elif how == "drop":
        bad.pop(field, None)
    elif how == "extend" and isinstance(bad.get(field), str):
        bad[field] = bad[field] + data.draw(st.text(min_size=1, max_size=8))
    before = table_counts(app)["reports"]
    answer = client.post("/api/v1/reports", json={"reports": [bad, good]}, headers=org.headers)
    assert answer.status_code == 200, answer.get_data(as_text=True)[:300]
    results = answer.json["results"]
    assert len(results) == 2 and results[1] == {"rid": good["rid"], "status": "stored"}
    stored = sum(r["status"] == "stored" for r in results)
    assert table_counts(app)["reports"] == before + stored
    if results[0]["status"] == "rejected":
        assert results[0]["error"]


@SETTINGS
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]),
    path=st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126, exclude_characters="?#[]"), max_size=60),
    body=st.binary(max_size=200),
)
def test_any_path_any_method(org: Org, client, app, method: str, path: str, body: bytes) -> None:
    path = path.lstrip("/")  # "//x" would be read as a host name by the test client itself
    before = table_counts(app)
    for prefix in ("/api/v1/", "/", "/setup/", "/i18n/", "/dashboard/translations/", "/dashboard/login?lang="):
        answer = client.open(prefix + path, method=method, data=body, headers=org.headers)
        assert answer.status_code < 500, (prefix + path, answer.status_code)
    after = table_counts(app)
    assert after["reports"] == before["reports"] and after["users"] == before["users"]


@SETTINGS
@given(
    accept=st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=80),
    lang=st.text(max_size=20),
)
def test_any_language_asked_for_is_a_clean_answer(org: Org, client, accept: str, lang: str) -> None:
    for path in ("/dashboard/login", "/api/v1/enroll", "/", "/manifest.webmanifest"):
        method = "POST" if path.startswith("/api/") else "GET"
        answer = client.open(path, method=method, query_string={"lang": lang}, headers={"Accept-Language": accept})
        assert_clean_4xx(answer)


# Pieces that broke something once, or break something somewhere: each kind named in the docstring.
HOSTILE_PIECES = [
    "\ud800",
    "\udfff",
    "\x00",
    "\x07",
    "\r\n",
    "\n",
    "\u202e",
    "\u2066",
    "\ufeff",
    "%",
    "100% seguro",
    "%(x)s",
    "%s%d",
    "{x}",
    "{{ 7*7 }}",
    "<script>alert(1)</script>",
    '<b id="x">',
    "=1+1",
    "@SUM(A1)",
    "\\",
    '"',
    "a" * 5000,
]
MARKUP = ("<script>alert(1)</script>", '<b id="x">')
hostile_text = st.one_of(
    st.text(max_size=30),
    st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=30),  # surrogates included
    st.lists(st.sampled_from(HOSTILE_PIECES) | st.text(max_size=5), min_size=1, max_size=4).map("".join),
)
hostile_ints = st.integers() | st.sampled_from([-1, 0, 2**31, 2**63, 2**64, -(2**63) - 1, 10**30])


def json_text(value: object) -> bytes:
    """JSON text of any value, lone surrogates written as \\u escapes (which a JSON reader accepts)."""
    return json.dumps(value, ensure_ascii=True).encode()


@SETTINGS
@given(code=hostile_text, enrollment_id=hostile_text | st.none() | hostile_ints)
def test_enrolment_with_hostile_text(org: Org, client, app, code: str, enrollment_id) -> None:
    before = table_counts(app)
    body = {"code": code} if enrollment_id is None else {"code": code, "enrollment_id": enrollment_id}
    answer = client.post("/api/v1/enroll", data=json_text(body), content_type="application/json")
    assert_clean_4xx(answer)
    assert answer.status_code in (400, 403, 422)
    assert table_counts(app) == before


def test_a_lone_surrogate_at_enrolment_is_a_400(org: Org, client) -> None:
    answer = client.post("/api/v1/enroll", data=b'{"code": "\\ud800"}', content_type="application/json")
    assert answer.status_code == 400 and answer.mimetype == "application/problem+json"


@pytest.mark.parametrize("tail", ["\n", "\r", " ", "\u2028", "0"])
def test_a_rid_with_anything_after_it_is_rejected_and_the_inbox_still_opens(org: Org, client, tail) -> None:
    bad = org.envelope()
    bad["rid"] += tail
    good = org.envelope()
    answer = client.post("/api/v1/reports", json={"reports": [bad, good]}, headers=org.headers)
    assert [r["status"] for r in answer.json["results"]] == ["rejected", "stored"]


@SETTINGS
@given(data=st.data())
def test_every_stored_envelope_is_its_canonical_json(org: Org, client, app, data) -> None:
    envelope = org.envelope()
    if data.draw(st.booleans()):
        envelope["att"] = [{"aid": str(uuid.uuid4()), "chunks": data.draw(st.integers(1, 4096))}]
    for name in data.draw(st.lists(st.sampled_from(["rid", "kid", "epk", "iv", "ct"]), max_size=2)):
        envelope[name] = envelope[name] + data.draw(hostile_text)
    answer = client.post(
        "/api/v1/reports", data=json_text({"reports": [envelope]}), headers=org.headers, content_type="application/json"
    )
    if has_lone_surrogate(json.loads(json_text(envelope))):  # a pair written apart reads back as one character
        assert answer.status_code == 400  # the JSON reader refuses the whole body
        return
    assert answer.status_code == 200
    if answer.json["results"][0]["status"] == "stored":
        from fieldapp.extensions import db
        from fieldapp.models import Report

        with app.app_context():
            stored = db.session.query(Report).filter_by(rid=envelope["rid"]).one()
            assert json.loads(stored.envelope) == envelope  # valid JSON, exactly what came
            assert stored.envelope == json.dumps(envelope, separators=(",", ":"))


INT_RULES = [
    "/dashboard/teams/{n}/code",
    "/dashboard/devices/{n}/revoke",
    "/dashboard/users/{n}/disable",
    "/dashboard/users/{n}/unlock",
]


@SETTINGS
@given(number=hostile_ints, rule=st.sampled_from(INT_RULES))
def test_any_integer_in_a_route(org: Org, client, app, number: int, rule: str) -> None:
    admin_session(client)
    before = table_counts(app)
    answer = client.post(rule.format(n=number), data={"csrf_token": csrf_of(client)})
    assert answer.status_code < 500, (rule, number)
    if number > 2**31 - 1 or number < 0:
        assert answer.status_code == 404
    assert table_counts(app)["devices"] == before["devices"] and table_counts(app)["users"] == before["users"]


def test_thousands_of_digits_in_a_route_are_a_404(org: Org, client) -> None:
    admin_session(client)
    answer = client.post("/dashboard/users/" + "9" * 5000 + "/disable", data={"csrf_token": csrf_of(client)})
    assert answer.status_code == 404


def csrf_of(client, path: str = "/dashboard/") -> str:  # type: ignore[no-untyped-def]
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True)).group(1)


def forget_unlock_failures(app) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import update

    from fieldapp.extensions import db
    from fieldapp.models import User

    with app.app_context():
        db.session.execute(update(User).values(failed_unlocks=0, unlock_locked_until=None))
        db.session.commit()


def admin_session(client) -> None:  # type: ignore[no-untyped-def]
    if client.get("/dashboard/").status_code != 200:
        login(client, "ana")


@SETTINGS
@given(token=hostile_text)
def test_any_csrf_token_is_a_clean_refusal(org: Org, client, app, token: str) -> None:
    admin_session(client)
    csrf_of(client)  # the session now holds a token to compare with
    before = table_counts(app)
    sent = token.encode("utf-8", "surrogatepass")  # the bytes a client could send
    answer = client.post("/dashboard/teams", data={"name": "Puno 9", "csrf_token": sent})
    assert answer.status_code in (400, 302)
    if answer.status_code == 400:
        assert table_counts(app) == before


def test_a_non_ascii_csrf_token_is_a_400(org: Org, client) -> None:
    admin_session(client)
    csrf_of(client)  # the session now holds a token to compare with
    assert client.post("/dashboard/teams", data={"name": "Puno 9", "csrf_token": "ñ" * 43}).status_code == 400


# Every form people post, with the fields it reads: each field gets hostile text.
FORMS = {
    "/dashboard/login": ["username", "passphrase"],
    "/dashboard/teams": ["name"],
    "/dashboard/teams/1/code": ["uses", "hours"],
    "/dashboard/users": ["username", "role", "passphrase"],
    "/dashboard/unlock": ["key_passphrase"],
    "/dashboard/keys/rotate": ["key_passphrase", "key_passphrase_again", "current_key_passphrase"],
    "/dashboard/translations/qu": ["msgid", "context", "translation", "fuzzy", "show", "q", "page"],
    "/dashboard/reports/{rid}/notes": ["note"],
    "/dashboard/reports/{rid}/status": ["status", "referred_to"],
}


@SETTINGS
@given(data=st.data(), path=st.sampled_from(sorted(FORMS)))
def test_every_form_with_hostile_text(org: Org, client, app, data, path: str) -> None:
    admin_session(client)
    rid = org.envelope()["rid"]
    if "{rid}" in path:  # a report that exists, so that what is posted about it is stored and shown
        client.post("/api/v1/reports", json={"reports": [org.envelope(rid=rid)]}, headers=org.headers)
    fields = {name: data.draw(hostile_text | hostile_ints.map(str)) for name in FORMS[path]}
    encoded = {k: v.encode("utf-8", "surrogatepass") for k, v in fields.items()}  # the bytes a client could send
    before = table_counts(app)
    answer = client.post(
        path.format(rid=rid),
        query_string={"next": data.draw(hostile_text).encode("utf-8", "surrogatepass")},
        data={**encoded, "csrf_token": csrf_of(client)},
    )
    assert answer.status_code < 500, (path, fields, answer.get_data(as_text=True)[:300])
    if answer.status_code in (301, 302, 303):
        location = answer.headers["Location"]
        assert "\r" not in location and "\n" not in location and not location.startswith("//")
    page = answer.get_data(as_text=True)
    for markup in MARKUP:
        assert markup not in page
    after = table_counts(app)
    assert after["reports"] == before["reports"] and after["org_keys"] == before["org_keys"]
    if "{rid}" in path:
        if client.get(f"/dashboard/reports/{rid}").status_code != 200:
            forget_unlock_failures(app)  # the hostile unlock attempts before may have locked unlocking for a while
            client.post("/dashboard/unlock", data={"key_passphrase": KEY_PASSPHRASE, "csrf_token": csrf_of(client)})
        shown = client.get(f"/dashboard/reports/{rid}")
        assert shown.status_code == 200 and all(m not in shown.get_data(as_text=True) for m in MARKUP)


@SETTINGS
@given(
    value=hostile_text,
    name=st.sampled_from(
        ["department", "status", "team", "since", "until", "page", "lang", "urgent", "exploitation_type", "format"]
    ),
)
def test_every_page_with_a_hostile_query(org: Org, client, value: str, name: str) -> None:
    admin_session(client)
    raw = value.encode("utf-8", "surrogatepass")
    for path in ("/dashboard/reports", "/dashboard/stats", "/dashboard/export", "/dashboard/audit", "/"):
        answer = client.get(path, query_string={name: raw})
        assert answer.status_code < 500, (path, name, value)
        body = b"".join(answer.response) if answer.is_streamed else answer.get_data()
        for markup in MARKUP:
            assert markup.encode() not in body


@pytest.mark.parametrize("field", ["name"])
def test_nul_in_a_form_is_a_400_and_stores_nothing(org: Org, client, app, field: str) -> None:
    admin_session(client)
    before = table_counts(app)
    answer = client.post("/dashboard/teams", data={field: "Puno\x00 2", "csrf_token": csrf_of(client)})
    assert answer.status_code == 400
    assert table_counts(app) == before


def test_a_path_with_control_characters_is_refused(org: Org, client) -> None:
    admin_session(client)
    for path in ("/dashboard/reports/%00", "/dashboard/translations/q%00u", "/setup/%07x"):
        assert client.get(path).status_code in (400, 404), path


# Hostile sealed documents: any JSON, and documents of the form with one value replaced at any level.
def near_documents() -> st.SearchStrategy[object]:
    answers = st.dictionaries(
        st.sampled_from(
            [
                "department",
                "province",
                "sex",
                "people_count",
                "notes",
                "urgent",
                "minors",
                "encounter_date",
                "exploitation_type",
                "place_kind",
            ]
        )
        | hostile_text,
        json_values | hostile_text | hostile_ints | st.lists(hostile_text, max_size=3),
        max_size=5,
    )
    return st.fixed_dictionaries(
        {
            "form": st.just("trafficking-report") | hostile_text,
            "form_version": st.sampled_from([1, 2]) | hostile_ints,
            "answers": answers | json_values,
        },
        optional={"locale": hostile_text | json_values, "created_at": hostile_text, "attachments": json_values},
    )


hostile_documents = near_documents() | json_values | hostile_text.map(lambda t: {"answers": {"notes": t}})


def read_stream(answer) -> str:  # type: ignore[no-untyped-def]
    """The whole body of a (streamed) answer: a stream broken midway raises here."""
    return b"".join(answer.response).decode("utf-8") if answer.is_streamed else answer.get_data(as_text=True)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(document=hostile_documents)
def test_a_hostile_sealed_document_never_breaks_a_page_or_an_export(org: Org, client, inbox_org, document) -> None:  # noqa: F811
    envelope = seal_bytes(gzip.compress(json_text(document)), org.pub, str(uuid.uuid4()))
    answer = client.post("/api/v1/reports", json={"reports": [envelope]}, headers=org.headers)
    assert answer.json["results"][0]["status"] == "stored"
    if client.get("/dashboard/stats").get_data(as_text=True).count("Desbloquear") or not client.get_cookie(
        "fieldapp_session"
    ):
        login(client, "sara")
        assert unlock(client).status_code == 302
    pages = {
        "report": client.get(f"/dashboard/reports/{envelope['rid']}"),
        "list": client.get("/dashboard/reports?department=17"),
        "stats": client.get("/dashboard/stats"),
    }
    for name, page in pages.items():
        assert page.status_code == 200, (name, page.get_data(as_text=True)[:300])
        text = page.get_data(as_text=True)
        for markup in MARKUP:
            assert markup not in text, name
    shown = html.unescape(pages["report"].get_data(as_text=True))
    readable = '<dl class="answers">' in shown
    assert readable != ('<div class="errors" role="alert">' in shown)  # read as a report, or named unreadable
    for fmt in ("csv", "htcds", "jsonl"):
        exported = client.get(f"/dashboard/export?format={fmt}")
        assert exported.status_code == 200, fmt
        body = read_stream(exported)
        if fmt == "jsonl":
            rows = [json.loads(line) for line in body.splitlines()]
            rid_key = "rid"
        else:
            rows = list(csv.DictReader(io.StringIO(body.lstrip("\ufeff"), newline="")))
            rid_key = "rid" if fmt == "csv" else "cas_Identifier"
        assert envelope["rid"] in {row[rid_key] for row in rows}, fmt  # the stream reached the end
        assert len(rows) == len({row[rid_key] for row in rows}) >= 4
