"""The phone's language: picked offline, switched without a reload, remembered; plural rules as gettext's."""

from __future__ import annotations

import gettext
import shutil

import pytest
from babel.messages.pofile import read_po, write_po

from fieldapp.i18n import catalogs as i18n_catalogs

from .conftest import PHONE_LOCALE, choose_pin, enrol, open_app, wait_for_queued, wait_for_service_worker


@pytest.fixture
def language_xyz(live_server):  # type: ignore[no-untyped-def]
    """A language CLDR lacks, added to the running server the translators' way: `fieldapp i18n add`, a
    translated catalog, `fieldapp i18n compile`. No code changes and no restart."""
    translations = live_server.translations
    registry_before = (translations / "locales.json").read_bytes()
    runner = live_server.app.test_cli_runner()
    added = runner.invoke(args=["i18n", "add", "xyz", "--name", "Xyzeño", "--plural", "nplurals=1; plural=0;"])
    assert added.exit_code == 0, added.output
    po = i18n_catalogs.catalog_path("xyz", translations)
    with open(po, "rb") as handle:
        catalog = read_po(handle)
    catalog["Informes"].string = "Willakuykuna-xyz"
    catalog["Idioma"].string = "Simi-xyz"
    with open(po, "wb") as out:
        write_po(out, catalog)
    assert runner.invoke(args=["i18n", "compile"]).exit_code == 0
    yield
    (translations / "locales.json").write_bytes(registry_before)
    shutil.rmtree(translations / "xyz")
    i18n_catalogs.compile_catalogs(translations)


def test_a_language_added_while_serving_reaches_the_phone_offline(page, context, live_server, language_xyz) -> None:
    enrol(page, live_server)
    wait_for_service_worker(page)
    context.set_offline(True)
    page.select_option("#language", "xyz")
    page.wait_for_selector("h1:text('Willakuykuna-xyz')")  # the same page, no reload
    assert page.evaluate("document.documentElement.lang") == "xyz"
    assert "Nuevo informe" in page.inner_text("main")  # untranslated: Spanish, the fallback
    assert page.inner_text("label[for=language]") == "Simi-xyz"
    page.reload()
    open_app(page)
    page.wait_for_selector("h1:text('Willakuykuna-xyz')")  # remembered, and served offline
    page.select_option("#language", "es")
    page.wait_for_selector("h1:text('Informes')")


RULES = [
    "0",
    "(n != 1)",
    "(n > 1)",
    "(n == 1 ? 0 : n != 0 && n % 1000000 == 0 ? 1 : 2)",
    "(n%10==1 && n%100!=11 ? 0 : n%10>=2 && n%10<=4 && (n%100<10 || n%100>=20) ? 1 : 2)",
    "(n==0 ? 0 : n==1 ? 1 : n==2 ? 2 : n%100>=3 && n%100<=10 ? 3 : n%100>=11 ? 4 : 5)",
    "n==1 ? 0 : (n==0 || (n%100 > 0 && n%100 < 20)) ? 1 : 2",
    "(n % 10 == 1) + (n > 1) - (n > 5) * 2 / 2",
    "!(n == 1)",
]


def test_plural_rules_choose_the_form_gettext_chooses(page, live_server) -> None:
    """The field app evaluates Plural-Forms without eval() (the CSP forbids it), the same way Python's
    gettext does, for every shipped language's rule and for harder ones."""
    from fieldapp.i18n import locales

    registry = locales.load_registry(live_server.translations / "locales.json")
    shipped = [entry.plural_expression for entry in registry.values()]
    page.goto(live_server.url + "/")
    counts = list(range(0, 230)) + [1000, 1001, 1000000, 2000000, 1000001]
    chosen = page.evaluate(
        """async ([rules, counts]) => {
            const { compilePluralRule } = await import('/static/js/plural.js');
            return rules.map((rule) => { const pick = compilePluralRule(rule); return counts.map((n) => pick(n)); });
        }""",
        [RULES + shipped, counts],
    )
    for rule, forms in zip(RULES + shipped, chosen, strict=True):
        expected = gettext.c2py(rule)
        assert forms == [expected(n) for n in counts], rule
    refused = page.evaluate(
        """async (rules) => {
            const { compilePluralRule } = await import('/static/js/plural.js');
            return rules.map((rule) => { try { compilePluralRule(rule); return false; } catch { return true; } });
        }""",
        ["n +", "(n", "alert(1)", "n ? 1", "n ; 1", "-n"],
    )
    assert all(refused)


def choice_label(page, field: str, code: str) -> str:  # type: ignore[no-untyped-def]
    return page.inner_text(f"label:has(input[name={field}][value={code}])").strip()


def test_shipped_languages_offline_quechua_and_shipibo(page, context, live_server) -> None:
    """Quechua words where the catalog has them; Shipibo-Konibo's one confirmed word beside Spanish, whose
    unconfirmed (fuzzy) suggestion is not shown; dates through each language's formatting locale."""
    import datetime as dt

    from babel.dates import format_date

    enrol(page, live_server)
    wait_for_service_worker(page)
    context.set_offline(True)
    page.click("text=Informe rápido")
    page.select_option("#f-department", "21")
    page.check("input[name=place_kind][value=mining_camp]")
    page.check("input[name=exploitation_type][value=ForcedLabour]")
    page.click("text=Guardar y cifrar")
    page.wait_for_selector("text=Informe guardado y cifrado")
    today = dt.date.today()

    page.select_option("#language", "qu")
    page.wait_for_selector("label[for=language]:text-is('Simi')")  # Quechua, confirmed in the catalog
    # This Chromium has no CLDR data for qu_PE: the app uses es_PE, the next locale of the chain.
    assert f"Guardado el primero: {format_date(today, 'long', locale='es_PE')}" in page.inner_text("main")
    page.click("text=Nuevo informe")
    assert choice_label(page, "sex", "Feminine") == "Warmi" and choice_label(page, "sex", "Masculine") == "Qhari"
    page.click("text=Descartar")

    page.select_option("#language", "shp")
    page.wait_for_selector("label[for=language]:text-is('Idioma')")  # fuzzy in the catalog: Spanish is shown
    assert page.evaluate("document.documentElement.lang") == "shp"
    page.click("text=Nuevo informe")
    assert choice_label(page, "sex", "Feminine") == "Ainbo"  # translated, beside...
    assert choice_label(page, "sex", "Masculine") == "Hombre"  # ...one falling back to Spanish
    page.click("text=Descartar")
    page.wait_for_selector("text=Guardado el primero")
    assert f"Guardado el primero: {format_date(today, 'long', locale='es_PE')}" in page.inner_text("main")

    page.select_option("#language", "en")
    page.wait_for_selector("text=Oldest saved")
    home = page.inner_text("main")
    assert f"Oldest saved: {format_date(today, 'long', locale='en')}" in home and "Send now" in home

    asked: list[str | None] = []
    context.on(
        "request", lambda r: asked.append(r.headers.get("accept-language")) if r.url.endswith("/reports") else None
    )
    context.set_offline(False)  # back online: the outbox sends by itself
    wait_for_queued(page, 0)
    assert asked and set(asked) == {"en, es;q=0.5"}  # the server answers in the phone's chosen language


@pytest.fixture
def translator(live_server):  # type: ignore[no-untyped-def]
    """A translator account; the Aymara catalog is put back afterwards (the live server is shared)."""
    from fieldapp.extensions import db
    from fieldapp.services import users

    from ..conftest import FAST_KDF, LOGIN_PASSPHRASE

    po = i18n_catalogs.catalog_path("ay", live_server.translations)
    before = po.read_bytes()
    with live_server.app.app_context():
        if not db.session.query(users.User).filter_by(username="traductora").first():
            users.create_user(db.session, "traductora", "translator", LOGIN_PASSPHRASE, FAST_KDF)
            db.session.commit()
    yield "traductora", LOGIN_PASSPHRASE
    po.write_bytes(before)
    i18n_catalogs.compile_catalogs(live_server.translations)


def test_a_translation_saved_on_the_dashboard_reaches_the_phone(page, context, browser, live_server, translator):
    enrol(page, live_server)
    wait_for_service_worker(page)
    page.select_option("#language", "ay")
    page.wait_for_selector("label[for=language]:text-is('Aru')")
    assert page.inner_text("button.primary") == "Nuevo informe"

    desk = browser.new_context(locale=PHONE_LOCALE)
    dashboard = desk.new_page()
    dashboard.goto(live_server.url + "/dashboard/login")
    dashboard.fill("#username", translator[0])
    dashboard.fill("#passphrase", translator[1])
    dashboard.click("button[type=submit]")
    dashboard.wait_for_selector("h1:has-text('Hola')")
    dashboard.goto(live_server.url + "/dashboard/translations/ay?q=Nuevo+informe")
    entry = dashboard.locator("section", has=dashboard.locator("span.source", has_text="Nuevo informe")).first
    entry.locator("textarea").fill("Machaqa yatiyawi (prueba)")
    entry.locator("button[type=submit]").click()
    dashboard.wait_for_selector("text=Traducción guardada")
    desk.close()

    page.evaluate("navigator.serviceWorker.getRegistration().then((r) => r.update())")
    page.wait_for_selector("text=Hay una versión nueva")  # the phone is offered the new catalog...
    page.click("text=Actualizar")
    open_app(page)  # the update reloads the app, which opens locked
    page.wait_for_selector("button.primary:text-is('Machaqa yatiyawi (prueba)')")  # ...and shows it
    context.set_offline(True)
    page.reload()
    open_app(page)
    page.wait_for_selector("button.primary:text-is('Machaqa yatiyawi (prueba)')")  # kept for offline use


def test_a_phone_in_english_starts_in_english_until_a_language_is_picked(browser, live_server) -> None:
    phone = browser.new_context(viewport={"width": 360, "height": 740}, locale="en-GB")
    page = phone.new_page()
    enrol_code = live_server.enrollment_code()
    page.goto(live_server.url + "/")
    page.fill("#code", enrol_code)
    page.click("button.primary")
    choose_pin(page)
    page.wait_for_selector("h1:text-is('Reports')")  # the phone's language, offered by the server
    page.select_option("#language", "es")
    page.wait_for_selector("h1:text-is('Informes')")
    page.reload()
    open_app(page)
    page.wait_for_selector("h1:text-is('Informes')")  # the choice outlives the phone's language
    page.goto(live_server.url + "/?lang=qu")
    open_app(page)
    page.wait_for_selector("label[for=language]:text-is('Simi')")  # a preview...
    page.goto(live_server.url + "/")
    open_app(page)
    page.wait_for_selector("label[for=language]:text-is('Idioma')")  # ...that changes no choice
    phone.close()
