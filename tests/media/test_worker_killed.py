"""A worker killed in the middle of encoding a segment: nothing half-written stays behind, and
the task (acknowledged late) runs again and the recording is finished with exact frames.

In its own module so that its worker is the only one consuming: test_processing's workers would
otherwise take the work and the kill would prove nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from lti_tool.db import db
from lti_tool.media.models import Segment
from tests.media.factories import committed_traject, ffmpeg_make, stage_recording
from tests.media.test_processing import _ready, _start_worker, _stop, _wait


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True)
    return [int(x) for x in out.stdout.split()]


def _claimed_segment(app: Flask, recording_id: int, timeout: float = 90) -> tuple[int, str]:
    """Wait until a pool process has claimed a segment and is encoding it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with app.app_context():
            db.session.expire_all()
            row = db.session.execute(
                sa.select(Segment.index, Segment.claimed_by).where(
                    Segment.recording_id == recording_id,
                    Segment.claimed_by.is_not(None),
                    Segment.ready_at.is_(None),
                )
            ).first()
            db.session.rollback()
        if row is not None:
            return int(row[0]), str(row[1])
        time.sleep(0.05)
    raise AssertionError("no segment was being encoded")


def test_a_worker_killed_mid_task_leaves_no_half_file_and_the_task_runs_again(
    app: Flask, instance_path: Path, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    folder = tmp_path_factory.mktemp("killed")
    source = ffmpeg_make(
        folder / "hevc.mp4", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25",
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "23",
        "-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error",
        "-tag:v", "hvc1", "-c:a", "aac", "-shortest",
    )  # fmt: skip
    app.extensions["celery"].control.purge()  # what earlier tests queued without a worker
    proc = _start_worker(instance_path, database_url, concurrency=1)
    try:
        deadline = time.monotonic() + 60
        while not _children(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _children(proc.pid), "the worker's prefork pool started"
        cast = committed_traject(app)
        recording_id = stage_recording(app, cast, source)
        index, task_id = _claimed_segment(app, recording_id)
        # Kill the pool process that encodes it (not the worker's main process): the task is
        # unacknowledged (acks late) and goes back to the queue; its claim is its own.
        for pid in _children(proc.pid):
            os.kill(pid, signal.SIGKILL)
        state = _wait(app, recording_id, _ready, timeout=180)
        assert state["frame_count"] == 23 * 25
        with app.app_context():
            again = db.session.scalar(
                sa.select(Segment.claimed_by).where(
                    Segment.recording_id == recording_id, Segment.index == index
                )
            )
        assert again == task_id, "the redelivered task finished the segment it had claimed"
    finally:
        _stop(proc)
    media_dir = Path(app.config["BEELDCOACH"].media_dir)
    leftovers = [p for p in media_dir.rglob("*") if p.is_file() and ".part" in p.name]
    assert leftovers == []
