"""Outcome tasks: send a traject's scores to the platform, refresh a course's roster.

Both take ids, re-read their rows, hold a lock row while they work and commit after every step,
so a crash or a second worker neither loses nor repeats anything.
"""

from __future__ import annotations

import logging
from datetime import datetime

from celery import shared_task
from flask import current_app

from lti_tool.db import db, utcnow

log = logging.getLogger(__name__)

BUSY_RETRY = 30  # seconds: another worker holds the traject; look again after this
# Longer waits are not handed to the broker: Redis redelivers a message held longer than its
# visibility timeout (30 min, lti_tool.worker), and a restarted embedded worker forgets its
# delayed tasks. The periodic send_due_scores picks such retries up from their rows instead.
MAX_COUNTDOWN = 900


def _later(name: str, args: list[object], when: datetime | float) -> bool:
    """Queue a task for later (the state it needs is committed already); False when the wait
    is longer than MAX_COUNTDOWN and the periodic sweep will start it."""
    countdown = when if isinstance(when, int | float) else (when - utcnow()).total_seconds()
    if countdown > MAX_COUNTDOWN:
        return False
    celery_app = current_app.extensions["celery"]
    celery_app.send_task(name, args=args, countdown=max(1, int(countdown)))
    return True


@shared_task(name="outcomes.send_due_scores")
def send_due_scores() -> list[int]:
    """Every few minutes (beat): queue the sender for each traject with a score that is due
    (a long backoff's retry) or whose task was lost. The traject's send lock keeps a sender
    that is already running and a queued one from sending anything twice."""
    from lti_tool.outcomes import services

    due = services.due_trajects()
    db.session.rollback()
    celery_app = current_app.extensions["celery"]
    for traject_id in due:
        celery_app.send_task("outcomes.send_scores", args=[traject_id])
    if due:
        log.info("due scores: queued the sender for %d traject(s)", len(due))
    return due


def _publish_key() -> None:
    """The platform checks the token request's signature against the tool's published key
    set: a tool key made now must be committed before it signs anything."""
    from lti_tool.launch.keys import ensure_keys

    ensure_keys()


@shared_task(name="outcomes.send_scores")
def send_scores(traject_id: int) -> dict[str, int]:
    """Send the traject's pending scores in order. Transient failures wait with backoff (the
    later scores wait behind them); a row that fails for good is left for "send again"."""
    from lti_tool.outcomes import services

    counts = {"sent": 0, "failed": 0, "waiting": 0, "retry": 0}
    held = services.lock_traject(traject_id)
    if held is None:
        db.session.commit()
        if services.next_pending(traject_id) is not None:
            _later("outcomes.send_scores", [traject_id], BUSY_RETRY)
        return counts
    _publish_key()
    db.session.commit()
    try:
        now = utcnow()
        while True:
            row = services.next_pending(traject_id)
            if row is None:
                break
            due = row.next_attempt_at
            if due is not None and due > now:
                _later("outcomes.send_scores", [traject_id], due)
                counts["retry"] += 1
                break
            outcome = services.send_one(row, now)
            db.session.commit()
            held = services.extend_lock(traject_id, held)
            db.session.commit()
            if held is None:
                break  # lost the lock (a send outlasted it): the new holder carries on
            counts[outcome.state] += 1
            if outcome.state == "retry" and outcome.retry_at is not None:
                _later("outcomes.send_scores", [traject_id], outcome.retry_at)
                break
            if outcome.state == "waiting":
                break  # no gradebook service yet: a launch that brings it wakes us
    except Exception:
        db.session.rollback()
        raise
    finally:
        if held is not None:
            services.unlock_traject(traject_id, held)
        db.session.commit()
    return counts


@shared_task(name="outcomes.sync_roster")
def sync_roster(course_id: int) -> str:
    """Refresh a course's roster from the platform (NRPS, all pages)."""
    from lti_tool.outcomes import services

    if not services.lock_roster(course_id):
        db.session.commit()
        return "busy"
    _publish_key()
    db.session.commit()
    try:
        status = services.sync_roster(course_id).status
        db.session.commit()
    except Exception:
        db.session.rollback()
        services.unlock_roster(course_id, failed=True)
        db.session.commit()
        raise
    return status
