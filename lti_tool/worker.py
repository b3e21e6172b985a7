"""Celery: the app, a task base class that runs in an app context, and enqueue-after-commit.

Embedded default: a filesystem broker in the instance folder (no server to install), consumed
by the real worker that `beeldcoach serve` starts beside the web app. Production: Redis or
RabbitMQ via BEELDCOACH_BROKER_URL, with `beeldcoach worker` on as many machines as needed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from celery import Celery, Task
from celery.schedules import crontab
from flask import Flask, current_app
from sqlalchemy.orm import Session

from lti_tool.db import db

EMBEDDED = "filesystem://"


# Redis redelivers an unacknowledged task (acks late) after this many seconds: a killed worker's
# task runs again after at most this long. Every media task is kept well under it (a recording
# is split into segments of seconds of work), and a task that overruns it only runs twice
# (tasks are idempotent).
REDIS_VISIBILITY_TIMEOUT = 1800


def broker_settings(instance_path: str, broker_url: str) -> dict[str, Any]:
    if broker_url.startswith(("redis://", "rediss://")):
        return {
            "broker_url": broker_url,
            "broker_transport_options": {"visibility_timeout": REDIS_VISIBILITY_TIMEOUT},
        }
    if broker_url:
        return {"broker_url": broker_url}
    root = Path(instance_path) / "broker"
    queue = root / "queue"
    processed = root / "processed"
    for folder in (queue, processed):
        folder.mkdir(parents=True, exist_ok=True)
    return {
        "broker_url": EMBEDDED,
        "broker_transport_options": {
            "data_folder_in": str(queue),
            "data_folder_out": str(queue),
            "processed_folder": str(processed),
            "store_processed": False,
        },
    }


def beat_schedule(retention_hour: int = 3) -> dict[str, dict[str, Any]]:
    """The daily retention run (privacy.retention) at retention_hour:15 UTC, hourly
    housekeeping (abandoned uploads of up to 8 GB each, expired login states), and every five
    minutes the scores whose retry is due or whose task was lost (outcomes.send_due_scores)."""
    return {
        "privacy-retention-daily": {
            "task": "privacy.apply_retention",
            "schedule": crontab(hour=retention_hour % 24, minute=15),
        },
        "media-purge-expired-uploads": {
            "task": "media.purge_expired_uploads",
            "schedule": crontab(minute=40),
        },
        "lti-purge-expired-states": {
            "task": "lti.purge_expired_states",
            "schedule": crontab(minute=45),
        },
        "outcomes-send-due-scores": {
            "task": "outcomes.send_due_scores",
            "schedule": crontab(minute="*/5"),
        },
    }


def celery_init_app(app: Flask) -> Celery:
    settings = app.config["BEELDCOACH"]

    class FlaskTask(Task):
        def __call__(self, *args: object, **kwargs: object) -> object:
            with app.app_context():
                return self.run(*args, **kwargs)

    celery_app = Celery(app.name, task_cls=FlaskTask)
    celery_app.conf.update(
        **broker_settings(settings.instance_path, settings.broker_url),
        # Job state lives on database rows, not in a result backend.
        task_ignore_result=True,
        result_backend=None,
        # A worker killed mid-task leaves the message unacknowledged: it runs again.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        imports=("lti_tool.tasks", "lti_tool.media.tasks", "lti_tool.privacy.tasks"),
        # Periodic jobs (run by `beeldcoach worker --beat`, or `celery beat`; `serve` starts its
        # embedded worker with beat). Each takes its own lock, so two beats cannot double up.
        beat_schedule=beat_schedule(settings.retention_hour),
        beat_schedule_filename=str(Path(settings.instance_path) / "celerybeat-schedule"),
        timezone="UTC",
    )
    celery_app.set_default()
    app.extensions["celery"] = celery_app
    return celery_app


_PENDING = "beeldcoach.after_commit"


def enqueue_after_commit(task: Any, *args: Any, **kwargs: Any) -> None:
    """Queue a task once the current transaction commits (a fast worker must find the rows
    it is given); dropped if the transaction rolls back."""
    # Sent through this Flask app's Celery app (not Celery's process-wide default app).
    celery_app = current_app.extensions["celery"]
    if not db.session().in_transaction():
        # Tie the task to a transaction (no I/O): rollback() without one fires no events.
        db.session.begin()
    db.session.info.setdefault(_PENDING, []).append((celery_app, task.name, args, kwargs))


@sa.event.listens_for(Session, "after_commit")
def _send_pending(session: Session) -> None:
    for celery_app, name, args, kwargs in session.info.pop(_PENDING, []):
        celery_app.send_task(name, args=args, kwargs=kwargs)


@sa.event.listens_for(Session, "after_soft_rollback")
def _drop_pending(session: Session, previous_transaction: object) -> None:
    # after_soft_rollback fires on every rollback() call, also when no transaction had begun
    # (after_rollback would miss that case and the task would ride along with the next commit).
    session.info.pop(_PENDING, None)
