"""Demo seeding: idempotent, and refused against a production configuration."""

from __future__ import annotations

from flask import current_app

from lti_tool.launch.keys import ensure_keys


class SeedRefused(RuntimeError):
    pass


def seed_demo() -> None:
    """Prepare what the demo platform needs (flushes; the caller commits)."""
    settings = current_app.config["BEELDCOACH"]
    if settings.is_production or not settings.demo_enabled:
        raise SeedRefused("demo seeding never runs with production settings")
    ensure_keys()
