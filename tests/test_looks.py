"""Looks: the ordinary app a phone appears to be (name, colours, icons), chosen on its enrolment code."""

from __future__ import annotations

import hashlib
import html
import json
import re
import struct
import zlib
from pathlib import Path

import pytest
from sqlalchemy import func, select

from fieldapp import PROJECT_ROOT
from fieldapp.config import Config
from fieldapp.errors import Invalid
from fieldapp.extensions import db
from fieldapp.looks import LOOKS
from fieldapp.models import AuditEvent, EnrollmentCode
from fieldapp.services import enrollment, teams

from .conftest import Org, make_config, running_app
from .test_api import assert_problem
from .test_dashboard_access import accounts, csrf, login  # noqa: F401  (fixture and helpers)

NAMES = {"notas": "Notas", "clima": "Clima", "calculadora": "Calculadora"}
# Words that would tell a checkpoint what the app is for, in the languages its pages may be read in.
TELLING_WORDS = ("fieldapp", "informe", "trata", "explotación", "víctima", "reporte")
TELLING_WORDS_EN = ("report", "traffick", "exploit", "victim", "forced")


def read_png(data: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and unfiltered rows of an 8-bit palette PNG, every chunk's CRC checked."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    position, chunks = 8, {}
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind, body = data[position + 4 : position + 8], data[position + 8 : position + 8 + length]
        (crc,) = struct.unpack(">I", data[position + 8 + length : position + 12 + length])
        assert zlib.crc32(kind + body) == crc, kind
        chunks[kind] = chunks.get(kind, b"") + body
        position += 12 + length
    width, height, depth, colour_type = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert (depth, colour_type) == (8, 3) and b"PLTE" in chunks and b"IEND" in chunks
    raw = zlib.decompress(chunks[b"IDAT"])
    assert len(raw) == height * (width + 1)
    rows = [raw[y * (width + 1) : (y + 1) * (width + 1)] for y in range(height)]
    assert {row[0] for row in rows} == {0}  # unfiltered, as scripts/draw_icons.py writes them
    return width, height, [row[1:] for row in rows]


def shell_data(page: str, name: str) -> str:
    return html.unescape(re.search(rf"{name}='([^']*)'", page).group(1))


@pytest.fixture
def clima_app(tmp_path: Path):  # type: ignore[no-untyped-def]
    """An app whose configured look is Clima."""
    yield from running_app(make_config(tmp_path, default_look="clima"))


@pytest.fixture
def own_look_app(tmp_path: Path):  # type: ignore[no-untyped-def]
    """An app with the organisation's own look ("Agenda Coop", its own picture) as the default."""
    icon = tmp_path / "agenda.png"
    icon.write_bytes((PROJECT_ROOT / "static" / "icons" / "clima-512.png").read_bytes())  # any square PNG
    environ = {"FIELDAPP_INSTANCE": str(tmp_path / "i"), "FIELDAPP_OWN_LOOK": "Agenda Coop"}
    own = Config.from_env({**environ, "FIELDAPP_OWN_LOOK_COLOR": "#2a9d8f", "FIELDAPP_OWN_LOOK_ICON": str(icon)})
    yield from running_app(make_config(tmp_path, default_look="propia", own_look=own.own_look))


# ---------------------------------------------------------------- manifests, icons and the shell


@pytest.mark.parametrize("look_id", list(LOOKS))
def test_each_look_has_its_manifest_and_icons(client, look_id: str) -> None:
    answer = client.get(f"/looks/{look_id}.webmanifest")
    assert answer.status_code == 200 and answer.mimetype == "application/manifest+json"
    manifest = json.loads(answer.get_data(as_text=True))
    look = LOOKS[look_id]
    assert manifest["name"] == manifest["short_name"] == NAMES[look_id]
    assert (manifest["theme_color"], manifest["background_color"]) == (look.theme_color, look.background_color)
    assert (manifest["start_url"], manifest["scope"], manifest["display"]) == ("/", "/", "standalone")
    assert [(i["src"], i["sizes"]) for i in manifest["icons"]] == [
        (f"/static/icons/{look_id}-192.png", "192x192"),
        (f"/static/icons/{look_id}-512.png", "512x512"),
    ]
    for icon in manifest["icons"]:
        assert icon["type"] == "image/png" and icon["purpose"] == "any maskable"
        with client.get(icon["src"]) as served:
            assert served.status_code == 200 and served.mimetype == "image/png"
            data = served.get_data()
        assert data == (PROJECT_ROOT / icon["src"].lstrip("/")).read_bytes()
        width, height, rows = read_png(data)
        assert f"{width}x{height}" == icon["sizes"] and width == height
        assert len(data) <= 4096  # a few KB: the phone's whole first install stays under 200 KB
        # Maskable: outside the central circle of 80 %, only the background a launcher's mask may cut.
        background, centre = rows[0][0], (width - 1) / 2
        outside = {
            row[x]
            for y, row in enumerate(rows)
            for x in range(width)
            if (x - centre) ** 2 + (y - centre) ** 2 > (0.4 * width) ** 2
        }
        assert outside == {background}
        assert len({value for row in rows for value in row}) > 3  # and a picture inside it


def test_the_icons_are_the_looks_and_nothing_else(client) -> None:
    """The old neutral icons are gone, and every icon file belongs to a look."""
    icons = PROJECT_ROOT / "static" / "icons"
    assert sorted(p.name for p in icons.glob("*.png")) == sorted(f"{i}-{s}.png" for i in LOOKS for s in (192, 512))
    assert "licen" in (icons / "README.md").read_text("utf-8").lower()
    for gone in ("icon-192.png", "maskable-512.png"):
        with client.get(f"/static/icons/{gone}") as answer:
            assert answer.status_code == 404
    source = client.get("/sw.js").get_data(as_text=True)
    precached = json.loads(re.search(r"const PRECACHE = (\[.*?\]);", source).group(1))
    assert {f"/looks/{i}.webmanifest" for i in LOOKS} | {"/", "/manifest.webmanifest"} <= set(precached)
    assert {f"/static/icons/{i}-{s}.png" for i in LOOKS for s in (192, 512)} <= set(precached)
    assert "/static/icons/README.md" not in precached  # for people, not for the phone


def test_the_screens_that_tell_the_apps_purpose_are_kept_sealed_not_cached(client) -> None:
    """The worker names them with their digests and caches them nowhere; every file it caches is wordless."""
    source = client.get("/sw.js").get_data(as_text=True)
    precached = json.loads(re.search(r"const PRECACHE = (\[.*?\]);", source).group(1))
    sealed = json.loads(re.search(r"const SEALED_SCREENS = (\{.*?\});", source).group(1))
    assert sorted(sealed) == ["/static/js/ui/attachments.js", "/static/js/ui/home.js", "/static/js/ui/report.js"]
    for url, digest in sealed.items():
        with client.get(url) as answer:
            assert url not in precached and hashlib.sha256(answer.data).hexdigest() == digest
            assert answer.headers["Cache-Control"] == "no-store"  # nor in the browser's own cache
            assert "informe" in answer.get_data(as_text=True).lower()  # the words they are sealed for
    with client.get("/static/js/app.js") as answer:
        assert answer.headers["Cache-Control"] != "no-store"
    for url in (u for u in precached if u.startswith("/static/js/")):
        with client.get(url) as answer:
            words = answer.get_data(as_text=True).lower()
            assert not [w for w in ("informe", "trata", "explotación", "víctima", "denuncia") if w in words], url


def test_an_unknown_look_has_no_manifest(client) -> None:
    for look_id in ("tetris", "NOTAS", "notas.json", ""):
        answer = client.get(f"/looks/{look_id}.webmanifest")
        assert answer.status_code == 404
    assert_problem(client.get("/looks/tetris.webmanifest"), 404)


def test_the_shell_wears_the_default_look_and_lists_them_all(client) -> None:
    page = client.get("/").get_data(as_text=True)
    assert "<title>Notas</title>" in page and '<meta name="theme-color" content="#f2c14e">' in page
    assert '<link rel="icon" href="/static/icons/notas-192.png">' in page
    assert '<link rel="manifest" href="/manifest.webmanifest">' in page and 'data-look="notas"' in page
    assert json.loads(shell_data(page, "data-looks")) == {
        look_id: {
            "name": NAMES[look_id],
            "theme_color": look.theme_color,
            "background_color": look.background_color,
            "manifest": f"/looks/{look_id}.webmanifest",
            "icon": f"/static/icons/{look_id}-192.png",
            "calculator": look_id == "calculadora",
        }
        for look_id, look in LOOKS.items()
    }
    assert json.loads(shell_data(page, "data-languages"))[0]["code"] == "es"
    assert "Active JavaScript para usar esta aplicación." in page


def test_the_configured_look_is_the_default_manifest_and_shell(clima_app) -> None:
    client = clima_app.test_client()
    manifest = client.get("/manifest.webmanifest").json
    assert manifest["name"] == "Clima" and manifest["icons"][0]["src"] == "/static/icons/clima-192.png"
    page = client.get("/").get_data(as_text=True)
    assert "<title>Clima</title>" in page and 'data-look="clima"' in page
    assert f'content="{LOOKS["clima"].theme_color}"' in page


def test_the_worker_version_follows_the_configured_look(app, clima_app) -> None:
    """The shell and the default manifest change with FIELDAPP_LOOK: so must the cache they are kept in."""

    def version(application) -> str:  # type: ignore[no-untyped-def]
        source = application.test_client().get("/sw.js").get_data(as_text=True)
        return re.search(r'const VERSION = "(\w+)";', source).group(1)

    assert version(app) != version(clima_app)


@pytest.mark.parametrize("lang", ["es", "en", "qu"])
def test_nothing_the_phone_shows_before_its_pin_names_the_app_or_its_purpose(client, lang: str) -> None:
    """The shell page and every manifest: what a home screen, a task switcher or a browser tab shows."""
    paths = ["/", "/manifest.webmanifest", *(f"/looks/{i}.webmanifest" for i in LOOKS)]
    for path in paths:
        answer = client.get(f"{path}?lang={lang}", headers={"Accept-Language": lang})
        assert answer.status_code == 200, path
        text = answer.get_data(as_text=True).lower()
        for word in TELLING_WORDS + TELLING_WORDS_EN:
            assert word not in text, (path, lang, word)


def test_english_names_the_looks_in_english(client) -> None:
    manifest = client.get("/looks/calculadora.webmanifest", headers={"Accept-Language": "en"}).json
    assert manifest["name"] == "Calculator" and manifest["lang"] == "en"
    page = client.get("/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert json.loads(shell_data(page, "data-looks"))["clima"]["name"] == "Weather"


# ---------------------------------------------------------------- enrolment codes carry a look


def test_the_look_chosen_on_a_code_reaches_the_enrolment_and_its_retry(org: Org, client) -> None:
    code, attempt = org.issue_code(look="calculadora"), "l" * 22
    first = client.post("/api/v1/enroll", json={"code": code, "enrollment_id": attempt})
    assert first.status_code == 201 and set(first.json) == {"device_token", "team", "look"}
    assert first.json["look"] == "calculadora"
    retry = client.post("/api/v1/enroll", json={"code": code, "enrollment_id": attempt})
    assert retry.status_code == 201 and retry.json["look"] == "calculadora"
    assert client.post("/api/v1/enroll", json={"code": org.issue_code(look="clima")}).json["look"] == "clima"
    # A code that names no look gives the configured one.
    assert client.post("/api/v1/enroll", json={"code": org.issue_code()}).json["look"] == "notas"


def test_a_code_without_a_look_gives_the_configured_one(clima_app) -> None:
    with clima_app.app_context():
        code = enrollment.issue_code(db.session, teams.create_team(db.session, "Ucayali"))
        db.session.commit()
    answer = clima_app.test_client().post("/api/v1/enroll", json={"code": code})
    assert answer.status_code == 201 and answer.json["look"] == "clima"


def test_an_unknown_look_is_refused_when_issuing(app, org: Org) -> None:
    with app.app_context():
        team = teams.find_team(db.session, org.team)
        for look in ("tetris", "Notas", "", "notas "):
            with pytest.raises(Invalid, match="No existe el aspecto"):
                enrollment.issue_code(db.session, team, look=look)


def test_the_code_form_offers_the_looks_and_refuses_an_unknown_one(app, client, accounts, org: Org) -> None:  # noqa: F811
    login(client, "admin")
    token = csrf(client, "/dashboard/teams")
    page = client.get("/dashboard/teams").get_data(as_text=True)
    options = re.findall(r'<option value="(\w+)"( selected)?>([^<]+)</option>', page)
    assert [(value, label) for value, _, label in options] == list(NAMES.items())
    assert [value for value, selected, _ in options if selected] == ["notas"]  # the configured default
    assert re.search(r'<label for="look-\d+">Aspecto en el teléfono</label>', page)
    with app.app_context():
        team_id = teams.find_team(db.session, org.team).id
        codes_before = db.session.scalar(select(func.count()).select_from(EnrollmentCode))
    refused = client.post(f"/dashboard/teams/{team_id}/code", data={"look": "tetris", "csrf_token": token})
    assert refused.status_code == 422 and "No existe el aspecto" in refused.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(EnrollmentCode)) == codes_before
    shown = client.post(f"/dashboard/teams/{team_id}/code", data={"look": "clima", "csrf_token": token})
    assert shown.status_code == 200 and "se verá como «Clima»" in shown.get_data(as_text=True)
    code = re.search(r'<p class="code">([0-9A-Z-]+)</p>', shown.get_data(as_text=True)).group(1)
    assert client.post("/api/v1/enroll", json={"code": code}).json["look"] == "clima"
    with app.app_context():
        issued = db.session.scalars(
            select(AuditEvent.detail).where(AuditEvent.action == "enrollment_code_issued").order_by(AuditEvent.id)
        ).all()
    assert json.loads(issued[-1])["look"] == "clima"


def test_the_command_line_issues_a_code_with_a_look(runner, app, org: Org, client) -> None:
    result = runner.invoke(args=["devices", "code", "--team", org.team, "--look", "calculadora"])
    assert result.exit_code == 0, result.output
    code = result.output.strip().splitlines()[-1]
    assert client.post("/api/v1/enroll", json={"code": code}).json["look"] == "calculadora"
    refused = runner.invoke(args=["devices", "code", "--team", org.team, "--look", "tetris"])
    assert refused.exit_code != 0 and "No existe el aspecto «tetris»" in refused.output
    assert "Traceback" not in refused.output
    with app.app_context():
        issued = db.session.scalars(
            select(AuditEvent.detail).where(AuditEvent.action == "enrollment_code_issued").order_by(AuditEvent.id)
        ).all()
    assert json.loads(issued[-1])["look"] == "calculadora"  # the refused one recorded nothing


# ---------------------------------------------------------------- the organisation's own look


def test_the_organisations_own_look_is_served_cached_and_offered(own_look_app) -> None:
    client = own_look_app.test_client()
    picture = (PROJECT_ROOT / "static" / "icons" / "clima-512.png").read_bytes()
    for lang in ("es", "en"):  # its name is the organisation's, in every language
        manifest = client.get(f"/looks/propia.webmanifest?lang={lang}", headers={"Accept-Language": lang}).json
        assert manifest["name"] == manifest["short_name"] == "Agenda Coop" and manifest["theme_color"] == "#2a9d8f"
        assert manifest["icons"] == [
            {"src": "/looks/propia.png", "sizes": "512x512", "type": "image/png", "purpose": "any"}
        ]
    assert client.get("/manifest.webmanifest").json["name"] == "Agenda Coop"  # the default here
    with client.get("/looks/propia.png") as answer:
        assert answer.status_code == 200 and answer.mimetype == "image/png" and answer.data == picture
    assert_problem(client.get("/looks/notas.png"), 404)  # shipped looks' pictures are static files
    page = client.get("/").get_data(as_text=True)
    assert "<title>Agenda Coop</title>" in page and 'data-look="propia"' in page
    own = json.loads(shell_data(page, "data-looks"))["propia"]
    assert own["icon"] == "/looks/propia.png" and own["calculator"] is False
    source = client.get("/sw.js").get_data(as_text=True)
    precached = json.loads(re.search(r"const PRECACHE = (\[.*?\]);", source).group(1))
    assert {"/looks/propia.webmanifest", "/looks/propia.png"} <= set(precached)


def test_a_changed_own_look_updates_the_phones_cache(tmp_path) -> None:
    def version(**overrides) -> str:  # type: ignore[no-untyped-def]
        environ = {"FIELDAPP_INSTANCE": str(tmp_path / "i"), "FIELDAPP_OWN_LOOK": "Agenda", **overrides}
        own = Config.from_env(environ).own_look
        for application in running_app(make_config(tmp_path / str(len(overrides)), own_look=own)):
            source = application.test_client().get("/sw.js").get_data(as_text=True)
            return re.search(r'const VERSION = "(\w+)";', source).group(1)
        raise AssertionError

    for n in range(4):
        (tmp_path / str(n)).mkdir()
    assert len({version(), version(FIELDAPP_OWN_LOOK_COLOR="#000000"), version(FIELDAPP_OWN_LOOK_ICON="clima")}) == 3


def test_codes_and_phones_take_the_own_look(own_look_app) -> None:
    with own_look_app.app_context():
        team = teams.create_team(db.session, "Loreto 2")
        with pytest.raises(Invalid):
            enrollment.issue_code(db.session, team, look="propia")  # only where the organisation set one
        offered = {**LOOKS, "propia": own_look_app.config["FIELDAPP"].own_look}
        code = enrollment.issue_code(db.session, team, look="propia", offered=offered)
        db.session.commit()
    client = own_look_app.test_client()
    assert client.post("/api/v1/enroll", json={"code": code}).json["look"] == "propia"
    result = own_look_app.test_cli_runner().invoke(args=["devices", "code", "--team", "Loreto 2", "--look", "propia"])
    assert result.exit_code == 0, result.output
