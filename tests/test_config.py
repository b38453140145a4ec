"""Configuration: nothing to set on the embedded default, clear errors in production."""

from __future__ import annotations

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
