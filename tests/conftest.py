"""Fixtures: the app on SQLite or PostgreSQL, a live HTTP server, test platforms, a CLI runner.

BEELDCOACH_TEST_DATABASE_URL selects PostgreSQL (a fresh database is created per run and dropped
afterwards); BEELDCOACH_TEST_BROKER_URL selects a broker (Redis in CI) for the worker tests.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_migrate import upgrade
from werkzeug.serving import make_server

from lti_tool import create_app
from lti_tool.cli import main
from lti_tool.db import db
from tests.lti_platform import TestPlatform

ARTIFACTS = Path(__file__).parent / "artifacts"


def _pg_database(base_url: str) -> Iterator[str]:
    """A throwaway PostgreSQL database next to the one named in base_url."""
    name = "bc_test_" + uuid.uuid4().hex[:10]
    admin = sa.create_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.make_url(base_url).set(database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"
                ),
                {"n": name},
            )
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    pg = os.environ.get("BEELDCOACH_TEST_DATABASE_URL")
    if pg:
        yield from _pg_database(pg)
    else:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'beeldcoach.db'}"


@pytest.fixture(scope="session")
def instance_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("instance")


@pytest.fixture(scope="session")
def app(database_url: str, instance_path: Path) -> Iterator[Flask]:
    app = create_app(
        {
            "instance_path": str(instance_path),
            "database_url": database_url,
            "broker_url": os.environ.get("BEELDCOACH_TEST_BROKER_URL", ""),
            "env": "development",
            "jwks_refetch_interval": 1,
            # The demo platform is on for the embedded default only; the browser tests use it
            # on PostgreSQL too.
            "demo": True,
        }
    )
    app.config["TESTING"] = True
    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory)
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(scope="session")
def live_server(app: Flask) -> Iterator[str]:
    """The tool on a real socket; tests talk HTTP to it (base URL on localhost)."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://localhost:{server.server_port}"
    server.shutdown()


@pytest.fixture
def app_ctx(app: Flask) -> Iterator[Flask]:
    with app.app_context():
        yield app
        db.session.rollback()


@pytest.fixture
def cli(app: Flask):  # type: ignore[no-untyped-def]
    """Run a `beeldcoach ...` command against the test app: cli("platform", "list")."""
    runner = app.test_cli_runner()

    def run(*args: str):  # type: ignore[no-untyped-def]
        return runner.invoke(main, list(args))

    return run


@pytest.fixture
def make_platform(live_server: str, cli):  # type: ignore[no-untyped-def]
    """Factory: a fresh test platform registered with the tool through the CLI."""
    created: list[TestPlatform] = []

    def factory(register: bool = True, **kwargs: object) -> TestPlatform:
        platform = TestPlatform(tool_base=live_server, **kwargs)  # type: ignore[arg-type]
        created.append(platform)
        if register:
            result = cli(*platform.cli_args(name="Test Moodle"))
            assert result.exit_code == 0, result.output
        return platform

    yield factory
    for platform in created:
        platform.close()


@pytest.fixture
def platform(make_platform) -> TestPlatform:  # type: ignore[no-untyped-def]
    return make_platform()


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
