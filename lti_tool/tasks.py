"""Cross-domain and housekeeping tasks; domain packages keep their own tasks modules."""

from __future__ import annotations

from celery import shared_task

from lti_tool.db import db, utcnow


@shared_task(name="system.heartbeat")
def heartbeat(job_id: int) -> None:
    """Mark a heartbeat job done: proves that a real worker reaches the database."""
    from lti_tool.jobs import Job

    job = db.session.get(Job, job_id)
    if job is None or job.status == "ready":
        return
    job.status = "ready"
    job.finished_at = utcnow()
    db.session.commit()


@shared_task(name="lti.purge_expired_states")
def purge_expired_states() -> int:
    from lti_tool.launch.protocol import purge_expired_states as purge

    count = purge()
    db.session.commit()
    return count
