"""The phone's language: picked offline, switched without a reload, remembered."""

from __future__ import annotations

import json

import pytest

import fieldapp.i18n as i18n
import fieldapp.web.precache as precache
from fieldapp import PROJECT_ROOT, locales

from .conftest import enrol, wait_for_service_worker

CATALOG = PROJECT_ROOT / "static" / "i18n" / "xyz.json"


@pytest.fixture
def language_xyz(monkeypatch):  # type: ignore[no-untyped-def]
    """A registered language with a small compiled catalog, as `fieldapp i18n compile` would leave it."""
    CATALOG.parent.mkdir(parents=True, exist_ok=True)
    CATALOG.write_text(json.dumps({"Informes": "Willakuykuna-xyz", "Idioma": "Simi-xyz"}), "utf-8")
    registered = dict(i18n.registry())
    registered["xyz"] = locales.LocaleEntry("xyz", "Xyzeño", "Xyzeño", ("es",), "es_PE", "nplurals=1; plural=0;")
    monkeypatch.setattr(i18n, "registry", lambda: registered)
    precache._static_files.cache_clear()  # the service worker must now cache the new catalog
    yield
    CATALOG.unlink()
    precache._static_files.cache_clear()


def test_switch_language_offline_without_reload_and_remember_it(page, context, live_server, language_xyz) -> None:
    enrol(page, live_server)
    wait_for_service_worker(page)
    context.set_offline(True)
    page.select_option("#language", "xyz")
    page.wait_for_selector("h1:text('Willakuykuna-xyz')")  # the same page, no reload
    assert page.evaluate("document.documentElement.lang") == "xyz"
    assert "Nuevo informe" in page.inner_text("main")  # untranslated: Spanish, the fallback
    assert page.inner_text("label[for=language]") == "Simi-xyz"
    page.reload()
    page.wait_for_selector("h1:text('Willakuykuna-xyz')")  # remembered, and served offline
    page.select_option("#language", "es")
    page.wait_for_selector("h1:text('Informes')")
