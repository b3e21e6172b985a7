"""Alembic environment: runs inside the Flask app (Flask-Migrate), on SQLite and PostgreSQL."""

import logging

from alembic import context
from flask import current_app

from lti_tool.db import UTCDateTime

logger = logging.getLogger("alembic.env")
config = context.config
target_db = current_app.extensions["migrate"].db


def render_item(type_, obj, autogen_context):
    """Our UTC wrapper type is stored as a plain timezone-aware DateTime."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def process_revision_directives(context_, revision, directives):
    if getattr(config.cmd_opts, "autogenerate", False) and directives[0].upgrade_ops.is_empty():
        directives[:] = []
        logger.info("No changes in schema detected.")


def run_migrations_offline():
    context.configure(
        url=str(target_db.engine.url),
        target_metadata=target_db.metadata,
        literal_binds=True,
        render_as_batch=True,
        render_item=render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    with target_db.engine.connect() as connection:
        options = {
            "process_revision_directives": process_revision_directives,
            **current_app.extensions["migrate"].configure_args,
            # SQLite cannot ALTER most things: batch mode rebuilds tables instead.
            "render_as_batch": connection.dialect.name == "sqlite",
            "compare_type": True,
            "render_item": render_item,
        }
        context.configure(connection=connection, target_metadata=target_db.metadata, **options)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
