"""The looks a phone can wear on its home screen: an ordinary app's name, colours and icons, nothing of reports.

A look is fixed when the phone installs the app (browsers apply a changed name or icon late or never), so
an enrolment code carries the look its phone takes, and every look's manifest is served and cached.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .errors import N_, Invalid


@dataclass(frozen=True)
class Look:
    id: str
    name: str  # a msgid: shown in the phone's language
    theme_color: str
    background_color: str

    @property
    def icon_192(self) -> str:
        return f"/static/icons/{self.id}-192.png"

    @property
    def icon_512(self) -> str:
        return f"/static/icons/{self.id}-512.png"

    @property
    def manifest(self) -> str:
        return f"/looks/{self.id}.webmanifest"


LOOKS: dict[str, Look] = {
    look.id: look
    for look in (
        Look("notas", N_("Notas"), theme_color="#f2c14e", background_color="#fff8e1"),
        Look("clima", N_("Clima"), theme_color="#2f7fc1", background_color="#e8f2fb"),
        Look("calculadora", N_("Calculadora"), theme_color="#4a4f55", background_color="#eceeef"),
    )
}
DEFAULT_LOOK = "notas"


def check_look(look_id: str | None) -> str | None:
    """A look id as given (None: the configured default, decided when it is used), or a clear refusal."""
    if look_id is not None and look_id not in LOOKS:
        raise Invalid(
            N_("No existe el aspecto «%(look)s»; los que hay son: %(looks)s."),
            look=look_id[:40],
            looks=", ".join(LOOKS),
        )
    return look_id


def look_or_default(look_id: str | None, default: str) -> Look:
    """The look a phone wears: its own, or the default when it has none (or one no longer shipped)."""
    return LOOKS.get(look_id or "", LOOKS[default])


def shell_looks(translate: Callable[[str], str]) -> dict[str, dict[str, str]]:
    """Every look as the shell page lists it, so that the page can put on a phone's own look offline."""
    return {
        look.id: {
            "name": translate(look.name),
            "theme_color": look.theme_color,
            "background_color": look.background_color,
            "manifest": look.manifest,
            "icon": look.icon_192,
        }
        for look in LOOKS.values()
    }
