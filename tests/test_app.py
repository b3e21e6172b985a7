"""Settings, health, the OpenAPI document, and the production guard rails."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import requests
from flask import Flask
from openapi_spec_validator import validate

from lti_tool import create_app
from lti_tool.settings import load_settings


def test_embedded_defaults(tmp_path: Path) -> None:
    settings = load_settings({}, instance_path=str(tmp_path / "inst"))
    assert settings.database_url == f"sqlite:///{tmp_path / 'inst' / 'beeldcoach.db'}"
    assert settings.media_dir == str(tmp_path / "inst" / "media")
    assert settings.broker_url == ""
    assert settings.demo_enabled and not settings.is_production
    # The secret key is generated once into the instance folder and reused.
    assert len(settings.secret_key) >= 40
    again = load_settings({}, instance_path=str(tmp_path / "inst"))
    assert again.secret_key == settings.secret_key
    assert (tmp_path / "inst" / "secret_key").stat().st_mode & 0o077 == 0


def test_environment_overrides(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "BEELDCOACH_INSTANCE_PATH": str(tmp_path),
            "BEELDCOACH_DATABASE_URL": "postgresql+psycopg://db/x",
            "BEELDCOACH_BROKER_URL": "redis://r:6379/0",
            "BEELDCOACH_SECRET_KEY": "s" * 40,
            "BEELDCOACH_ENV": "production",
            "BEELDCOACH_JWT_LEEWAY": "30",
            "BEELDCOACH_REGISTRATION_HOSTS": "moodle.school.nl, canvas.example",
        }
    )
    assert settings.database_url == "postgresql+psycopg://db/x"
    assert settings.broker_url == "redis://r:6379/0"
    assert settings.secret_key == "s" * 40
    assert settings.jwt_leeway == 30
    assert settings.is_production and not settings.demo_enabled
    assert settings.registration_allowed("moodle.school.nl")
    assert not settings.registration_allowed("evil.example")
    assert not (tmp_path / "secret_key").exists()


def test_registration_hosts_default_closed_in_production(tmp_path: Path) -> None:
    production = load_settings(
        {"BEELDCOACH_ENV": "production", "BEELDCOACH_SECRET_KEY": "x"}, instance_path=str(tmp_path)
    )
    assert production.registration_allowed("moodle.school.nl") is False
    development = load_settings({}, instance_path=str(tmp_path))
    assert development.registration_allowed("moodle.school.nl") is True


def test_healthz_answers_with_the_database(live_server: str) -> None:
    response = requests.get(live_server + "/healthz", timeout=10)
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


def test_healthz_reports_a_dead_database(tmp_path: Path) -> None:
    app = create_app(
        {"instance_path": str(tmp_path), "database_url": f"sqlite:///{tmp_path}/no/such/dir.db"}
    )
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.json["status"] == "error"


def test_openapi_document_is_valid(live_server: str) -> None:
    spec = requests.get(live_server + "/api/openapi.json", timeout=10).json()
    validate(spec)
    assert "/api/me" in spec["paths"]


def test_production_has_no_demo_platform_even_when_asked(tmp_path: Path) -> None:
    app = create_app(
        {"instance_path": str(tmp_path), "env": "production", "secret_key": "k" * 40,
         "database_url": f"sqlite:///{tmp_path}/p.db", "demo": True}
    )  # fmt: skip
    assert "demo" not in app.blueprints
    assert app.test_client().get("/demo/").status_code == 404


def test_demo_enabled_by_default(app: Flask) -> None:
    assert "demo" in app.blueprints


def test_serve_refuses_the_demo_with_production_settings(tmp_path: Path) -> None:
    env = dict(
        os.environ,
        BEELDCOACH_INSTANCE_PATH=str(tmp_path),
        BEELDCOACH_ENV="production",
        BEELDCOACH_DEMO="1",
        BEELDCOACH_SECRET_KEY="k" * 40,
    )
    exe = Path(sys.executable).with_name("beeldcoach")
    done = subprocess.run(
        [str(exe), "serve", "--port", "0", "--no-worker"], env=env, capture_output=True,
        text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode != 0
    assert "demo platform cannot run with production settings" in done.stderr
