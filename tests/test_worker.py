"""A real Celery worker (embedded filesystem broker, or Redis in CI) runs tasks queued on commit."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from lti_tool.db import db
from lti_tool.jobs import Job
from lti_tool.tasks import heartbeat
from lti_tool.worker import enqueue_after_commit


@pytest.fixture(scope="module")
def worker(app: Flask, instance_path: Path, database_url: str) -> Iterator[subprocess.Popen[bytes]]:
    # Tasks that earlier tests queued without a worker (scores for test platforms long gone,
    # say) would otherwise run first and hold up this worker.
    app.extensions["celery"].control.purge()
    env = dict(
        os.environ,
        BEELDCOACH_INSTANCE_PATH=str(instance_path),
        BEELDCOACH_DATABASE_URL=database_url,
        BEELDCOACH_BROKER_URL=os.environ.get("BEELDCOACH_TEST_BROKER_URL", ""),
    )
    exe = Path(sys.executable).with_name("beeldcoach")
    proc = subprocess.Popen(
        [str(exe), "worker", "--concurrency=1", "--loglevel=INFO"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    yield proc
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()


def _wait_for(job_id: int, status: str, timeout: float = 60) -> Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        db.session.expire_all()
        job = db.session.get(Job, job_id)
        assert job is not None
        if job.status == status:
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not reach {status!r} within {timeout} s")


def test_task_queued_after_commit_runs_in_a_real_worker(
    app: Flask, worker: subprocess.Popen[bytes]
) -> None:
    with app.app_context():
        job = Job(kind="heartbeat")
        db.session.add(job)
        db.session.flush()
        enqueue_after_commit(heartbeat, job.id)
        db.session.commit()
        done = _wait_for(job.id, "ready")
        assert done.finished_at is not None
        assert worker.poll() is None


def test_task_is_dropped_when_the_transaction_rolls_back(
    app: Flask, worker: subprocess.Popen[bytes]
) -> None:
    with app.app_context():
        job = Job(kind="heartbeat")
        db.session.add(job)
        db.session.commit()
        enqueue_after_commit(heartbeat, job.id)
        db.session.rollback()
        # A second, committed heartbeat proves the worker is alive and the queue drained.
        probe = Job(kind="heartbeat")
        db.session.add(probe)
        db.session.flush()
        enqueue_after_commit(heartbeat, probe.id)
        db.session.commit()
        _wait_for(probe.id, "ready")
        db.session.expire_all()
        assert db.session.get(Job, job.id).status == "queued"  # type: ignore[union-attr]


def test_every_periodic_job_names_a_registered_task(app: Flask) -> None:
    celery_app = app.extensions["celery"]
    celery_app.loader.import_default_modules()
    schedule = celery_app.conf.beat_schedule
    assert {
        "privacy-retention-daily",
        "media-purge-expired-uploads",
        "lti-purge-expired-states",
        "outcomes-send-due-scores",
    } <= set(schedule)
    for entry in schedule.values():
        assert entry["task"] in celery_app.tasks, entry["task"]
