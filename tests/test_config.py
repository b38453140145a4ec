"""Configuration: nothing to set on the embedded default, clear errors in production."""

from __future__ import annotations

import re
import stat

import pytest

from fieldapp.config import Config, ConfigError
from fieldapp.looks import offered_looks, shell_looks


def test_embedded_default_needs_nothing(tmp_path) -> None:
    config = Config.from_env({"FIELDAPP_INSTANCE": str(tmp_path / "inst")})
    assert config.database_url == f"sqlite:///{tmp_path / 'inst' / 'fieldapp.db'}"
    secret_file = tmp_path / "inst" / "secret_key"
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    assert len(config.secret_key) >= 48
    again = Config.from_env({"FIELDAPP_INSTANCE": str(tmp_path / "inst")})
    assert again.secret_key == config.secret_key  # generated once, then kept


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({}, "FIELDAPP_SECRET_KEY, FIELDAPP_DATABASE_URL"),
        ({"FIELDAPP_SECRET_KEY": "s" * 40}, "FIELDAPP_DATABASE_URL"),
        ({"FIELDAPP_DATABASE_URL": "postgresql+psycopg://x/y"}, "FIELDAPP_SECRET_KEY"),
        ({"FIELDAPP_SECRET_KEY": "short", "FIELDAPP_DATABASE_URL": "postgresql+psycopg://x/y"}, "al menos 32"),
    ],
)
def test_production_refuses_missing_settings(tmp_path, environ, message) -> None:
    env = {"FIELDAPP_ENV": "production", "FIELDAPP_INSTANCE": str(tmp_path), **environ}
    with pytest.raises(ConfigError, match=message):
        Config.from_env(env)
    assert not (tmp_path / "secret_key").exists()


def test_production_with_settings(tmp_path) -> None:
    config = Config.from_env(
        {
            "FIELDAPP_ENV": "production",
            "FIELDAPP_INSTANCE": str(tmp_path),
            "FIELDAPP_SECRET_KEY": "s" * 40,
            "FIELDAPP_DATABASE_URL": "postgresql+psycopg://u@h/db",
        }
    )
    assert config.is_production and config.secret_key == "s" * 40


def test_unknown_environment_name(tmp_path) -> None:
    with pytest.raises(ConfigError, match="FIELDAPP_ENV"):
        Config.from_env({"FIELDAPP_ENV": "prod", "FIELDAPP_INSTANCE": str(tmp_path)})


def test_scrypt_cost_override_is_bounded(tmp_path) -> None:
    assert Config.from_env({"FIELDAPP_INSTANCE": str(tmp_path), "FIELDAPP_SCRYPT_N": "1024"}).kdf.n == 1024
    with pytest.raises(ValueError):
        Config.from_env({"FIELDAPP_INSTANCE": str(tmp_path), "FIELDAPP_SCRYPT_N": "1000"})


def test_the_phones_rules_and_look_default_to_the_documented_values(tmp_path) -> None:
    config = Config.from_env({"FIELDAPP_INSTANCE": str(tmp_path)})
    assert config.default_look == "notas"
    assert config.phone_rules == {
        "pin_failures": 10,
        "draft_hours": 72,
        "lock_minutes": 2,
        "duress_pin": False,
        "recording_minutes": 10,
    }
    assert (config.max_attachment_mb, config.max_report_attachments_mb) == (32, 128)


def test_the_phones_rules_and_look_from_the_environment(tmp_path) -> None:
    config = Config.from_env(
        {
            "FIELDAPP_INSTANCE": str(tmp_path),
            "FIELDAPP_LOOK": "calculadora",
            "FIELDAPP_PIN_FAILURES": "3",
            "FIELDAPP_DRAFT_HOURS": "720",
            "FIELDAPP_LOCK_MINUTES": "0",
            "FIELDAPP_DURESS_PIN": "1",
            "FIELDAPP_RECORDING_MINUTES": "60",
            "FIELDAPP_MAX_ATTACHMENT_MB": "8",
            "FIELDAPP_MAX_REPORT_ATTACHMENTS_MB": "4",
        }
    )
    assert config.default_look == "calculadora"
    assert config.phone_rules == {
        "pin_failures": 3,
        "draft_hours": 720,
        "lock_minutes": 0,
        "duress_pin": True,
        "recording_minutes": 60,
    }
    # A report's whole allowance is never below one attachment's: 8 MiB each, 8 MiB a report.
    assert config.attachment_limits == (8 << 20, 8 << 20)
    assert Config.from_env({"FIELDAPP_INSTANCE": str(tmp_path), "FIELDAPP_DURESS_PIN": "0"}).duress_pin is False


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("FIELDAPP_PIN_FAILURES", "2", "FIELDAPP_PIN_FAILURES debe ser un número entero de 3 a 50"),
        ("FIELDAPP_PIN_FAILURES", "51", "de 3 a 50"),
        ("FIELDAPP_PIN_FAILURES", "ten", "de 3 a 50"),
        ("FIELDAPP_PIN_FAILURES", "-5", "de 3 a 50"),
        ("FIELDAPP_PIN_FAILURES", "10\n", "de 3 a 50"),
        ("FIELDAPP_DRAFT_HOURS", "0", "FIELDAPP_DRAFT_HOURS debe ser un número entero de 1 a 720"),
        ("FIELDAPP_DRAFT_HOURS", "721", "de 1 a 720"),
        ("FIELDAPP_DRAFT_HOURS", "7.5", "de 1 a 720"),
        ("FIELDAPP_LOCK_MINUTES", "61", "FIELDAPP_LOCK_MINUTES debe ser un número entero de 0 a 60"),
        ("FIELDAPP_LOCK_MINUTES", "9" * 40, "de 0 a 60"),
        ("FIELDAPP_RECORDING_MINUTES", "0", "FIELDAPP_RECORDING_MINUTES debe ser un número entero de 1 a 60"),
        ("FIELDAPP_MAX_ATTACHMENT_MB", "2000", "de 1 a 1024"),
        ("FIELDAPP_DURESS_PIN", "yes", "FIELDAPP_DURESS_PIN debe ser «1» (sí) o «0» (no)"),
        ("FIELDAPP_DURESS_PIN", "true", "FIELDAPP_DURESS_PIN"),
        ("FIELDAPP_LOOK", "tetris", "FIELDAPP_LOOK debe ser uno de notas, clima, calculadora"),
        ("FIELDAPP_LOOK", "Notas", "FIELDAPP_LOOK"),
    ],
)
def test_a_phone_setting_out_of_range_is_refused_by_name(tmp_path, name, value, message) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        Config.from_env({"FIELDAPP_INSTANCE": str(tmp_path / "inst"), name: value})
    assert not (tmp_path / "inst").exists()  # refused before anything was written


def square_png(side: int, width: int | None = None, whole: bool = True) -> bytes:
    """A grey PNG of that size; `whole=False`: its header alone."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width or side, side, 8, 0, 0, 0, 0))
    pixels = zlib.compress((b"\0" + b"\x80" * (width or side)) * side)
    return header + (chunk(b"IDAT", pixels) + chunk(b"IEND", b"") if whole else b"")


def test_the_organisations_own_look_from_the_environment(tmp_path) -> None:
    icon = tmp_path / "agenda.png"
    icon.write_bytes(square_png(256))
    environ = {
        "FIELDAPP_INSTANCE": str(tmp_path / "i"),
        "FIELDAPP_OWN_LOOK": " Agenda Coop ",
        "FIELDAPP_LOOK": "propia",
    }
    config = Config.from_env({**environ, "FIELDAPP_OWN_LOOK_COLOR": "#2A9D8F", "FIELDAPP_OWN_LOOK_ICON": str(icon)})
    own = config.own_look
    assert config.default_look == "propia" and own is not None
    assert (own.name, own.theme_color, own.icon_png) == ("Agenda Coop", "#2a9d8f", icon.read_bytes())
    assert own.icons == [{"src": "/looks/propia.png", "sizes": "256x256", "purpose": "any"}]
    plain = Config.from_env({**environ, "FIELDAPP_OWN_LOOK_ICON": "clima"}).own_look
    assert plain.icon_png is None and plain.icon_192 == "/static/icons/clima-192.png"
    counting = Config.from_env({**environ, "FIELDAPP_OWN_LOOK_ICON": "calculadora"}).own_look
    listed = shell_looks(str, offered_looks(counting))
    assert listed["propia"]["calculator"] and not shell_looks(str, offered_looks(plain))["propia"]["calculator"]
    assert Config.from_env({"FIELDAPP_INSTANCE": str(tmp_path / "j")}).own_look is None


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"FIELDAPP_LOOK": "propia"}, "FIELDAPP_LOOK debe ser uno de notas, clima, calculadora, no «propia»"),
        ({"FIELDAPP_OWN_LOOK": "x" * 31}, "FIELDAPP_OWN_LOOK debe ser un nombre corto"),
        ({"FIELDAPP_OWN_LOOK": "Agenda\nCoop"}, "FIELDAPP_OWN_LOOK debe ser un nombre corto"),
        (
            {"FIELDAPP_OWN_LOOK": "Agenda", "FIELDAPP_OWN_LOOK_COLOR": "red"},
            "FIELDAPP_OWN_LOOK_COLOR debe ser un color",
        ),
        ({"FIELDAPP_OWN_LOOK": "Agenda", "FIELDAPP_OWN_LOOK_ICON": "/no/such.png"}, "No se puede leer"),
        ({"FIELDAPP_OWN_LOOK": "Agenda", "FIELDAPP_OWN_LOOK_ICON": "tetris"}, "No se puede leer"),
        ({"FIELDAPP_OWN_LOOK": "Agenda", "FIELDAPP_OWN_LOOK_ICON": "{small}"}, "un PNG cuadrado de 144 a 1024"),
        ({"FIELDAPP_OWN_LOOK": "Agenda", "FIELDAPP_OWN_LOOK_ICON": "{oblong}"}, "un PNG cuadrado"),
        ({"FIELDAPP_OWN_LOOK": "Agenda", "FIELDAPP_OWN_LOOK_ICON": "{text}"}, "un PNG cuadrado"),
        ({"FIELDAPP_OWN_LOOK": "Agenda", "FIELDAPP_OWN_LOOK_ICON": "{header}"}, "un PNG cuadrado"),
        ({"FIELDAPP_OWN_LOOK": "Agenda", "FIELDAPP_OWN_LOOK_ICON": "{broken}"}, "un PNG cuadrado"),
        ({"FIELDAPP_OWN_LOOK": "Agenda", "FIELDAPP_OWN_LOOK_ICON": "{huge}"}, "hasta 256 KB"),
    ],
)
def test_a_broken_own_look_is_refused_at_start(tmp_path, values, message) -> None:
    files = {"small": square_png(96), "oblong": square_png(512, width=256), "text": b"not a picture" * 10}
    files["huge"] = square_png(512) + b"\0" * 300_000
    files["header"] = square_png(256, whole=False)
    whole = square_png(256)
    files["broken"] = whole[:40] + bytes([whole[40] ^ 1]) + whole[41:]  # one bit off: its checksum fails
    for name, data in files.items():
        (tmp_path / f"{name}.png").write_bytes(data)
    values = {k: v.format(**{n: str(tmp_path / f"{n}.png") for n in files}) for k, v in values.items()}
    with pytest.raises(ConfigError, match=re.escape(message)):
        Config.from_env({"FIELDAPP_INSTANCE": str(tmp_path / "inst"), **values})
    assert not (tmp_path / "inst").exists()
