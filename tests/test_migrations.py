"""Every migration upgrades and downgrades, and the models match the migrated schema."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask
from flask_migrate import downgrade, upgrade

from lti_tool import create_app
from lti_tool.db import db
from tests.conftest import _pg_database


@pytest.fixture
def fresh_app(tmp_path: Path) -> Iterator[Flask]:
    pg = os.environ.get("BEELDCOACH_TEST_DATABASE_URL")
    urls = _pg_database(pg) if pg else iter([f"sqlite:///{tmp_path / 'm.db'}"])
    url = next(urls)
    app = create_app({"instance_path": str(tmp_path), "database_url": url})
    yield app
    with app.app_context():
        db.engine.dispose()
    for _ in urls:  # runs the generator's cleanup (drops the PostgreSQL database)
        pass


def _tables(app: Flask) -> set[str]:
    return set(sa.inspect(db.engine).get_table_names()) - {"alembic_version"}


def test_upgrade_downgrade_upgrade(fresh_app: Flask) -> None:
    directory = fresh_app.extensions["migrate"].directory
    with fresh_app.app_context():
        upgrade(directory=directory)
        expected = {
            "platforms", "deployments", "tool_keys", "oidc_states", "launches", "users",
            "courses", "memberships", "jobs", "trajects", "participants", "intakes",
            "development_questions", "cycles", "viewing_guides", "viewing_guide_templates",
            "markers", "marker_tags", "action_points", "final_reviews", "uploads",
            "recordings", "recording_segments", "montages", "pop_contributions", "pop_versions",
            "resource_links", "service_tokens", "line_items", "score_sends", "course_rosters",
            "roster_members", "consents", "objections", "footage_privacy", "releases",
            "audit_events", "privacy_policies", "legal_holds", "deletion_records",
            "retention_runs", "data_exports", "rate_limit_hits",
        }  # fmt: skip
        assert expected <= _tables(fresh_app)
        downgrade(directory=directory, revision="base")
        db.session.remove()
        assert _tables(fresh_app) == set()
        upgrade(directory=directory)
        assert "platforms" in _tables(fresh_app)


def test_models_match_migrations(fresh_app: Flask) -> None:
    with fresh_app.app_context():
        upgrade(directory=fresh_app.extensions["migrate"].directory)
        with db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": False})
            diff = compare_metadata(context, db.metadata)
    assert diff == [], f"models and migrations differ: {diff}"
