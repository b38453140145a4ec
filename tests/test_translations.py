"""Every user-visible string is in the one translation template, whatever kind of file it lives in."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest

from fieldapp import create_app, i18n
from fieldapp.extensions import db
from fieldapp.i18n import catalogs as i18n_catalogs
from fieldapp.i18n import locales

from .conftest import make_config

ROOT = Path(__file__).resolve().parent.parent


def test_template_is_up_to_date() -> None:
    """Fails when a string was added or changed in Python, Jinja, the field app or a form without running
    `fieldapp i18n update`."""
    extracted = {m.id if isinstance(m.id, str) else m.id[0] for m in i18n_catalogs.extract_template() if m.id}
    committed = i18n_catalogs.template_ids()
    assert extracted - committed == set(), "run: fieldapp i18n update"
    assert committed - extracted == set(), "run: fieldapp i18n update"


def test_every_kind_of_source_is_extracted() -> None:
    ids = i18n_catalogs.template_ids()
    assert "Solicitud mal formada" in ids  # Python, marked with N_
    assert "Desbloquear la lectura" in ids  # Jinja
    assert "%(sent)s de %(total)s enviados" in ids  # the field app's t()
    form = json.loads((ROOT / "fieldapp/forms/trafficking-report.json").read_text("utf-8"))
    texts = set()

    def walk(node) -> None:  # type: ignore[no-untyped-def]
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "places":
                    continue
                if key in ("title", "label", "hint") and isinstance(value, str):
                    texts.add(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(form)
    assert len(texts) >= 90 and texts <= ids  # every label, hint and choice of the form
    assert "Madre de Dios" not in ids  # place names are proper nouns, not translated


def test_every_t_call_in_the_field_app_has_a_literal_msgid() -> None:
    """t(variable) cannot be extracted: the field app passes literal Spanish strings, or a form definition's
    own title, label or hint (extracted from the form files)."""
    calls = 0
    for path in (ROOT / "static/js").rglob("*.js"):
        for number, line in enumerate(path.read_text("utf-8").splitlines(), 1):
            code = line.split("//", 1)[0]
            for call in re.finditer(r"(?<![\w.])(?<!function )t\(\s*([^,)]+)", code):
                calls += 1
                argument = call.group(1).strip()
                literal = argument.startswith('"')
                from_form = re.fullmatch(r"\w+\.(label|hint|title)", argument)
                assert literal or from_form, f"{path.name}:{number}: t({argument}) cannot be extracted"
    assert calls > 50


def test_every_literal_msgid_in_the_field_app_is_in_the_template() -> None:
    """Read independently of Babel's JavaScript extractor, which skips calls it cannot parse (e.g. inside a
    `…${…}…` template literal unless told to look there)."""
    ids = i18n_catalogs.template_ids()
    found = set()
    literal = r'"((?:[^"\\]|\\.)*)"'
    for path in (ROOT / "static/js").rglob("*.js"):
        source = re.sub(r"^\s*//.*$", "", path.read_text("utf-8"), flags=re.MULTILINE)  # comments' examples
        for call in re.finditer(rf"(?<![\w.])tn?\(\s*{literal}", source):
            found.add(json.loads(f'"{call.group(1)}"'))
    assert len(found) > 40
    assert found - ids == set(), "run: fieldapp i18n update"


def test_no_gettext_call_hides_inside_an_f_string() -> None:
    """Babel's Python extractor does not look inside f-strings: a _() there would never be translated."""
    hidden = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in (ROOT / "fieldapp").rglob("*.py")
        for number, line in enumerate(path.read_text("utf-8").splitlines(), 1)
        if re.search(r"""\bf["'].*\{\s*(_|gettext|ngettext|lazy_gettext)\(""", line)
    ]
    assert hidden == []


def test_command_line_help_and_output_in_the_chosen_language(translated_app, translations, monkeypatch) -> None:
    """Help texts are extracted from the commands (docstrings, help=) and shown in FIELDAPP_LANG."""
    from click.testing import CliRunner

    from fieldapp.cli import main

    monkeypatch.setenv("FIELDAPP_TRANSLATIONS", str(translations))
    monkeypatch.setenv("FIELDAPP_INSTANCE", str(translations.parent / "cli-instance"))
    ids = i18n_catalogs.template_ids()
    assert "Añade un idioma (también uno que CLDR no conoce) y crea su catálogo." in ids  # a docstring
    assert "Porcentaje mínimo exigido." in ids  # an option's help=
    spanish = CliRunner().invoke(main, ["i18n", "add", "--help"])
    assert "Añade un idioma" in spanish.output and "Nombre del idioma en el propio idioma." in spanish.output
    for words in ("Uso: ", "Opciones:", "[obligatorio]", "[por omisión: es]", "Muestra esta ayuda y termina."):
        assert words in spanish.output  # click's own words too
    listing = CliRunner().invoke(main, ["--help"]).output
    assert "Migraciones de la base de datos" in listing and "Muestra las rutas" in listing and "intérprete" in listing
    assert "Show the routes" not in listing and "Run a shell" not in listing
    monkeypatch.setenv("FIELDAPP_LANG", "en")
    english = CliRunner().invoke(main, ["i18n", "add", "--help"])
    assert "Adds a language (also one CLDR does not know)" in english.output
    assert "The language's name in the language itself." in english.output
    assert "Usage: " in english.output and "[required]" in english.output and "[default: es]" in english.output
    status = translated_app.test_cli_runner().invoke(args=["i18n", "status"])
    assert status.output.split()[:4] == ["language", "translated", "uncertain", "untranslated"]


def test_a_language_cldr_lacks_goes_from_add_to_compiled(translated_app, translations) -> None:
    from babel import Locale, UnknownLocaleError
    from babel.messages.pofile import read_po, write_po

    with pytest.raises(UnknownLocaleError):
        Locale.parse("xyz")
    runner = translated_app.test_cli_runner()
    added = runner.invoke(args=["i18n", "add", "xyz", "--name", "Xyzeño", "--plural", "nplurals=1; plural=0;"])
    assert added.exit_code == 0, added.output
    po = translations / "xyz" / "LC_MESSAGES" / "messages.po"
    assert "Plural-Forms: nplurals=1; plural=0;" in po.read_text("utf-8")
    assert '"xyz"' in (translations / "locales.json").read_text("utf-8")
    again = runner.invoke(args=["i18n", "add", "xyz", "--name", "Xyzeño"])
    assert again.exit_code != 0 and "ya está registrado" in again.output
    broken = runner.invoke(args=["i18n", "add", "zzz", "--name", "Z", "--cldr", "zzz"])
    assert broken.exit_code != 0 and "no es un locale de CLDR" in broken.output
    assert '"zzz"' not in (translations / "locales.json").read_text("utf-8")  # nothing half-written

    # A translator confirms one string and leaves one fuzzy.
    with open(po, "rb") as handle:
        catalog = read_po(handle)
    catalog["Informes"].string = "Willakuykuna-xyz"
    catalog["Enviar ahora"].string = "Kunan-xyz"
    catalog["Enviar ahora"].flags.add("fuzzy")
    with open(po, "wb") as out:
        write_po(out, catalog)

    assert runner.invoke(args=["i18n", "update"]).exit_code == 0
    assert "Plural-Forms: nplurals=1; plural=0;" in po.read_text("utf-8")  # kept through the update
    assert runner.invoke(args=["i18n", "compile"]).exit_code == 0
    assert (po.with_suffix(".mo")).exists()
    compiled = json.loads((po.with_suffix(".json")).read_text("utf-8"))["messages"]
    assert compiled["Informes"] == "Willakuykuna-xyz" and "Enviar ahora" not in compiled  # fuzzy is not shown
    status = runner.invoke(args=["i18n", "status"])
    line = next(row for row in status.output.splitlines() if row.startswith("xyz"))
    assert line.split()[1:3] == ["1", "1"]
    assert runner.invoke(args=["i18n", "status", "--min", "50"]).exit_code != 0


def test_broken_registry_entries_are_refused(tmp_path) -> None:
    import pytest

    from fieldapp.i18n import locales

    good = {
        "es": {
            "name": "Español",
            "name_es": "Español",
            "fallback": [],
            "cldr": "es_PE",
            "plural": "nplurals=2; plural=(n != 1);",
        }
    }
    cases = {
        "fallback not ending in es": {"shp": {**good["es"], "name": "Jakon", "fallback": ["qu"]}},
        "unknown cldr": {"shp": {**good["es"], "fallback": ["es"], "cldr": "shp"}},
        "bad plural": {"shp": {**good["es"], "fallback": ["es"], "plural": "dos formas"}},
        "bad code": {"Shipibo": {**good["es"], "fallback": ["es"]}},
    }
    assert locales.load_registry(_write(tmp_path / "ok.json", {**good, "shp": {**good["es"], "fallback": ["es"]}}))
    for name, extra in cases.items():
        with pytest.raises(locales.RegistryError):
            locales.load_registry(_write(tmp_path / "bad.json", {**good, **extra}))
        assert name


def _write(path: Path, data: dict) -> Path:
    path.write_text(json.dumps(data), "utf-8")
    return path


def test_pages_and_api_in_a_language_cldr_lacks(translated_app, translations) -> None:
    """Words from the UI language's catalog, the rest from Spanish; dates through the CLDR fallback locale."""
    from babel.messages.pofile import read_po, write_po

    app = translated_app
    i18n_catalogs.add_language(
        locales.LocaleEntry("xyz", "Xyzeño", "Xyzeño", ("es",), "es_PE", "nplurals=1; plural=0;"), translations
    )
    po = translations / "xyz" / "LC_MESSAGES" / "messages.po"
    with open(po, "rb") as handle:
        catalog = read_po(handle)
    catalog["Entrar"].string = "Yaykuy-xyz"
    catalog["Falta el código de inscripción."].string = "Mana kanchu yaykuna-xyz."
    catalog["Frase de paso"].string = "Pakasqa-xyz"
    catalog["Frase de paso"].flags.add("fuzzy")  # not confirmed: must not be shown
    with open(po, "wb") as out:
        write_po(out, catalog)
    i18n_catalogs.compile_catalogs(translations)
    client = app.test_client()
    page = client.get("/dashboard/login?lang=xyz").get_data(as_text=True)
    assert 'lang="xyz"' in page and "Yaykuy-xyz" in page
    assert "Nombre de usuario" in page  # untranslated: falls back to Spanish
    assert "Pakasqa-xyz" not in page and "Frase de paso" in page  # fuzzy: not shown
    assert "Yaykuy-xyz" in client.get("/dashboard/login").get_data(as_text=True)  # the choice is remembered
    other = app.test_client()
    assert "Yaykuy-xyz" in other.get("/dashboard/login", headers={"Accept-Language": "xyz, es;q=0.5"}).get_data(
        as_text=True
    )
    assert "Yaykuy-xyz" not in other.get("/dashboard/login", headers={"Accept-Language": "en"}).get_data(as_text=True)
    problem = app.test_client().post("/api/v1/enroll?lang=xyz", json={})
    assert problem.status_code == 422 and problem.json["detail"] == "Mana kanchu yaykuna-xyz."
    with app.app_context():
        bootstrap_locales = i18n.available_locales()
    assert bootstrap_locales[0] == "es" and "xyz" in bootstrap_locales
    with app.test_request_context("/?lang=xyz"):
        import datetime as dt

        from flask_babel import format_date

        assert format_date(dt.date(2026, 11, 29), "long") == "29 de noviembre de 2026"  # through es_PE


SHIPPED = ("es", "en", "qu", "ay", "shp", "cni")


def test_the_shipped_languages_are_registered_and_those_cldr_lacks_are_first_class() -> None:
    from babel import Locale, UnknownLocaleError

    registry = locales.load_registry()
    assert tuple(registry) == SHIPPED
    for code in ("ay", "shp", "cni"):
        with pytest.raises(UnknownLocaleError):
            Locale.parse(code)
        assert i18n_catalogs.catalog_path(code).exists()
    assert "Variety: Southern Quechua, Cusco-Collao" in i18n_catalogs.catalog_path("qu").read_text("utf-8")


def test_spanish_and_english_are_complete() -> None:
    rows = {row.code: row for row in i18n_catalogs.coverage()}
    for code in ("es", "en"):
        assert (rows[code].fuzzy, rows[code].untranslated) == (0, 0), code
    assert rows["en"].translated == len(i18n_catalogs.template_ids())


@pytest.mark.parametrize("code", SHIPPED[1:])
def test_every_catalog_keeps_placeholders_and_adds_no_markup(code: str) -> None:
    """Fuzzy entries too: confirming one must not break a page."""
    from fieldapp.services import translations as service

    registry = locales.load_registry()
    catalog = i18n_catalogs.read_catalog(i18n_catalogs.catalog_path(code))
    assert catalog.num_plurals == registry[code].nplurals
    checked = 0
    for message in catalog:
        entry = service.entry_of(message) if message.id else None
        if entry is None or entry.state == "untranslated":
            continue
        service.check_translation(entry, list(entry.strings), registry[code])
        checked += 1
    assert checked > 0


def test_placeholder_check_catches_a_lost_value() -> None:
    from fieldapp.errors import Invalid
    from fieldapp.services import translations as service

    QUECHUA = locales.load_registry()["qu"]  # noqa: N806

    entry = service.Entry("Equipo: %(team)s", None, None, ("",), False, (), ())
    with pytest.raises(Invalid):
        service.check_translation(entry, ["Ayllu"], QUECHUA)
    assert service.check_translation(entry, ["Ayllu: %(team)s"], QUECHUA) == ["Ayllu: %(team)s"]
    counted = service.Entry("%(num)s informe", "%(num)s informes", None, ("", ""), False, (), ())
    english = locales.load_registry()["en"]
    assert service.check_translation(counted, ["one report", "%(num)s reports"], english)  # 1 alone: may omit
    with pytest.raises(Invalid):
        service.check_translation(counted, ["%(num)s report", "reports"], english)  # 0, 2, 3…: needs it
    with pytest.raises(Invalid):
        service.check_translation(counted, ["willakuy"], QUECHUA)  # one form for every count


@pytest.fixture
def dashboard_with_data(org, app, client):  # type: ignore[no-untyped-def]
    """An admin holding the key, logged in and unlocked, with a report, a team and a phone."""
    from .conftest import KEY_PASSPHRASE, LOGIN_PASSPHRASE

    answers = {"department": "17", "place_kind": "mining_camp", "exploitation_type": ["ForcedLabour"], "urgent": True}
    envelope = org.envelope(
        {"form": "trafficking-report", "form_version": 1, "locale": "qu", "answers": answers, "attachments": []}
    )
    assert client.post("/api/v1/reports", json={"reports": [envelope]}, headers=org.headers).status_code == 200

    def token(path: str) -> str:
        return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True)).group(1)

    login = {"username": "ana", "passphrase": LOGIN_PASSPHRASE, "csrf_token": token("/dashboard/login")}
    assert client.post("/dashboard/login", data=login).status_code == 302
    unlock = {"key_passphrase": KEY_PASSPHRASE, "csrf_token": token("/dashboard/unlock")}
    assert client.post("/dashboard/unlock", data=unlock).status_code == 302
    return envelope["rid"], token


@pytest.mark.parametrize("code", SHIPPED)
def test_every_dashboard_page_renders_in_every_shipped_language(app, client, dashboard_with_data, code) -> None:
    rid, token = dashboard_with_data
    paths = []
    for rule in app.url_map.iter_rules():
        # Pages only: an attachment is a report's own bytes, the base's authority a certificate (tests/test_tls.py).
        pages = "<token>" not in rule.rule and "<aid>" not in rule.rule and not rule.rule.endswith(".pem")
        if rule.endpoint.startswith("dashboard.") and "GET" in rule.methods and pages:
            paths.append(rule.rule.replace("<rid>", rid).replace("<code>", "qu" if code == "es" else code))
    assert len(paths) >= 12
    for path in paths:
        answer = client.get(f"{path}?lang={code}")
        assert answer.status_code in (200, 302), (path, answer.status_code)
        if answer.status_code == 200 and answer.mimetype == "text/html":
            assert f'<html lang="{code}"' in answer.get_data(as_text=True), path
        answer.close()  # a streamed download (an export, a bundle) ends its request here
    issued = client.post("/dashboard/teams/1/code", data={"csrf_token": token("/dashboard/teams"), "uses": "1"})
    assert issued.status_code == 200 and f'<html lang="{code}"' in issued.get_data(as_text=True)
    gone = client.get(f"/setup/not-a-token?lang={code}")
    assert gone.status_code in (404, 410) and f'<html lang="{code}"' in gone.get_data(as_text=True)
    assert client.get(f"/?lang={code}").status_code == 200
    assert client.get(f"/i18n/{code}.json").json["code"] == code


def test_english_pages_and_api_messages_are_english(app, client, dashboard_with_data) -> None:
    rid, token = dashboard_with_data
    stats = client.get("/dashboard/stats?lang=en").get_data(as_text=True)
    assert "1 report counted." in stats and "Statistics" in stats and "Estadísticas" not in stats
    report = client.get(f"/dashboard/reports/{rid}").get_data(as_text=True)  # the choice is remembered
    assert "Log out" in report and "Mining camp" in report
    today = dt.date.today()
    assert f"Received on {today:%B} {today.day}, {today.year}" in report  # dates through en's CLDR data
    spanish = client.get(f"/dashboard/reports/{rid}?lang=es").get_data(as_text=True)
    assert f"Recibido el {today.day} de " in spanish  # es_PE: "29 de noviembre de 2026"
    quechua = client.get(f"/dashboard/reports/{rid}?lang=qu").get_data(as_text=True)
    assert f"Recibido el {today.day} " in quechua  # qu_PE, CLDR's own Quechua data
    client.post("/dashboard/logout", data={"csrf_token": token("/dashboard/")})
    login_page = client.get("/dashboard/login").get_data(as_text=True)
    assert '<html lang="qu"' in login_page  # the last choice (?lang=qu above) outlives the session
    problem = app.test_client().post("/api/v1/enroll", json={}, headers={"Accept-Language": "en"})
    assert problem.status_code == 422 and problem.json["detail"] == "The enrollment code is missing."


def test_the_worker_precaches_no_catalog_and_the_route_serves_each_compiled_one(translated_app, translations) -> None:
    """A catalog carries the form's words in plain text: the worker never caches one (the page keeps the
    language it uses sealed on the phone), and no cache on the way may keep it. A language compiled while
    the server runs is served at once, and the worker's version changes (the shell's words come from it)."""
    client = translated_app.test_client()

    def precached() -> tuple[list[str], str]:
        source = client.get("/sw.js").get_data(as_text=True)
        urls = json.loads(re.search(r"const PRECACHE = (\[.*?\]);", source).group(1))
        return urls, re.search(r'const VERSION = "(\w+)";', source).group(1)

    i18n_catalogs.add_language(
        locales.LocaleEntry("xyz", "Xyzeño", "Xyzeño", ("es",), "es_PE", "nplurals=1; plural=0;"), translations
    )
    urls, before = precached()
    assert "/" in urls and not [url for url in urls if url.startswith("/i18n/") or url.endswith(".json")]
    for url in urls:
        with client.get(url) as answer:
            assert answer.status_code == 200, url
    for code in SHIPPED:
        with client.get(f"/i18n/{code}.json") as answer:
            assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-store", code
    assert client.get("/i18n/xyz.json").status_code == 404
    i18n_catalogs.compile_catalogs(translations)
    urls, after = precached()
    assert not [url for url in urls if url.startswith("/i18n/")] and after != before
    assert client.get("/i18n/xyz.json").json["messages"] == {}
    english = client.get("/i18n/en.json").json["messages"]
    assert english["Nuevo informe"] == "New report" and english["Mujer"] == "Woman"  # the app's and the form's
    assert "Desbloquear la lectura" not in english  # the dashboard's words stay off the phone


def test_a_right_to_left_language_is_written_right_to_left(translated_app, translations) -> None:
    i18n_catalogs.add_language(
        locales.LocaleEntry("zzr", "Zzr", "Zzr", ("es",), "es_PE", "nplurals=2; plural=(n != 1);", "rtl"), translations
    )
    i18n_catalogs.compile_catalogs(translations)
    client = translated_app.test_client()
    assert '<html lang="zzr" dir="rtl">' in client.get("/dashboard/login?lang=zzr").get_data(as_text=True)
    assert '<html lang="es" dir="ltr">' in client.get("/dashboard/login?lang=es").get_data(as_text=True)
    assert client.get("/i18n/zzr.json").json["direction"] == "rtl"  # the phone sets dir from it


def test_the_phone_pages_set_no_cookie_for_a_language(translated_app) -> None:
    """The field app remembers its language on the phone; the server leaves it no cookie to carry."""
    client = translated_app.test_client()
    for path in ("/?lang=qu", "/i18n/qu.json?lang=qu", "/sw.js?lang=qu", "/api/v1/bootstrap?lang=qu"):
        with client.get(path) as answer:
            assert "Set-Cookie" not in answer.headers, path
    with client.get("/dashboard/login?lang=qu") as answer:
        assert "Set-Cookie" in answer.headers  # the dashboard remembers it


def test_update_keeps_obsolete_translations_only(translations) -> None:
    """A string gone from the code keeps its translation (#~) for reuse; an empty one leaves no trace."""
    from babel.messages.catalog import Message

    po = i18n_catalogs.catalog_path("en", translations)
    catalog = i18n_catalogs.read_catalog(po)
    catalog.obsolete["Texto retirado"] = Message("Texto retirado", "Withdrawn text")
    catalog.obsolete["Texto vacío"] = Message("Texto vacío", "")
    catalog.obsolete["Salir"] = Message("Salir", "Old exit")  # the same text is live again
    i18n_catalogs.write_atomically(po, i18n_catalogs.po_bytes(catalog))
    i18n_catalogs.update_catalogs(translations)
    text = po.read_text("utf-8")
    assert '#~ msgid "Texto retirado"' in text
    assert "Texto vacío" not in text and "Old exit" not in text


def test_a_hand_edited_translation_that_would_break_a_page_is_left_out_at_compile(translated_app, translations):
    """Poedit or an editor bypasses the translator page's checks: compile sets such a translation aside
    (Spanish shows instead), says so, and leaves the .po file as the translator wrote it."""
    po = i18n_catalogs.catalog_path("en", translations)
    catalog = i18n_catalogs.read_catalog(po)
    catalog["Salir"].string = "100% out"  # a lone percent sign: the page would fail
    catalog["Hola, %(name)s"].string = "Hello"  # the name is lost
    i18n_catalogs.write_atomically(po, i18n_catalogs.po_bytes(catalog))
    compiled = translated_app.test_cli_runner().invoke(args=["i18n", "compile"])
    assert compiled.exit_code == 0
    assert "Omitida (en) «Salir»" in compiled.output and "Omitida (en) «Hola, %(name)s»" in compiled.output
    assert '"100% out"' in po.read_text("utf-8")  # the translator's work is kept for them to fix
    client = translated_app.test_client()
    from fieldapp.services import users

    from .conftest import FAST_KDF, LOGIN_PASSPHRASE

    with translated_app.app_context():
        users.create_user(db.session, "tito", "translator", LOGIN_PASSPHRASE, FAST_KDF)
        db.session.commit()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/dashboard/login").get_data(as_text=True))
    data = {"username": "tito", "passphrase": LOGIN_PASSPHRASE, "csrf_token": token.group(1)}
    client.post("/dashboard/login?lang=en", data=data)
    home = client.get("/dashboard/?lang=en")
    assert home.status_code == 200
    page = home.get_data(as_text=True)
    assert "Salir" in page and "Hola, tito" in page and "Translation" in page  # Spanish where set aside


def test_numbers_follow_the_languages_formatting_locale(translated_app, translations) -> None:
    from flask import render_template_string

    i18n_catalogs.add_language(
        locales.LocaleEntry("xyz", "Xyzeño", "Xyzeño", ("es",), "es", "nplurals=1; plural=0;"), translations
    )
    template = "{{ 12345 | number }} {{ 0.25 | percent_of_one }}"
    with translated_app.test_request_context("/dashboard/login?lang=xyz"):
        assert render_template_string(template) == "12.345 25,0"  # through CLDR's es
    with translated_app.test_request_context("/dashboard/login?lang=en"):
        assert render_template_string(template) == "12,345 25.0"


def test_a_registry_broken_while_serving_keeps_the_last_good_one(translated_app, translations, caplog) -> None:
    client = translated_app.test_client()
    assert 'lang="en"' in client.get("/dashboard/login?lang=en").get_data(as_text=True)
    registry = translations / "locales.json"
    registry.write_text('{"es": {"name": "Español"', "utf-8")  # an editor saving half a file
    answer = client.get("/dashboard/login?lang=en")
    assert answer.status_code == 200 and 'lang="en"' in answer.get_data(as_text=True)
    assert caplog.text.count("Se sigue con el registro anterior.") == 1  # said once, not at every request
    second = translations.parent / "second"
    second.mkdir()
    with pytest.raises(locales.RegistryError):
        create_app(make_config(second, translations_dir=translations))  # a new start refuses it


def test_gettext_is_only_imported_under_names_the_extractor_reads() -> None:
    """`from flask_babel import gettext as translate` would hide every translate("…") from the template."""
    aliases = {
        f"{path.relative_to(ROOT)}: {match.group(1)}"
        for path in (ROOT / "fieldapp").rglob("*.py")
        for match in re.finditer(r"\bn?gettext as (\w+)", path.read_text("utf-8"))
        if match.group(1) not in i18n_catalogs.KEYWORDS
    }
    assert aliases == set()
