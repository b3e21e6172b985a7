"""Privacy tasks: the daily retention run (Celery beat) and building a personal-data export."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task

log = logging.getLogger(__name__)


@shared_task(name="privacy.apply_retention")
def apply_retention(traject_id: int | None = None) -> dict[str, Any]:
    """Delete what is due (every school, or one traject after a consent withdrawal). Another
    run holding the lock makes this one return at once; the next run picks up the rest."""
    from lti_tool.privacy.retention import run

    done = run(traject_id=traject_id)
    if done is None:
        log.info("retention: another run holds the lock")
        return {"status": "locked"}
    log.info("retention run %s: %s deleted, %s held", done.id, done.deleted, done.held)
    return {"status": done.status, "deleted": done.deleted, "held": done.held}


@shared_task(name="privacy.build_export")
def build_export(export_id: int) -> None:
    from lti_tool.privacy.subject import build_export as build

    build(export_id)
