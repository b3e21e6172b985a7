"""Celery tasks of the video pipeline: each takes ids, re-reads its row, returns if the work is
already done, writes to a temporary file and moves it into place (lti_tool.media.pipeline), so a
worker killed mid-task leaves nothing half-written and the redelivered task (acks late) simply
runs again.

A recording that needs a re-encode is split into segments (pipeline.chunk_ranges): one task per
segment, taken by whichever worker is free, each playable (HLS) as soon as it is stored; the task
that stores the last segment queues the join into one MP4.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from fractions import Fraction
from pathlib import Path

import sqlalchemy as sa
from celery import Task, shared_task

from lti_tool.db import db, utcnow
from lti_tool.jobs import Job
from lti_tool.media import ffmpeg, pipeline
from lti_tool.media.models import (
    MONTAGE_FAILED,
    MONTAGE_READY,
    MONTAGE_RENDERING,
    REC_FAILED,
    REC_PROCESSING,
    REC_READY,
    Montage,
    Recording,
    Segment,
)
from lti_tool.media.services import montage_prefix, probe_json, recording_prefix
from lti_tool.media.storage import Storage, get_storage
from lti_tool.worker import enqueue_after_commit

log = logging.getLogger(__name__)

# How long a presigned object-storage URL given to ffmpeg stays valid (one segment's work).
_INPUT_URL_TTL = 6 * 3600


@contextmanager
def _input(storage: Storage, key: str) -> Iterator[str]:
    """What ffmpeg reads: the file itself on local disk; on object storage a presigned URL, so
    that a segment's worker fetches only the byte ranges it needs (ffmpeg seeks over HTTP)."""
    local = storage.local_file(key)
    if local is not None:
        yield str(local)
        return
    url = storage.presigned_url(key, _INPUT_URL_TTL)
    if url is None:
        with storage.local_path(key) as path:
            yield str(path)
        return
    yield url


def _progress(job: Job | None, low: int, high: int) -> Callable[[float], None]:
    """ffmpeg's progress (0..1) mapped onto part of the job's percentage, written at most once a
    second in its own small commit so that the page's poll sees it."""
    last = [0.0]

    def report(fraction: float) -> None:
        if job is None:
            return
        now = time.monotonic()
        percent = low + int((high - low) * max(0.0, min(1.0, fraction)))
        if now - last[0] < 1.0 or percent <= job.percent:
            return
        last[0] = now
        job.percent = percent
        db.session.execute(sa.update(Job).where(Job.id == job.id).values(percent=percent))
        db.session.commit()

    return report


def _start(job_id: int | None) -> Job | None:
    job = db.session.get(Job, job_id) if job_id else None
    if job is not None:
        if job.status != "running":
            job.status = "running"
            job.started_at = utcnow()
        job.attempts += 1
        job.error = None
    db.session.commit()
    return job


def _finish(job: Job | None) -> None:
    if job is not None:
        job.status = "ready"
        job.percent = 100
        job.finished_at = utcnow()


def _fail(job: Job | None, code: str) -> None:
    if job is not None:
        job.status = "failed"
        job.error = code
        job.finished_at = utcnow()


def _probe_of(recording: Recording) -> ffmpeg.Probe:
    if recording.probe:
        return ffmpeg.Probe.from_json(recording.probe)
    raise ffmpeg.MediaError("not_video", "no probe stored")


def _segment_key(recording_id: int, index: int) -> str:
    return f"{recording_prefix(recording_id)}hls/seg_{index:05d}.ts"


def _rendition_facts(item: Recording | Montage, probe: ffmpeg.Probe) -> None:
    fps = probe.avg_fps
    item.fps_num, item.fps_den = fps.numerator, fps.denominator
    item.frame_count = probe.frame_count
    item.width, item.height = probe.display_width, probe.display_height
    item.duration_ms = round(probe.duration_s * 1000)


def _previews(recording: Recording, src: str, probe: ffmpeg.Probe, storage: Storage) -> None:
    """Poster, thumbnail sheets and their WebVTT index, stored under the recording."""
    prefix = recording_prefix(recording.id)
    with tempfile.TemporaryDirectory(prefix="beeldcoach-") as tmp:
        out = Path(tmp)
        pipeline.poster(src, out / "poster.jpg", probe)
        storage.put_file(prefix + "poster.jpg", out / "poster.jpg", move=True)
        thumbs = pipeline.thumbnails(src, out / "thumbs", probe)
        for name in thumbs.files:
            storage.put_file(f"{prefix}thumbs/{name}", out / "thumbs" / name, move=True)
    recording.poster_key = prefix + "poster.jpg"
    recording.thumbs_vtt_key = f"{prefix}thumbs/{thumbs.vtt_name}"


@shared_task(name="media.process_recording", soft_time_limit=1500, time_limit=1560)
def process_recording(recording_id: int) -> None:
    recording = db.session.get(Recording, recording_id)
    if recording is None or recording.status != REC_PROCESSING:
        return
    job = _start(recording.job_id)
    storage = get_storage()
    try:
        with _input(storage, recording.original_key) as src:
            probe = ffmpeg.probe(src)
            plan = pipeline.plan(probe)
            recording.probe = probe_json(probe)
            recording.mode = plan.mode
            recording.reasons = list(plan.reasons)
            if plan.mode == "remux":
                key = recording_prefix(recording.id) + "web.mp4"
                with tempfile.TemporaryDirectory(prefix="beeldcoach-") as tmp:
                    out = Path(tmp) / "web.mp4"
                    pipeline.remux(src, out, probe, on_progress=_progress(job, 5, 60))
                    rendition = ffmpeg.probe(out)
                    _previews(recording, str(out), rendition, storage)
                    previews_vtt = recording.thumbs_vtt_key
                    storage.put_file(key, out, move=True)
                if _gone(Recording, recording_id, recording_prefix(recording_id)):
                    return
                recording = db.session.get(Recording, recording_id)
                assert recording is not None
                job = db.session.get(Job, recording.job_id) if recording.job_id else None
                recording.probe = probe_json(probe)
                recording.mode, recording.reasons = plan.mode, list(plan.reasons)
                recording.poster_key = recording_prefix(recording_id) + "poster.jpg"
                recording.thumbs_vtt_key = previews_vtt
                recording.rendition_key = key
                _rendition_facts(recording, rendition)
                recording.status = REC_READY
                recording.ready_at = utcnow()
                _finish(job)
                db.session.commit()
                return
            ranges = pipeline.chunk_ranges(probe, plan)
            existing = {s.index: s for s in recording.segments}
            if existing and recording.segment_count == len(ranges):
                # Redelivered after its commit (the worker died before the ack): queue again
                # only what nobody has taken up; a duplicate message finds the segment claimed.
                for segment in existing.values():
                    if segment.ready_at is None and segment.claimed_by is None:
                        enqueue_after_commit(encode_segment, recording.id, segment.index)
                db.session.commit()
                return
            for index, start_s, duration_s in ranges:
                if index not in existing:
                    db.session.add(
                        Segment(
                            recording_id=recording.id,
                            index=index,
                            start_ms=round(start_s * 1000),
                            duration_ms=round(duration_s * 1000),
                        )
                    )
            recording.segment_count = len(ranges)
            recording.fps_num = plan.fps.numerator
            recording.fps_den = plan.fps.denominator
            recording.width, recording.height = plan.width, plan.height
            recording.duration_ms = round(probe.duration_s * 1000)
            if job is not None:
                job.percent = max(job.percent, 2)
            # The poster now (one seek, a fraction of a second), so the player has a picture;
            # thumbnails come with the join, from the 720p rendition with its keyframe every
            # 2 s (keyframe-only decoding, ~25x real time), not from the original (HEVC 1080p
            # with sparse keyframes: a full decode, minutes of a worker before the join).
            with tempfile.TemporaryDirectory(prefix="beeldcoach-") as tmp:
                poster = Path(tmp) / "poster.jpg"
                pipeline.poster(src, poster, probe)
                storage.put_file(recording_prefix(recording.id) + "poster.jpg", poster, move=True)
            recording.poster_key = recording_prefix(recording.id) + "poster.jpg"
            # Segments in order: the first one makes the recording playable.
            for index, _, _ in ranges:
                enqueue_after_commit(encode_segment, recording.id, index)
            db.session.commit()
    except Exception as exc:  # noqa: BLE001 - any failure must show on the row, with a reason
        db.session.rollback()
        _mark_failed(recording_id, _code(exc))


def _gone(model: type[Recording] | type[Montage], item_id: int, prefix: str) -> bool:
    """The row was removed while this task ran (the coach removed the recording, retention
    deleted it): delete what the task wrote, so no footage outlives its record."""
    db.session.rollback()
    db.session.expire_all()
    if db.session.get(model, item_id) is not None:
        return False
    log.info("%s %s removed while processing: deleting its files", model.__name__, item_id)
    get_storage().delete_prefix(prefix)
    return True


def _code(exc: Exception) -> str:
    """The reason a job failed, as a code the page translates; unexpected errors are logged
    with their traceback (never with personal data: ids only)."""
    if isinstance(exc, ffmpeg.MediaError):
        return exc.code
    if isinstance(exc, FileNotFoundError):
        return "source_missing"
    log.exception("media task failed unexpectedly")
    return "internal"


def _mark_failed(recording_id: int, code: str) -> None:
    recording = db.session.get(Recording, recording_id)
    if recording is None:
        return
    log.warning("recording %s failed: %s", recording_id, code)
    recording.status = REC_FAILED
    recording.error_code = code
    _fail(db.session.get(Job, recording.job_id) if recording.job_id else None, code)
    db.session.commit()


# A claim older than this is taken over (its worker vanished without the message coming back).
CLAIM_TIMEOUT = timedelta(minutes=20)


@shared_task(name="media.encode_segment", bind=True, soft_time_limit=600, time_limit=660)
def encode_segment(self: Task, recording_id: int, index: int) -> None:
    recording = db.session.get(Recording, recording_id)
    if recording is None or recording.status != REC_PROCESSING:
        return
    segment = db.session.scalar(
        sa.select(Segment).where(Segment.recording_id == recording_id, Segment.index == index)
    )
    if segment is None:
        return
    storage = get_storage()
    me = str(self.request.id or "local")
    if segment.ready_at is None:
        claimed = db.session.execute(
            sa.update(Segment)
            .where(
                Segment.id == segment.id,
                Segment.ready_at.is_(None),
                sa.or_(
                    Segment.claimed_by.is_(None),
                    Segment.claimed_by == me,
                    Segment.claimed_at < utcnow() - CLAIM_TIMEOUT,
                ),
            )
            .values(claimed_by=me, claimed_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
        if getattr(claimed, "rowcount", 0) != 1:
            return  # another task has it (a duplicate message), or it is done
    if segment.ready_at is None:
        try:
            probe = _probe_of(recording)
            plan = pipeline.plan(probe)
            key = _segment_key(recording_id, index)
            with (
                _input(storage, recording.original_key) as src,
                tempfile.TemporaryDirectory(prefix="beeldcoach-") as tmp,
            ):
                out = Path(tmp) / "seg.ts"
                pipeline.encode_chunk(
                    src, out, probe, plan, segment.start_ms / 1000, segment.duration_ms / 1000
                )
                storage.put_file(key, out, move=True)
        except Exception as exc:  # noqa: BLE001
            db.session.rollback()
            _mark_failed(recording_id, _code(exc))
            return
        if _gone(Recording, recording_id, recording_prefix(recording_id)):
            return
        db.session.execute(
            sa.update(Segment)
            .where(Segment.id == segment.id, Segment.ready_at.is_(None))
            .values(key=key, ready_at=utcnow())
        )
        db.session.commit()
    _after_segment(recording_id)


def _after_segment(recording_id: int) -> None:
    recording = db.session.get(Recording, recording_id)
    if recording is None:
        return
    ready = db.session.scalar(
        sa.select(sa.func.count(Segment.id)).where(
            Segment.recording_id == recording_id, Segment.ready_at.is_not(None)
        )
    )
    total = recording.segment_count or 1
    if recording.job_id:
        percent = 2 + int(88 * (ready or 0) / total)
        db.session.execute(
            sa.update(Job)
            .where(Job.id == recording.job_id, Job.percent < percent)
            .values(percent=percent)
        )
    if ready == recording.segment_count:
        # Two last segments finishing at once may both queue the join: it is idempotent.
        enqueue_after_commit(join_segments, recording_id)
    db.session.commit()


@shared_task(name="media.join_segments", soft_time_limit=1500, time_limit=1560)
def join_segments(recording_id: int) -> None:
    recording = db.session.get(Recording, recording_id)
    if recording is None or recording.status != REC_PROCESSING:
        return
    segments = list(recording.segments)
    if len(segments) != recording.segment_count or any(s.key is None for s in segments):
        return
    job = db.session.get(Job, recording.job_id) if recording.job_id else None
    storage = get_storage()
    key = recording_prefix(recording_id) + "web.mp4"
    try:
        with tempfile.TemporaryDirectory(prefix="beeldcoach-") as tmp:
            paths: list[Path] = []
            for segment in segments:
                assert segment.key is not None
                local = storage.local_file(segment.key)
                if local is None:
                    local = Path(tmp) / f"seg_{segment.index:05d}.ts"
                    with storage.local_path(segment.key) as fetched:
                        shutil.copyfile(fetched, local)
                paths.append(local)
            out = Path(tmp) / "web.mp4"
            pipeline.join_chunks(paths, out, on_progress=_progress(job, 90, 97))
            rendition = ffmpeg.probe(out)
            _previews(recording, str(out), rendition, storage)
            poster, vtt = recording.poster_key, recording.thumbs_vtt_key
            storage.put_file(key, out, move=True)
    except Exception as exc:  # noqa: BLE001
        db.session.rollback()
        _mark_failed(recording_id, _code(exc))
        return
    if _gone(Recording, recording_id, recording_prefix(recording_id)):
        return
    recording = db.session.get(Recording, recording_id)
    assert recording is not None
    job = db.session.get(Job, recording.job_id) if recording.job_id else None
    recording.poster_key, recording.thumbs_vtt_key = poster, vtt
    recording.rendition_key = key
    _rendition_facts(recording, rendition)
    recording.status = REC_READY
    recording.ready_at = utcnow()
    _finish(job)
    db.session.commit()
    # The MP4 replaces the segments (players switch to it on their next refresh): one copy
    # of the footage fewer to keep and to delete.
    storage.delete_prefix(f"{recording_prefix(recording_id)}hls/")
    db.session.execute(
        sa.update(Segment).where(Segment.recording_id == recording_id).values(key=None)
    )
    db.session.commit()


@shared_task(name="media.render_montage", soft_time_limit=1700, time_limit=1760)
def render_montage(montage_id: int) -> None:
    montage = db.session.get(Montage, montage_id)
    if montage is None or montage.status != MONTAGE_RENDERING:
        return
    job = _start(montage.job_id)
    storage = get_storage()
    clips = list(montage.clips or [])
    recordings = {
        r.id: r
        for r in db.session.scalars(
            sa.select(Recording).where(Recording.id.in_({c["recording_id"] for c in clips}))
        )
    }
    try:
        if not clips or any(
            recordings.get(c["recording_id"]) is None
            or recordings[c["recording_id"]].rendition_key is None
            for c in clips
        ):
            raise ffmpeg.MediaError("source_missing", "a clip's recording is not ready")
        first = recordings[clips[0]["recording_id"]]
        fps = Fraction(first.fps_num or 25, first.fps_den or 1)
        # At most 720p, whatever the recordings' size: a 30-minute montage stays a task of
        # minutes (x264 at 1080p runs below real time on 2 cores).
        size = pipeline.target_size(first.width or 1280, first.height or 720)
        version = montage.render_version + 1
        key = f"{montage_prefix(montage.id)}v{version}.mp4"
        with tempfile.TemporaryDirectory(prefix="beeldcoach-") as tmp:
            with _sources(storage, [recordings[c["recording_id"]] for c in clips]) as inputs:
                parts = [
                    pipeline.MontageClip(
                        inputs[c["recording_id"]], c["in_ms"] / 1000, c["out_ms"] / 1000
                    )
                    for c in clips
                ]
                out = Path(tmp) / "montage.mp4"
                pipeline.render_montage(
                    parts,
                    out,
                    fade_s=0.3 if montage.fade else 0.0,
                    fps=fps,
                    size=size,
                    on_progress=_progress(job, 2, 95),
                )
            rendition = ffmpeg.probe(out)
            pipeline.poster(str(out), Path(tmp) / "poster.jpg", rendition)
            storage.put_file(
                f"{montage_prefix(montage.id)}poster.jpg", Path(tmp) / "poster.jpg", move=True
            )
            storage.put_file(key, out, move=True)
    except Exception as exc:  # noqa: BLE001
        db.session.rollback()
        montage = db.session.get(Montage, montage_id)
        if montage is not None:
            montage.status = MONTAGE_FAILED
            montage.error_code = _code(exc)
            _fail(db.session.get(Job, montage.job_id) if montage.job_id else None, _code(exc))
            db.session.commit()
        return
    if _gone(Montage, montage_id, montage_prefix(montage_id)):
        return
    montage = db.session.get(Montage, montage_id)
    assert montage is not None
    if montage.status != MONTAGE_RENDERING:
        # Changed meanwhile (a recording it used was removed): this render is stale.
        storage.delete(key)
        return
    job = db.session.get(Job, montage.job_id) if montage.job_id else None
    previous = montage.rendition_key
    montage.rendition_key = key
    montage.poster_key = f"{montage_prefix(montage.id)}poster.jpg"
    montage.render_version = version
    montage.rendered_clips = clips
    _rendition_facts(montage, rendition)
    montage.status = MONTAGE_READY
    _finish(job)
    db.session.commit()
    if previous and previous != key:
        storage.delete(previous)


@contextmanager
def _sources(storage: Storage, recordings: list[Recording]) -> Iterator[dict[int, str]]:
    inputs: dict[int, str] = {}
    with tempfile.TemporaryDirectory(prefix="beeldcoach-") as tmp:
        for recording in recordings:
            if recording.id in inputs or recording.rendition_key is None:
                continue
            local = storage.local_file(recording.rendition_key)
            if local is None:
                url = storage.presigned_url(recording.rendition_key, _INPUT_URL_TTL)
                if url is None:
                    path = Path(tmp) / f"{recording.id}.mp4"
                    with storage.local_path(recording.rendition_key) as fetched:
                        shutil.copyfile(fetched, path)
                    url = str(path)
                inputs[recording.id] = url
            else:
                inputs[recording.id] = str(local)
        yield inputs


@shared_task(name="media.purge_expired_uploads")
def purge_expired_uploads() -> int:
    """Unfinished uploads past their expiry: the staged bytes and the row (hourly, beat)."""
    from lti_tool.media.uploads import purge_expired_uploads as purge

    count = purge()
    db.session.commit()
    return count


__all__ = [
    "purge_expired_uploads",
    "MONTAGE_RENDERING",
    "encode_segment",
    "join_segments",
    "process_recording",
    "render_montage",
]
