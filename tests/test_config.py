"""Configuration: nothing to set on the embedded default, clear errors in production."""

from __future__ import annotations

import re
import stat

import pytest

from fieldapp.config import Config, ConfigError


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
    assert config.phone_rules == {"pin_failures": 10, "draft_hours": 72, "lock_minutes": 2, "duress_pin": False}


def test_the_phones_rules_and_look_from_the_environment(tmp_path) -> None:
    config = Config.from_env(
        {
            "FIELDAPP_INSTANCE": str(tmp_path),
            "FIELDAPP_LOOK": "calculadora",
            "FIELDAPP_PIN_FAILURES": "3",
            "FIELDAPP_DRAFT_HOURS": "720",
            "FIELDAPP_LOCK_MINUTES": "0",
            "FIELDAPP_DURESS_PIN": "1",
        }
    )
    assert config.default_look == "calculadora"
    assert config.phone_rules == {"pin_failures": 3, "draft_hours": 720, "lock_minutes": 0, "duress_pin": True}
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
