"""Recordings processed by a real Celery worker (embedded filesystem broker; Redis in CI) with
real ffmpeg: remux, segmented re-encode and join, previews, montage, failure and retry, and a
worker killed mid-task."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from lti_tool.cycles import footage
from lti_tool.cycles import services as s
from lti_tool.db import db
from lti_tool.jobs import Job
from lti_tool.media import ffmpeg
from lti_tool.media.models import Montage, Recording
from lti_tool.media.storage import get_storage
from tests.media.factories import Cast, committed_traject, ffmpeg_make, stage_recording


def _start_worker(
    instance_path: Path, database_url: str, concurrency: int = 2
) -> subprocess.Popen[bytes]:
    env = dict(
        os.environ,
        BEELDCOACH_INSTANCE_PATH=str(instance_path),
        BEELDCOACH_DATABASE_URL=database_url,
        BEELDCOACH_BROKER_URL=os.environ.get("BEELDCOACH_TEST_BROKER_URL", ""),
    )
    exe = Path(sys.executable).with_name("beeldcoach")
    log = open(instance_path / f"worker-{time.time_ns()}.log", "wb")  # noqa: SIM115
    return subprocess.Popen(
        [str(exe), "worker", f"--concurrency={concurrency}", "--loglevel=INFO"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="module")
def worker(app: Flask, instance_path: Path, database_url: str) -> Iterator[subprocess.Popen[bytes]]:
    app.extensions["celery"].control.purge()  # what earlier tests queued without a worker
    proc = _start_worker(instance_path, database_url)
    yield proc
    _stop(proc)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("inputs")
    src = ["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-f", "lavfi"]
    tone = ["-i", "sine=frequency=440:sample_rate=48000"]
    return {
        "h264": ffmpeg_make(
            folder / "h264.mp4", *src, *tone, "-t", "4", "-c:v", "libx264", "-preset",
            "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest",
        ),
        "hevc": ffmpeg_make(
            folder / "hevc.mp4", *src, *tone, "-t", "23", "-c:v", "libx265", "-preset",
            "ultrafast", "-x265-params", "log-level=error", "-tag:v", "hvc1", "-c:a", "aac",
            "-shortest",
        ),
        "text": _text_file(folder / "notes.mp4"),
    }  # fmt: skip


def _text_file(path: Path) -> Path:
    path.write_text("Dit is geen video maar een boodschappenlijst.\n" * 20)
    return path


def _wait(
    app: Flask, recording_id: int, done: Callable[[Recording], bool], timeout: float = 120
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    last: dict[str, Any] = {}
    while time.monotonic() < deadline:
        with app.app_context():
            db.session.expire_all()
            recording = db.session.get(Recording, recording_id)
            assert recording is not None
            job = db.session.get(Job, recording.job_id) if recording.job_id else None
            last = {
                "status": recording.status,
                "error": recording.error_code,
                "mode": recording.mode,
                "reasons": list(recording.reasons or []),
                "rendition": recording.rendition_key,
                "poster": recording.poster_key,
                "thumbs": recording.thumbs_vtt_key,
                "original": recording.original_key,
                "segments": [(g.index, g.key, g.ready_at) for g in recording.segments],
                "frame_count": recording.frame_count,
                "fps": (recording.fps_num, recording.fps_den),
                "duration_ms": recording.duration_ms,
                "job": None if job is None else (job.status, job.percent, job.attempts, job.error),
            }
            if done(recording):
                return last
        time.sleep(0.25)
    raise AssertionError(f"recording {recording_id} not done in {timeout} s: {last}")


def _ready(recording: Recording) -> bool:
    return recording.status == "ready" and recording.thumbs_vtt_key is not None


def test_browser_playable_recording_is_remuxed_by_the_worker(
    app: Flask, worker: subprocess.Popen[bytes], inputs: dict[str, Path]
) -> None:
    cast = committed_traject(app)
    recording_id = stage_recording(app, cast, inputs["h264"], "Les groep 6 - Daan.mp4")
    state = _wait(app, recording_id, _ready)
    assert state["mode"] == "remux" and state["segments"] == []
    assert state["job"][0:2] == ("ready", 100)
    assert state["original"].endswith("/original.mp4")  # the name (a pupil's?) is not a key
    assert state["fps"] == (25, 1) and state["frame_count"] == 100
    with app.app_context():
        storage = get_storage()
        for key in (state["rendition"], state["poster"], state["thumbs"], state["original"]):
            assert storage.exists(key), key
        with storage.local_path(state["original"]) as original:
            assert original.read_bytes() == inputs["h264"].read_bytes()  # never modified
        with storage.local_path(state["rendition"]) as rendition:
            probe = ffmpeg.probe(rendition)
            head = rendition.read_bytes()[:4096]
        assert head.find(b"moov") != -1, "the moov atom comes first (playback before download)"
        assert probe.video_codec == "h264" and abs(probe.duration_s - 4.0) < 0.1


def test_hevc_is_encoded_in_segments_playable_before_the_join(
    app: Flask, worker: subprocess.Popen[bytes], inputs: dict[str, Path]
) -> None:
    cast = committed_traject(app)
    recording_id = stage_recording(app, cast, inputs["hevc"])
    # Playable from the first segment on: the HLS playlist lists it before the rest is done.
    first = _wait(app, recording_id, lambda r: any(g.ready_at for g in r.segments[:1]))
    assert first["mode"] == "reencode" and "hevc" in first["reasons"]
    assert len(first["segments"]) == 3  # 23 s in segments of 10 s
    state = _wait(app, recording_id, _ready)
    assert state["fps"] == (25, 1)
    assert state["frame_count"] == 23 * 25
    with app.app_context():
        with get_storage().local_path(state["rendition"]) as rendition:
            probe = ffmpeg.probe(rendition)
        assert probe.video_codec == "h264" and probe.pix_fmt == "yuv420p"
        assert abs(probe.duration_s - 23.0) < 0.1 and probe.frame_count == 23 * 25


def test_a_text_file_named_mp4_is_kept_but_refused_with_its_reason(
    app: Flask, inputs: dict[str, Path]
) -> None:
    cast = committed_traject(app)
    recording_id = stage_recording(app, cast, inputs["text"])
    with app.app_context():
        recording = db.session.get(Recording, recording_id)
        assert recording is not None
        assert (recording.status, recording.error_code, recording.job_id) == (
            "rejected",
            "not_video",
            None,
        )
        # Nothing the coach sent is lost until they remove it.
        with get_storage().local_path(recording.original_key) as kept:
            assert kept.read_bytes() == inputs["text"].read_bytes()


def test_retry_after_a_real_failure(
    app: Flask, worker: subprocess.Popen[bytes], inputs: dict[str, Path], tmp_path: Path
) -> None:
    """The original disappears from storage (a disk or bucket problem): processing fails with a
    reason; once it is back, "try again" processes it."""
    cast = committed_traject(app)
    recording_id = stage_recording(app, cast, inputs["h264"])
    _wait(app, recording_id, _ready)
    with app.app_context():
        recording = db.session.get(Recording, recording_id)
        assert recording is not None
        storage = get_storage()
        with storage.local_path(recording.original_key) as path:
            (tmp_path / "keep").write_bytes(path.read_bytes())
        storage.delete(recording.original_key)
        storage.delete(recording.rendition_key or "")
        recording.status = "processing"
        recording.rendition_key = None
        recording.thumbs_vtt_key = None
        from lti_tool.media import services as media

        media.queue_processing(recording)
        db.session.commit()
    failed = _wait(app, recording_id, lambda r: r.status == "failed")
    assert failed["error"] == "source_missing"
    assert failed["job"][0] == "failed"
    with app.app_context():
        recording = db.session.get(Recording, recording_id)
        assert recording is not None
        get_storage().put_file(recording.original_key, tmp_path / "keep")
        from lti_tool.media import services as media

        job = media.retry_recording(recording)
        assert job.attempts >= 2
        db.session.commit()
    state = _wait(app, recording_id, _ready)
    assert state["job"][0] == "ready"


def test_montage_renders_clips_from_recordings_of_the_cycle(
    app: Flask, worker: subprocess.Popen[bytes], inputs: dict[str, Path]
) -> None:
    cast: Cast = committed_traject(app)
    recording_id = stage_recording(app, cast, inputs["h264"])
    _wait(app, recording_id, _ready)
    clips = [
        {"recording_id": recording_id, "in_ms": 2000, "out_ms": 3000, "caption": "Daan kijkt op"},
        {"recording_id": recording_id, "in_ms": 400, "out_ms": 1200, "caption": ""},
    ]
    with app.app_context():
        montage = footage.save_montage(
            cast.coach_id, cast.traject_id, 1, {"title": "Rust", "clips": clips}, None
        )
        footage.render_montage(cast.coach_id, cast.traject_id, 1, montage.id)
        db.session.commit()
        montage_id = montage.id
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with app.app_context():
            db.session.expire_all()
            montage = db.session.get(Montage, montage_id)
            assert montage is not None
            if montage.status in ("ready", "failed"):
                break
        time.sleep(0.25)
    with app.app_context():
        montage = db.session.get(Montage, montage_id)
        assert montage is not None and montage.status == "ready", montage and montage.error_code
        assert montage.frame_count == 45  # 1.0 s + 0.8 s at 25 fps, cut on the frame
        assert montage.rendered_clips == montage.clips
        # Not shared yet: the teacher does not see it; sharing the cycle shares it.
        assert not footage.may_view(cast.teacher_id, "montage", montage_id)
        s.mark_recorded(cast.coach_id, cast.traject_id, 1, {})
        s.mark_analysed(cast.coach_id, cast.traject_id, 1, {"analysis_notes": "Sterk begin"})
        s.share(cast.coach_id, cast.traject_id, 1)
        db.session.commit()
        assert footage.may_view(cast.teacher_id, "montage", montage_id)
        assert not footage.may_view(cast.other_teacher_id, "montage", montage_id)


def test_removing_a_recording_while_it_is_processed_leaves_no_footage(
    app: Flask, worker: subprocess.Popen[bytes], inputs: dict[str, Path]
) -> None:
    cast = committed_traject(app)
    recording_id = stage_recording(app, cast, inputs["hevc"])
    _wait(app, recording_id, lambda r: any(g.ready_at for g in r.segments[:1]))
    with app.app_context():
        recording = db.session.get(Recording, recording_id)
        assert recording is not None
        from lti_tool.media import services as media

        media.remove_recording(recording)
        db.session.commit()
        storage = get_storage()
        prefix = f"recordings/{recording_id}/"
        # The tasks still running finish their segment, find the row gone and delete it.
        deadline = time.monotonic() + 60
        left = storage.list(prefix)
        while left and time.monotonic() < deadline:
            time.sleep(0.5)
            left = storage.list(prefix)
        time.sleep(3)  # and nothing comes back afterwards
        assert storage.list(prefix) == []


def test_removing_a_recording_takes_its_frames_out_of_montages(
    app: Flask, worker: subprocess.Popen[bytes], inputs: dict[str, Path]
) -> None:
    cast = committed_traject(app)
    only = stage_recording(app, cast, inputs["h264"])
    other = stage_recording(app, cast, inputs["h264"])
    _wait(app, only, _ready)
    _wait(app, other, _ready)
    with app.app_context():
        storage = get_storage()
        mixed = Montage(
            cycle_id=cast.cycle_id,
            status="ready",
            clips=[
                {"recording_id": only, "in_ms": 0, "out_ms": 1000, "caption": ""},
                {"recording_id": other, "in_ms": 0, "out_ms": 1000, "caption": ""},
            ],
        )
        alone = Montage(
            cycle_id=cast.cycle_id,
            status="ready",
            clips=[{"recording_id": only, "in_ms": 0, "out_ms": 1000, "caption": ""}],
        )
        db.session.add_all([mixed, alone])
        db.session.flush()
        for montage in (mixed, alone):
            montage.rendered_clips = list(montage.clips)
            montage.rendition_key = f"montages/{montage.id}/v1.mp4"
            storage.put_file(montage.rendition_key, inputs["h264"])
        db.session.commit()
        mixed_id, alone_id = mixed.id, alone.id
        from lti_tool.media import services as media

        recording = db.session.get(Recording, only)
        assert recording is not None
        media.remove_recording(recording)
        db.session.commit()
        db.session.expire_all()
        assert db.session.get(Montage, alone_id) is None
        kept = db.session.get(Montage, mixed_id)
        assert kept is not None and kept.status == "draft" and kept.rendition_key is None
        assert [c["recording_id"] for c in kept.clips] == [other]
        assert storage.list(f"montages/{alone_id}/") == []
        assert storage.list(f"montages/{mixed_id}/") == []
        assert storage.list(f"recordings/{only}/") == []
        assert storage.list(f"recordings/{other}/") != []
