"""Typed configuration, read from the environment once; refuses missing secrets in production."""

from __future__ import annotations

import dataclasses
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .crypto import KdfParams
from .errors import N_, Invalid
from .looks import DEFAULT_LOOK, LOOKS, OWN_ICON_MAX_BYTES, OWN_ICON_SIDES, OWN_LOOK, Look, png_side

MiB = 1024 * 1024
TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations"


class ConfigError(Invalid):
    """A configuration that must not start; the message says what to set."""


@dataclass(frozen=True)
class Config:
    secret_key: str
    database_url: str
    instance_path: Path
    env: str = "development"
    kdf: KdfParams = field(default_factory=KdfParams)
    max_request_bytes: int = 4 * MiB
    max_batch_reports: int = 100
    max_ct_bytes: int = 3 * MiB // 2
    # Attachments (PROTOCOL.md §4): the largest one, and all of one report's together, in MiB.
    max_attachment_mb: int = 32
    max_report_attachments_mb: int = 128
    enroll_code_ttl_hours: int = 24
    # The look a phone takes when its code names none, and the organisation's own look, if it set one.
    default_look: str = DEFAULT_LOOK
    own_look: Look | None = None
    # The organisation's rules for its phones, sent with every bootstrap.
    pin_failures: int = 10
    draft_hours: int = 72
    lock_minutes: int = 2
    duress_pin: bool = False
    recording_minutes: int = 10
    testing: bool = False
    # A base that relays to HQ: seconds between forwarding passes (fieldapp serve runs them beside the server).
    relay_seconds: int = 60
    relay_timeout_seconds: int = 30  # the longest wait for HQ's answer: a stalled link is given up on
    # The catalogs and the language registry; the dashboard's translator page writes here.
    translations_dir: Path = TRANSLATIONS

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def phone_rules(self) -> dict[str, int | bool]:
        """The rules every phone is given with its bootstrap (docs/PROTOCOL.md §5)."""
        return {
            "pin_failures": self.pin_failures,
            "draft_hours": self.draft_hours,
            "lock_minutes": self.lock_minutes,
            "duress_pin": self.duress_pin,
            "recording_minutes": self.recording_minutes,
        }

    @property
    def tls_dir(self) -> Path:
        """The base's own authority and certificate (`fieldapp tls init`), for `fieldapp serve --tls`."""
        return self.instance_path / "tls"

    @property
    def attachment_limits(self) -> tuple[int, int]:
        """(bytes one attachment may have, bytes all of one report's may have together)."""
        return (self.max_attachment_mb * MiB, self.max_report_attachments_mb * MiB)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Config:
        environ = os.environ if environ is None else environ
        env = environ.get("FIELDAPP_ENV", "development")
        if env not in ("development", "production"):
            raise ConfigError(N_("FIELDAPP_ENV debe ser «development» o «production», no «%(value)s»."), value=env)
        instance = Path(environ.get("FIELDAPP_INSTANCE") or "instance").resolve()
        secret = environ.get("FIELDAPP_SECRET_KEY", "")
        database_url = environ.get("FIELDAPP_DATABASE_URL", "")
        if env == "production":
            missing = [
                n for n, v in (("FIELDAPP_SECRET_KEY", secret), ("FIELDAPP_DATABASE_URL", database_url)) if not v
            ]
            if missing:
                raise ConfigError(N_("En producción hay que definir %(names)s."), names=", ".join(missing))
            if len(secret) < 32:
                raise ConfigError(N_("FIELDAPP_SECRET_KEY debe tener al menos 32 caracteres de texto aleatorio."))
        own_look = _own_look(environ)
        offered = [*LOOKS, *([OWN_LOOK] if own_look else [])]
        look = environ.get("FIELDAPP_LOOK") or DEFAULT_LOOK
        if look not in offered:
            raise ConfigError(
                N_("FIELDAPP_LOOK debe ser uno de %(looks)s, no «%(value)s»."),
                looks=", ".join(offered),
                value=look[:40],
            )
        duress = environ.get("FIELDAPP_DURESS_PIN") or "0"
        if duress not in ("0", "1"):
            raise ConfigError(
                N_("FIELDAPP_DURESS_PIN debe ser «1» (sí) o «0» (no), no «%(value)s»."), value=duress[:20]
            )
        phone = {
            "pin_failures": _bounded(environ, "FIELDAPP_PIN_FAILURES", cls.pin_failures, 3, 50),
            "draft_hours": _bounded(environ, "FIELDAPP_DRAFT_HOURS", cls.draft_hours, 1, 720),
            "lock_minutes": _bounded(environ, "FIELDAPP_LOCK_MINUTES", cls.lock_minutes, 0, 60),
            "recording_minutes": _bounded(environ, "FIELDAPP_RECORDING_MINUTES", cls.recording_minutes, 1, 60),
        }
        attachment_mb = _bounded(environ, "FIELDAPP_MAX_ATTACHMENT_MB", cls.max_attachment_mb, 1, 1024)
        report_mb = _bounded(environ, "FIELDAPP_MAX_REPORT_ATTACHMENTS_MB", cls.max_report_attachments_mb, 1, 4096)
        instance.mkdir(parents=True, exist_ok=True, mode=0o700)
        secret = secret or _instance_secret(instance)
        database_url = database_url or f"sqlite:///{instance / 'fieldapp.db'}"
        kdf = KdfParams()
        if environ.get("FIELDAPP_SCRYPT_N"):
            kdf = KdfParams.from_dict({"n": environ["FIELDAPP_SCRYPT_N"], "r": 8, "p": 1})
        translations = Path(environ.get("FIELDAPP_TRANSLATIONS") or TRANSLATIONS).resolve()
        return cls(
            secret_key=secret,
            database_url=database_url,
            instance_path=instance,
            env=env,
            kdf=kdf,
            translations_dir=translations,
            default_look=look,
            own_look=own_look,
            duress_pin=duress == "1",
            max_attachment_mb=attachment_mb,
            max_report_attachments_mb=max(report_mb, attachment_mb),
            relay_seconds=_bounded(environ, "FIELDAPP_RELAY_SECONDS", cls.relay_seconds, 1, 3600),
            relay_timeout_seconds=_bounded(
                environ, "FIELDAPP_RELAY_TIMEOUT_SECONDS", cls.relay_timeout_seconds, 1, 600
            ),
            **phone,
        )


def _bounded(environ: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    """A whole number setting within its range, or a refusal that names the variable and the range."""
    text = environ.get(name) or str(default)
    value = int(text) if re.fullmatch(r"[0-9]{1,6}", text) else None
    if value is None or not low <= value <= high:
        raise ConfigError(
            N_("%(name)s debe ser un número entero de %(low)s a %(high)s, no «%(value)s»."),
            name=name,
            low=low,
            high=high,
            value=text[:20],
        )
    return value


def _own_look(environ: Mapping[str, str]) -> Look | None:
    """The organisation's own look: FIELDAPP_OWN_LOOK (its name), _COLOR and _ICON (a shipped look's picture
    or a square PNG file), each checked now, so that no phone is ever given a broken one."""
    name = (environ.get("FIELDAPP_OWN_LOOK") or "").strip()
    if not name:
        return None
    if len(name) > 30 or not name.isprintable():
        raise ConfigError(N_("FIELDAPP_OWN_LOOK debe ser un nombre corto (hasta 30 caracteres), sin saltos de línea."))
    color = environ.get("FIELDAPP_OWN_LOOK_COLOR") or "#4a6fa5"
    if not re.fullmatch(r"#[0-9a-fA-F]{6}", color):
        raise ConfigError(
            N_("FIELDAPP_OWN_LOOK_COLOR debe ser un color como #4a6fa5, no «%(value)s»."), value=color[:20]
        )
    icon = environ.get("FIELDAPP_OWN_LOOK_ICON") or DEFAULT_LOOK
    look = Look(OWN_LOOK, name, theme_color=color.lower(), background_color="#ffffff", own=True)
    if icon in LOOKS:
        return dataclasses.replace(look, picture=icon)
    try:
        with open(icon, "rb") as f:
            data = f.read(OWN_ICON_MAX_BYTES + 1)
    except OSError:
        raise ConfigError(N_("No se puede leer FIELDAPP_OWN_LOOK_ICON: «%(value)s»."), value=icon[:200]) from None
    low, high = OWN_ICON_SIDES
    if len(data) > OWN_ICON_MAX_BYTES or not low <= png_side(data) <= high:
        raise ConfigError(
            N_(
                "FIELDAPP_OWN_LOOK_ICON debe ser %(looks)s o un PNG cuadrado de %(low)s a %(high)s píxeles de lado y "
                "hasta %(kb)s KB."
            ),
            looks=", ".join(LOOKS),
            low=low,
            high=high,
            kb=OWN_ICON_MAX_BYTES // 1024,
        )
    return dataclasses.replace(look, icon_png=data)


def _instance_secret(instance: Path) -> str:
    """The embedded default's secret: generated once into the instance folder, readable by its owner only."""
    path = instance / "secret_key"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass  # made earlier, or by a worker starting beside this one
    else:
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(48))
    return path.read_text().strip()
