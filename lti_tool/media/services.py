"""Recordings and montages as the pipeline sees them: from a finished upload to queued work,
job progress, retries, stills. Who may see what is decided in lti_tool.cycles.footage.

Services flush, never commit: the request or the task that calls them commits once, and tasks
are queued after that commit (lti_tool.worker.enqueue_after_commit).
"""

from __future__ import annotations

import re
import shutil
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import current_app

from lti_tool.db import db, utcnow
from lti_tool.jobs import Job
from lti_tool.media import ffmpeg
from lti_tool.media.models import (
    MONTAGE_DRAFT,
    MONTAGE_READY,
    MONTAGE_RENDERING,
    REC_FAILED,
    REC_PROCESSING,
    REC_REJECTED,
    Montage,
    Recording,
    Upload,
)
from lti_tool.media.storage import get_storage
from lti_tool.worker import enqueue_after_commit

JOB_PROCESS = "media.process_recording"
JOB_MONTAGE = "media.render_montage"

_EXTENSION = re.compile(r"\.([A-Za-z0-9]{1,5})$")


def staged_path(upload_id: str) -> Path:
    return Path(current_app.config["BEELDCOACH"].upload_dir) / upload_id


def original_key(recording_id: int, filename: str) -> str:
    """The original keeps its extension (players and ffmpeg look at it); never its name,
    which may carry a pupil's name."""
    match = _EXTENSION.search(filename or "")
    ext = f".{match.group(1).lower()}" if match else ".bin"
    return f"recordings/{recording_id}/original{ext}"


def recording_prefix(recording_id: int) -> str:
    return f"recordings/{recording_id}/"


def montage_prefix(montage_id: int) -> str:
    return f"montages/{montage_id}/"


def probe_json(probe: ffmpeg.Probe) -> dict[str, Any]:
    """What is stored of a probe: not where the file was read (a presigned URL is a live
    credential for hours; a local path says nothing useful)."""
    return {**probe.to_json(), "path": ""}


def apply_probe(recording: Recording, probe: ffmpeg.Probe) -> None:
    recording.probe = probe_json(probe)
    recording.duration_ms = round(probe.duration_s * 1000)
    recording.has_audio = probe.has_audio


def new_job(kind: str, subject_kind: str, subject_id: int) -> Job:
    job = Job(kind=kind, subject_kind=subject_kind, subject_id=subject_id, status="queued")
    db.session.add(job)
    db.session.flush()
    return job


def complete_upload(upload_id: str) -> Recording:
    """The last byte of an upload arrived: probe it, keep the original (also when it is not
    usable video: nothing the coach sent is lost until they remove it) and queue processing."""
    upload = db.session.get(Upload, upload_id)
    if upload is None:
        raise LookupError(upload_id)
    if upload.recording_id is not None:
        recording = db.session.get(Recording, upload.recording_id)
        if recording is not None:
            return recording
    staged = staged_path(upload_id)
    recording = Recording(
        cycle_id=upload.cycle_id,
        uploaded_by_id=upload.user_id,
        original_name=(upload.filename or "")[:255],
        original_key="",
        size=staged.stat().st_size,
        status=REC_PROCESSING,
    )
    db.session.add(recording)
    db.session.flush()
    recording.original_key = original_key(recording.id, upload.filename)
    upload.recording_id = recording.id
    upload.completed_at = upload.completed_at or utcnow()
    probe: ffmpeg.Probe | None = None
    try:
        probe = ffmpeg.probe(staged)
    except ffmpeg.MediaError as exc:
        recording.status = REC_REJECTED
        recording.error_code = exc.code
        current_app.logger.info("recording %s rejected: %s", recording.id, exc.code)
    # Local disk: a rename; object storage: a multipart upload. The staged file goes away.
    get_storage().put_file(recording.original_key, staged, move=True)
    if probe is not None:
        apply_probe(recording, probe)
        queue_processing(recording)
    db.session.flush()
    return recording


def import_file(
    cycle_id: int, user_id: int, source: Path, filename: str, filetype: str = "video/mp4"
) -> Recording:
    """A file already on this machine enters as a finished upload does (the demo's generated
    recordings, support's imports, tests and benchmarks): a copy into the staging folder, an
    Upload row, then complete_upload. Flushes; the caller commits (and the task goes out)."""
    now = utcnow()
    upload = Upload(
        id=uuid.uuid4().hex,
        cycle_id=cycle_id,
        user_id=user_id,
        length=source.stat().st_size,
        filename=filename,
        filetype=filetype,
        expires_at=now,
        completed_at=now,
    )
    db.session.add(upload)
    db.session.flush()
    staged = staged_path(upload.id)
    staged.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, staged)
    return complete_upload(upload.id)


def queue_processing(recording: Recording) -> Job:
    job = new_job(JOB_PROCESS, "recording", recording.id)
    recording.job_id = job.id
    recording.status = REC_PROCESSING
    recording.error_code = None
    from lti_tool.media import tasks

    enqueue_after_commit(tasks.process_recording, recording.id)
    return job


def retry_recording(recording: Recording) -> Job:
    """A failed job can be run again; a rejected file cannot (it is not video)."""
    if recording.status != REC_FAILED:
        raise ValueError(recording.status)
    job = queue_processing(recording)
    previous = db.session.scalar(
        sa.select(sa.func.count(Job.id)).where(
            Job.subject_kind == "recording", Job.subject_id == recording.id
        )
    )
    job.attempts = int(previous or 1)
    return job


def remove_recording(recording: Recording) -> None:
    """The coach removes a recording: every file under its prefix, the row, and whatever was
    cut from it: a montage keeps its other clips but loses its rendition (it showed frames of
    this recording) and goes back to draft; a montage of only this recording goes entirely.
    A task still running for the recording finds its row gone and deletes what it wrote."""
    storage = get_storage()
    same_cycle = sa.select(Montage).where(Montage.cycle_id == recording.cycle_id)
    for montage in db.session.scalars(same_cycle):
        used = [*(montage.rendered_clips or []), *(montage.clips or [])]
        if not any(c.get("recording_id") == recording.id for c in used):
            continue
        remaining = [c for c in montage.clips or [] if c.get("recording_id") != recording.id]
        if not remaining:
            remove_montage(montage)
            continue
        storage.delete_prefix(montage_prefix(montage.id))
        montage.clips = remaining
        montage.rendered_clips = None
        montage.rendition_key = None
        montage.poster_key = None
        montage.status = MONTAGE_DRAFT
        montage.shared_at = None
    storage.delete_prefix(recording_prefix(recording.id))
    db.session.delete(recording)
    db.session.flush()


def queue_montage(montage: Montage) -> Job:
    job = new_job(JOB_MONTAGE, "montage", montage.id)
    montage.job_id = job.id
    montage.status = MONTAGE_RENDERING
    montage.error_code = None
    from lti_tool.media import tasks

    enqueue_after_commit(tasks.render_montage, montage.id)
    return job


def remove_montage(montage: Montage) -> None:
    get_storage().delete_prefix(montage_prefix(montage.id))
    db.session.delete(montage)
    db.session.flush()


def job_json(job_id: int | None) -> dict[str, Any] | None:
    if job_id is None:
        return None
    job = db.session.get(Job, job_id)
    if job is None:
        return None
    return {
        "id": job.id,
        "status": job.status,
        "percent": job.percent,
        "error": job.error,
        "attempts": job.attempts,
    }


def fps_of(item: Recording | Montage) -> tuple[int, int] | None:
    if item.fps_num and item.fps_den:
        return item.fps_num, item.fps_den
    return None


def still_key(kind: str, item_id: int, frame: int) -> str:
    prefix = recording_prefix(item_id) if kind == "recording" else montage_prefix(item_id)
    return f"{prefix}stills/{frame:07d}.jpg"


def make_still(item: Recording | Montage, kind: str, frame: int) -> str:
    """A frame-exact still of a ready rendition, made once and cached in storage."""
    from lti_tool.media import pipeline

    if item.rendition_key is None or not item.fps_num or not item.fps_den:
        raise ValueError("not ready")
    key = still_key(kind, item.id, frame)
    storage = get_storage()
    if storage.exists(key):
        return key
    import tempfile
    from fractions import Fraction

    local = storage.local_file(item.rendition_key)
    # On object storage ffmpeg seeks in the rendition over HTTP (a few range requests).
    src = str(local) if local is not None else storage.presigned_url(item.rendition_key, 600)
    if src is None:
        raise ValueError("no readable rendition")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "still.jpg"
        pipeline.still(src, out, Fraction(item.fps_num, item.fps_den), frame)
        storage.put_file(key, out, move=True)
    return key


def is_ready(item: Recording | Montage) -> bool:
    return item.status in (MONTAGE_READY,) and item.rendition_key is not None
