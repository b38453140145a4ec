"""The translator page: each language's untranslated and fuzzy strings, translated and saved in place.

Translators see no report: this page reads and writes the catalogs only.
"""

from __future__ import annotations

from flask import Response, redirect, render_template, request, url_for
from flask_babel import gettext

from .. import i18n
from ..database import writing
from ..errors import N_, Invalid
from ..extensions import db
from ..i18n import catalogs, locales
from ..models import Role, User
from ..services import audit
from ..services import translations as service
from . import bp
from .auth import role_required

TRANSLATORS = (Role.ADMIN.value, Role.TRANSLATOR.value)
PAGE_SIZE = 20
MAX_MSGID_CHARS = 10_000
# Where a string appears, in words a translator knows: the first matching folder wins.
PLACES = (
    ("static/js/", N_("Aplicación del teléfono")),
    ("fieldapp/templates/app.html", N_("Aplicación del teléfono")),
    ("fieldapp/looks.py", N_("Aplicación del teléfono")),
    ("fieldapp/forms/", N_("Formulario de informe")),
    ("fieldapp/templates/dashboard/", N_("Panel de supervisión")),
    ("fieldapp/templates/", N_("Páginas del servidor")),
    ("fieldapp/cli/", N_("Órdenes de administración")),
    ("fieldapp/", N_("Mensajes del servidor")),
)


def place_label(path: str) -> str:
    return next((label for prefix, label in PLACES if path.startswith(prefix)), N_("Mensajes del servidor"))


@bp.get("/dashboard/translations")
@role_required(*TRANSLATORS)
def translation_languages(user: User):  # type: ignore[no-untyped-def]
    directory = i18n.translations_dir()
    registry = i18n.registry()
    rows = [row for row in catalogs.coverage(directory) if row.code != locales.SOURCE]
    return render_template("dashboard/translations.html", user=user, rows=rows, registry=registry)


def _listing(  # type: ignore[no-untyped-def]
    user: User,
    code: str,
    *,
    error: str | None = None,
    typed: dict | None = None,
    status: int = 200,
    imported: service.ImportResult | None = None,
    refused: list[tuple[str, str]] | None = None,
):
    shown = request.values.get("show", "pending")
    shown = shown if shown in service.SHOWN else "pending"
    query = request.values.get("q", "")[:200]
    entries = service.list_entries(i18n.translations_dir(), code, shown, query)
    pages = max(1, -(-len(entries) // PAGE_SIZE))
    page = min(max(request.values.get("page", 1, type=int) or 1, 1), pages)
    language = i18n.registry()[code]
    shown_entries = entries[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    failed = service.find_entry(i18n.translations_dir(), code, typed["msgid"], typed.get("context")) if typed else None
    if failed is not None:  # the one being corrected comes first, whatever the filter and page
        shown_entries = [failed] + [e for e in shown_entries if e.msgid != failed.msgid]
    return (
        render_template(
            "dashboard/translate.html",
            user=user,
            language=language,
            entries=shown_entries,
            total=len(entries),
            page=page,
            pages=pages,
            shown=shown,
            shown_options=service.SHOWN,
            query=query,
            examples=service.plural_examples(language),
            place_label=place_label,
            error=error,
            typed=typed or {},
            saved=request.args.get("saved") == "1",
            imported=imported,
            refused=refused or [],
        ),
        status,
    )


@bp.get("/dashboard/translations/<code>")
@role_required(*TRANSLATORS)
def translation_page(user: User, code: str):  # type: ignore[no-untyped-def]
    return _listing(user, code)


@bp.post("/dashboard/translations/<code>")
@role_required(*TRANSLATORS)
def translation_save(user: User, code: str):  # type: ignore[no-untyped-def]
    msgid = request.form.get("msgid", "")[:MAX_MSGID_CHARS]
    context = request.form.get("context") or None
    strings = request.form.getlist("translation")[:6]
    fuzzy = request.form.get("fuzzy") == "1"
    try:
        saved = service.save_translation(i18n.translations_dir(), code, msgid, context, strings, fuzzy)
    except Invalid as exc:
        typed = {"msgid": msgid, "context": context, "strings": strings, "fuzzy": fuzzy}
        return _listing(user, code, error=exc.render(gettext), typed=typed, status=422)
    with writing(db.session):
        audit.record(
            db.session, user.username, "translation_saved", language=code, msgid=msgid[:200], state=saved.state
        )
    back = {key: request.form.get(key) for key in ("show", "q", "page") if request.form.get(key)}
    return redirect(url_for("dashboard.translation_page", code=code, saved="1", **back))


@bp.get("/dashboard/translations/<code>/catalog.po")
@role_required(*TRANSLATORS)
def translation_download(user: User, code: str) -> Response:
    """The language's catalog, to translate in Poedit away from the server."""
    response = Response(service.catalog_bytes(i18n.translations_dir(), code), mimetype="text/x-gettext-translation")
    response.headers["Content-Disposition"] = f'attachment; filename="fieldapp-{code}.po"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/dashboard/translations/<code>/catalog.po")
@role_required(*TRANSLATORS)
def translation_upload(user: User, code: str):  # type: ignore[no-untyped-def]
    upload = request.files.get("catalog")
    if upload is None or not upload.filename:
        return _listing(user, code, error=gettext("Elija el archivo .po que guardó Poedit."), status=422)
    try:
        result = service.import_catalog(i18n.translations_dir(), code, upload.read())
    except Invalid as exc:
        return _listing(user, code, error=exc.render(gettext), status=422)
    with writing(db.session):
        audit.record(
            db.session,
            user.username,
            "translations_imported",
            language=code,
            applied=result.applied,
            refused=len(result.refused),
        )
    refused = [(msgid, exc.render(gettext)) for msgid, exc in result.refused]
    return _listing(user, code, imported=result, refused=refused)
