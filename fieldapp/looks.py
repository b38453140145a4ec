"""The looks a phone can wear on its home screen: an ordinary app's name, colours and icons, nothing of reports.

A look is fixed when the phone installs the app (browsers apply a changed name or icon late or never), so
an enrolment code carries the look its phone takes, and every look's manifest is served and cached. Besides
the shipped ones, an organisation may set its own (`FIELDAPP_OWN_LOOK`): its name, colour and picture.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import N_, Invalid

OWN_LOOK = "propia"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
OWN_ICON_SIDES = (144, 1024)  # browsers want at least 144 px to install an app
OWN_ICON_MAX_BYTES = 256 * 1024


@dataclass(frozen=True)
class Look:
    id: str
    name: str  # a msgid, shown in the phone's language; the organisation's own look: its name as set
    theme_color: str
    background_color: str
    own: bool = False
    picture: str = ""  # a shipped look whose icons it wears (the organisation's own look, without a picture)
    icon_png: bytes | None = None  # the organisation's own picture, a square PNG

    def label(self, translate: Callable[[str], str]) -> str:
        return self.name if self.own else translate(self.name)

    @property
    def icons(self) -> list[dict[str, str]]:
        """The manifest's icons: a shipped picture at 192 and 512 px, or the organisation's at its size."""
        if self.icon_png is not None:
            side = png_side(self.icon_png)
            return [{"src": self.icon_192, "sizes": f"{side}x{side}", "purpose": "any"}]
        return [
            {"src": self.icon_192, "sizes": "192x192", "purpose": "any maskable"},
            {"src": self.icon_512, "sizes": "512x512", "purpose": "any maskable"},
        ]

    @property
    def icon_192(self) -> str:
        return self.own_icon if self.icon_png is not None else f"/static/icons/{self.picture or self.id}-192.png"

    @property
    def icon_512(self) -> str:
        return self.own_icon if self.icon_png is not None else f"/static/icons/{self.picture or self.id}-512.png"

    @property
    def own_icon(self) -> str:
        return f"/looks/{self.id}.png"

    @property
    def manifest(self) -> str:
        return f"/looks/{self.id}.webmanifest"

    def fingerprint(self) -> dict[str, Any]:
        """What the phones' cached copy depends on (the picture by its digest)."""
        picture = hashlib.sha256(self.icon_png).hexdigest() if self.icon_png is not None else self.picture
        return {"id": self.id, "name": self.name, "colors": [self.theme_color, self.background_color], "icon": picture}


def png_side(data: bytes) -> int:
    """The side of a square PNG, or 0 if `data` is not one: its chunks whole, each with its checksum, from
    the header to the end (the pixels themselves are left to the browser)."""
    if len(data) < 24 or not data.startswith(PNG_SIGNATURE) or data[12:16] != b"IHDR":
        return 0
    position, kind = len(PNG_SIGNATURE), b""
    while kind != b"IEND":
        if position + 12 > len(data):
            return 0
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind, body = data[position + 4 : position + 8], data[position + 8 : position + 8 + length]
        end = position + 12 + length
        if end > len(data) or zlib.crc32(kind + body) != struct.unpack(">I", data[end - 4 : end])[0]:
            return 0
        position = end
    width, height = struct.unpack(">II", data[16:24])
    return width if width == height and position == len(data) else 0


LOOKS: dict[str, Look] = {
    look.id: look
    for look in (
        Look("notas", N_("Notas"), theme_color="#f2c14e", background_color="#fff8e1"),
        Look("clima", N_("Clima"), theme_color="#2f7fc1", background_color="#e8f2fb"),
        Look("calculadora", N_("Calculadora"), theme_color="#4a4f55", background_color="#eceeef"),
    )
}
DEFAULT_LOOK = "notas"


def offered_looks(own: Look | None) -> dict[str, Look]:
    """The shipped looks, and the organisation's own if it set one."""
    return {**LOOKS, OWN_LOOK: own} if own is not None else dict(LOOKS)


def check_look(look_id: str | None, offered: Mapping[str, Look] = LOOKS) -> str | None:
    """A look id as given (None: the configured default, decided when it is used), or a clear refusal."""
    if look_id is not None and look_id not in offered:
        raise Invalid(
            N_("No existe el aspecto «%(look)s»; los que hay son: %(looks)s."),
            look=look_id[:40],
            looks=", ".join(offered),
        )
    return look_id


def look_or_default(look_id: str | None, default: str, offered: Mapping[str, Look] = LOOKS) -> Look:
    """The look a phone wears: its own, or the default when it has none (or one no longer offered)."""
    return offered.get(look_id or "") or offered.get(default) or LOOKS[DEFAULT_LOOK]


def shell_looks(translate: Callable[[str], str], offered: Mapping[str, Look] = LOOKS) -> dict[str, dict[str, str]]:
    """Every look as the shell page lists it, so that the page can put on a phone's own look offline."""
    return {
        look.id: {
            "name": look.label(translate),
            "theme_color": look.theme_color,
            "background_color": look.background_color,
            "manifest": look.manifest,
            "icon": look.icon_192,
            "calculator": (look.picture or look.id) == "calculadora",  # its lock is a calculator that works
        }
        for look in offered.values()
    }
