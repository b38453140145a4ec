"""Every user-visible string is in the one translation template, whatever kind of file it lives in."""

from __future__ import annotations

import json
import re
from pathlib import Path

from fieldapp import i18n_catalogs

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


def test_a_language_cldr_lacks_goes_from_add_to_compiled(runner, tmp_path, monkeypatch) -> None:
    import shutil

    from babel import Locale, UnknownLocaleError
    from babel.messages.pofile import read_po, write_po

    try:
        Locale.parse("xyz")
        raise AssertionError("xyz should be unknown to CLDR")
    except UnknownLocaleError:
        pass
    translations = tmp_path / "translations"
    shutil.copytree(ROOT / "translations", translations)
    monkeypatch.setattr(i18n_catalogs, "TRANSLATIONS", translations)
    monkeypatch.setattr(i18n_catalogs, "STATIC_CATALOGS", tmp_path / "static_i18n")

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
    compiled = json.loads((tmp_path / "static_i18n" / "xyz.json").read_text("utf-8"))
    assert compiled["Informes"] == "Willakuykuna-xyz" and "Enviar ahora" not in compiled  # fuzzy is not shown
    status = runner.invoke(args=["i18n", "status"])
    line = next(row for row in status.output.splitlines() if row.startswith("xyz"))
    assert line.split()[1:3] == ["1", "1"]
    assert runner.invoke(args=["i18n", "status", "--min", "50"]).exit_code != 0


def test_broken_registry_entries_are_refused(tmp_path) -> None:
    import pytest

    from fieldapp import locales

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


def test_pages_and_api_in_a_language_cldr_lacks(tmp_path, monkeypatch) -> None:
    """Words from the UI language's catalog, the rest from Spanish; dates through the CLDR fallback locale."""
    import shutil

    from babel.messages.pofile import read_po, write_po

    from fieldapp import create_app, i18n
    from fieldapp.extensions import db

    from .conftest import make_config

    translations = tmp_path / "translations"
    shutil.copytree(ROOT / "translations", translations)
    monkeypatch.setattr(i18n_catalogs, "TRANSLATIONS", translations)
    monkeypatch.setattr(i18n_catalogs, "STATIC_CATALOGS", tmp_path / "static_i18n")
    from fieldapp import locales

    i18n_catalogs.add_language(
        locales.LocaleEntry("xyz", "Xyzeño", "Xyzeño", ("es",), "es_PE", "nplurals=1; plural=0;")
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
    i18n_catalogs.compile_catalogs(translations, tmp_path / "static_i18n")
    monkeypatch.setattr(i18n, "TRANSLATIONS_DIR", translations)

    instance = tmp_path / "app"
    instance.mkdir()
    app = create_app(make_config(instance))
    with app.app_context():
        db.create_all()
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
    bootstrap_locales = i18n.available_locales()
    assert bootstrap_locales[0] == "es" and "xyz" in bootstrap_locales
    with app.test_request_context("/?lang=xyz"):
        import datetime as dt

        from flask_babel import format_date

        assert format_date(dt.date(2026, 11, 29), "long") == "29 de noviembre de 2026"  # through es_PE
    with app.app_context():
        db.engine.dispose()
