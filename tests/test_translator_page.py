"""The translator page: pending strings with their source and place, saved with checks, shown at once."""

from __future__ import annotations

import io
import json
import re
import threading
from pathlib import Path

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from fieldapp.extensions import db
from fieldapp.i18n import catalogs as i18n_catalogs
from fieldapp.i18n import locales
from fieldapp.models import AuditEvent
from fieldapp.services import translations as service
from fieldapp.services import users

from .conftest import FAST_KDF, LOGIN_PASSPHRASE


@pytest.fixture
def app(translated_app: Flask) -> Flask:
    with translated_app.app_context():
        users.create_user(db.session, "tito", "translator", LOGIN_PASSPHRASE, FAST_KDF)
        users.create_user(db.session, "sara", "supervisor", LOGIN_PASSPHRASE, FAST_KDF)
        db.session.commit()
    return translated_app


def csrf(client, path: str) -> str:  # type: ignore[no-untyped-def]
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True)).group(1)


@pytest.fixture
def tito(app: Flask):  # type: ignore[no-untyped-def]
    client = app.test_client()
    token = csrf(client, "/dashboard/login")
    answer = client.post(
        "/dashboard/login", data={"username": "tito", "passphrase": LOGIN_PASSPHRASE, "csrf_token": token}
    )
    assert answer.status_code == 302
    return client


def save(client, code: str, msgid: str, *strings: str, fuzzy: bool = False, **extra: str):  # type: ignore[no-untyped-def]
    data = {"csrf_token": csrf(client, "/dashboard/"), "msgid": msgid, "translation": list(strings), **extra}
    if fuzzy:
        data["fuzzy"] = "1"
    return client.post(f"/dashboard/translations/{code}", data=data)


def po_text(translations: Path, code: str) -> str:
    return i18n_catalogs.catalog_path(code, translations).read_text("utf-8")


def test_languages_page_shows_coverage_and_previews(tito) -> None:
    page = tito.get("/dashboard/translations").get_data(as_text=True)
    for code in ("en", "qu", "ay", "shp", "cni"):
        assert f'href="/dashboard/translations/{code}"' in page and f'href="/?lang={code}"' in page
    assert 'href="/dashboard/translations/es"' not in page  # the source is not translated here
    assert "Runasimi" in page and "Quechua" in page


def test_pending_strings_show_source_and_where_they_appear(tito) -> None:
    page = tito.get("/dashboard/translations/qu?q=Nuevo informe").get_data(as_text=True)
    assert "Nuevo informe" in page and "Aplicación del teléfono" in page and "static/js/ui/home.js" in page
    form = tito.get("/dashboard/translations/qu?q=Marque todas").get_data(as_text=True)
    assert "Formulario de informe" in form and "ayuda de la pregunta «Edad»" in form  # the question it belongs to
    confirmed = tito.get("/dashboard/translations/qu?q=Idioma").get_data(as_text=True)
    assert ">Simi<" not in confirmed  # already confirmed: not pending
    everything = tito.get("/dashboard/translations/qu?show=translated").get_data(as_text=True)
    assert ">Simi</textarea>" in everything
    fuzzy = tito.get("/dashboard/translations/qu?show=fuzzy").get_data(as_text=True)
    assert "Willakuykuna" in fuzzy and "no se muestra hasta que alguien la confirme" in fuzzy


def test_a_saved_translation_shows_in_the_dashboard_and_reaches_phones(app, tito, translations) -> None:
    worker_before = tito.get("/sw.js").get_data(as_text=True)
    answer = save(tito, "qu", "Secciones", "Raqaykuna-prueba")  # the dashboard's alone ("Salir" is the phone's too)
    assert answer.status_code == 302 and "saved=1" in answer.headers["Location"]
    assert 'msgid "Secciones"\nmsgstr "Raqaykuna-prueba"' in po_text(translations, "qu")
    assert "Raqaykuna-prueba" in tito.get("/dashboard/?lang=qu").get_data(as_text=True)  # recompiled, reloaded
    assert tito.get("/sw.js").get_data(as_text=True) == worker_before  # a dashboard word: phones unchanged
    assert save(tito, "qu", "Enviar ahora", "Kunan apachiy-prueba").status_code == 302
    assert tito.get("/i18n/qu.json").json["messages"]["Enviar ahora"] == "Kunan apachiy-prueba"
    assert tito.get("/sw.js").get_data(as_text=True) != worker_before  # phones update to get it
    with app.app_context():
        event = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
        assert event.actor == "tito" and event.action == "translation_saved" and '"language":"qu"' in event.detail


def test_a_fuzzy_translation_is_kept_but_not_shown(tito, translations) -> None:
    assert save(tito, "shp", "Salir", "Duda-prueba", fuzzy=True).status_code == 302
    assert "#, fuzzy" in po_text(translations, "shp").split('msgid "Salir"')[0].rsplit("\n\n", 1)[-1]
    assert "Duda-prueba" not in tito.get("/dashboard/?lang=shp").get_data(as_text=True)
    assert save(tito, "shp", "Descartar", "Duda-prueba", fuzzy=True).status_code == 302
    assert "Descartar" not in tito.get("/i18n/shp.json").json["messages"]
    assert save(tito, "shp", "Salir", "Duda-prueba").status_code == 302  # confirmed
    assert "Duda-prueba" in tito.get("/dashboard/?lang=shp").get_data(as_text=True)


@pytest.mark.parametrize(
    ("msgid", "strings", "message"),
    [
        ("Hola, %(name)s", ["Napaykullayki"], "Los marcadores deben ser los mismos"),
        ("Hola, %(name)s", ["Napaykullayki %(nombre)s"], "Los marcadores deben ser los mismos"),
        ("Salir", ["Lluqsiy %(x)s"], "Los marcadores deben ser los mismos"),
        ("Salir", ["<script>x</script>"], "«&lt;» ni «&gt;»"),
        ("Salir", ["Lluqsiy\x07"], "caracteres de control"),
        ("Salir", ["100% Lluqsiy"], "signo de porcentaje suelto"),
        ("Por debajo de %(min)s %%: %(codes)s", ["Uraypi %(min)s %: %(codes)s"], "suelto"),
        ("Salir", ["a" * 4001], "demasiado larga"),
        ("Salir", ["uno", "dos"], "formas"),
        ("%(num)s informe contado.", ["%(num)s willakuy", "dos"], "formas"),
    ],
)
def test_a_translation_that_would_break_a_page_is_refused(tito, translations, msgid, strings, message) -> None:
    before = po_text(translations, "qu")
    answer = save(tito, "qu", msgid, *strings)
    page = answer.get_data(as_text=True)
    assert answer.status_code == 422 and message in page
    assert po_text(translations, "qu") == before  # nothing written
    if len(strings) == 1 and len(strings[0]) < 100 and "<" not in strings[0] and "\x00" not in strings[0]:
        assert f">{strings[0]}</textarea>" in page  # what was typed is kept for correcting


def test_plural_forms_are_saved_per_the_languages_rule(app, tito, translations) -> None:
    answer = save(tito, "en", "%(num)s informe contado.", "One report counted (%(num)s).", "%(num)s reports counted!")
    assert answer.status_code == 302
    assert save(tito, "en", "%(num)s informe contado.", "%(num)s a", "%(count)s b").status_code == 422
    with app.test_request_context("/?lang=en"):
        from flask_babel import ngettext

        assert ngettext("%(num)s informe contado.", "%(num)s informes contados.", 1) == "One report counted (1)."
        assert ngettext("%(num)s informe contado.", "%(num)s informes contados.", 3) == "3 reports counted!"
    app_plural = "%(count)s informe no aceptado por el servidor"
    assert save(tito, "en", app_plural, "%(count)s report refused", "%(count)s reports refused").status_code == 302
    forms = tito.get("/i18n/en.json").json["messages"][app_plural]
    assert forms == {"lang": "en", "forms": ["%(count)s report refused", "%(count)s reports refused"]}


@pytest.mark.parametrize(
    ("code", "msgid", "status"),
    [("es", "Salir", 422), ("zz", "Salir", 404), ("qu", "No existe este texto", 404), ("qu", "", 404)],
)
def test_unknown_languages_and_strings_are_clear_errors(tito, translations, code, msgid, status) -> None:
    assert save(tito, code, msgid, "x").status_code == status
    assert tito.get(f"/dashboard/translations/{code}").status_code in (200, 404, 422)


def test_saves_at_the_same_time_are_all_kept(translations) -> None:
    msgids = ["Informes", "Por enviar", "Enviar ahora", "Actualizar", "Descartar", "Cancelar", "Edad", "Sexo"]
    errors: list[BaseException] = []

    def one(msgid: str) -> None:
        try:
            service.save_translation(translations, "ay", msgid, None, [f"{msgid}-ay"], False)
        except BaseException as exc:  # noqa: BLE001  (reported by the assertion below)
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(m,)) for m in msgids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    saved = json.loads(i18n_catalogs.app_catalog_path("ay", translations).read_text("utf-8"))["messages"]
    assert all(saved[m] == f"{m}-ay" for m in msgids)


def test_supervisors_cannot_translate(app) -> None:
    client = app.test_client()
    token = csrf(client, "/dashboard/login")
    client.post("/dashboard/login", data={"username": "sara", "passphrase": LOGIN_PASSPHRASE, "csrf_token": token})
    assert client.get("/dashboard/translations").status_code == 403


QUECHUA = locales.load_registry()["qu"]
SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)


@SETTINGS
@given(
    msgid=st.sampled_from(["Salir", "Hola, %(name)s", "%(num)s informe contado.", ""]) | st.text(max_size=30),
    strings=st.lists(st.text(max_size=60), max_size=3),
    fuzzy=st.booleans(),
)
def test_any_input_is_a_clean_answer_and_the_catalog_stays_valid(tito, translations, msgid, strings, fuzzy) -> None:
    answer = save(tito, "qu", msgid, *strings, fuzzy=fuzzy)
    assert answer.status_code in (302, 400, 404, 422), answer.status_code
    catalog = i18n_catalogs.read_catalog(i18n_catalogs.catalog_path("qu", translations))
    for message in catalog:
        if message.id and any(message.string if message.pluralizable else [message.string]):
            entry = service.entry_of(message)
            service.check_translation(entry, list(entry.strings), QUECHUA)  # what was stored passes the checks


def test_the_language_chosen_before_logging_in_stays_after(app) -> None:
    client = app.test_client()
    token = csrf(client, "/dashboard/login?lang=en")
    client.post("/dashboard/login", data={"username": "tito", "passphrase": LOGIN_PASSPHRASE, "csrf_token": token})
    assert "Hello, tito" in client.get("/dashboard/").get_data(as_text=True)


def test_a_catalog_the_server_cannot_write_is_a_clear_error_and_nothing_changes(
    tito, translations, monkeypatch
) -> None:
    before = po_text(translations, "qu")
    real_write = i18n_catalogs.write_atomically

    def disk_full_for_compiled_files(path: Path, data: bytes) -> None:
        if path.suffix in (".mo", ".json"):
            raise OSError(28, "No space left on device")
        real_write(path, data)

    monkeypatch.setattr(i18n_catalogs, "write_atomically", disk_full_for_compiled_files)
    answer = save(tito, "qu", "Salir", "Lluqsiy")
    assert answer.status_code == 503 and "revisar la carpeta translations" in answer.get_data(as_text=True)
    assert po_text(translations, "qu") == before  # put back: the .po file and what is served agree


def upload(client, code: str, data: bytes):  # type: ignore[no-untyped-def]
    form = {"csrf_token": csrf(client, "/dashboard/"), "catalog": (io.BytesIO(data), "fieldapp.po")}
    return client.post(f"/dashboard/translations/{code}/catalog.po", data=form, content_type="multipart/form-data")


def test_poedit_round_trip_applies_what_passes_and_names_what_does_not(app, tito, translations) -> None:
    from babel.messages.pofile import read_po, write_po

    downloaded = tito.get("/dashboard/translations/qu/catalog.po")
    assert downloaded.status_code == 200 and "fieldapp-qu.po" in downloaded.headers["Content-Disposition"]
    catalog = read_po(io.BytesIO(downloaded.data))
    catalog["Salir"].string = "Lluqsiy-poedit"  # good
    catalog["Buscar"].string = "Maskay-poedit"
    catalog["Buscar"].flags.add("fuzzy")  # good, but uncertain
    catalog["Hola, %(name)s"].string = "Napaykullayki"  # the name is lost: refused
    catalog["Hola, %(name)s"].flags.discard("fuzzy")
    catalog.add("Un texto que ya no existe", "Mana kanchu")  # the code changed since: ignored
    edited = io.BytesIO()
    write_po(edited, catalog)
    answer = upload(tito, "qu", edited.getvalue())
    page = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert "2 traducciones aplicadas" in page and "1 texto ya no existe" in page
    assert "1 traducción rechazada" in page and "«Hola, %(name)s»" in page and "Los marcadores" in page
    po = po_text(translations, "qu")
    assert 'msgstr "Lluqsiy-poedit"' in po and 'msgstr "Napaykullayki, %(name)s"' in po  # refused: kept as was
    assert "#, fuzzy" in po.split('msgid "Buscar"')[0].rsplit("\n\n", 1)[-1]
    assert "Lluqsiy-poedit" in tito.get("/dashboard/?lang=qu").get_data(as_text=True)  # compiled at once
    with app.app_context():
        event = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
        assert event.action == "translations_imported" and '"applied":2' in event.detail


@pytest.mark.parametrize(
    ("code", "data", "message"),
    [
        ("qu", b"", "no es un catálogo"),
        ("qu", b"\x00\xff\xfe not a catalog", "no es un catálogo"),
        ("qu", b'msgid "Salir"\nmsgstr "x"\nnonsense here\n', "no es un catálogo"),
        ("ay", None, "del idioma «qu», no de «ay»"),
    ],
)
def test_a_file_that_is_not_this_languages_catalog_is_refused(tito, translations, code, data, message) -> None:
    before = {c: po_text(translations, c) for c in ("qu", "ay")}
    if data is None:
        data = tito.get("/dashboard/translations/qu/catalog.po").data
    answer = upload(tito, code, data)
    assert answer.status_code == 422 and message in answer.get_data(as_text=True)
    assert {c: po_text(translations, c) for c in ("qu", "ay")} == before


@SETTINGS
@given(data=st.binary(max_size=400) | st.text(max_size=400).map(lambda t: f'msgid "Salir"\nmsgstr "{t}"\n'.encode()))
def test_any_uploaded_file_is_a_clean_answer(tito, translations, data: bytes) -> None:
    answer = upload(tito, "qu", data)
    assert answer.status_code in (200, 400, 422), answer.status_code
    catalog = i18n_catalogs.read_catalog(i18n_catalogs.catalog_path("qu", translations))
    salir = service.entry_of(catalog["Salir"])
    if salir.state != "untranslated":
        service.check_translation(salir, list(salir.strings), QUECHUA)  # whatever was applied passes the checks


def test_a_changed_spanish_text_shows_what_the_translation_was_written_for(tito, translations) -> None:
    """When the Spanish changes, `fieldapp i18n update` marks the old translation fuzzy and keeps the old
    Spanish beside it; the page shows both, so the translator sees what changed."""
    template = i18n_catalogs.read_catalog(translations / "messages.pot")
    before, after = "Hay una versión nueva de la aplicación.", "Hay una versión nueva de la aplicación fieldapp."
    old = template[before]
    template.delete(before)
    template.add(after, locations=old.locations)
    i18n_catalogs.write_template(template, translations / "messages.pot")
    i18n_catalogs.update_catalogs(translations)
    assert f'#| msgid "{before}"' in po_text(translations, "en")
    page = tito.get("/dashboard/translations/en?show=fuzzy&q=fieldapp.").get_data(as_text=True)
    assert after in page and ">There is a new version of the app.</textarea>" in page
    assert f'Se escribió para este texto anterior: <span lang="es">{before}</span>' in page
    assert save(tito, "qu", "Salir", "Lluqsiy").status_code == 302  # another language's save keeps it
    assert f'#| msgid "{before}"' in po_text(translations, "en")
    assert save(tito, "en", after, "There is a new version of fieldapp.").status_code == 302  # confirmed
    assert "#| msgid" not in po_text(translations, "en")
