"""Footage for the demo school: a generated classroom-like recording per cycle, processed by the
real pipeline (the same tasks a worker runs, here in-process so the demo is ready at once), and
the coach's montage of the first cycle."""

from __future__ import annotations

from pathlib import Path

from flask import current_app

from lti_tool.db import db
from lti_tool.media import pipeline, tasks
from lti_tool.media import services as media
from lti_tool.media.models import Montage, Recording

DEMO_SECONDS = 300  # long enough for the seeded markers (the last is at 4:10)


def classroom_video() -> Path:
    """The generated recording, made once per instance folder (about 20 s of ffmpeg)."""
    folder = Path(current_app.config["BEELDCOACH"].instance_path) / "demo"
    path = folder / "groep6-rekenles.mp4"
    if not path.exists():
        pipeline.demo_recording(path, DEMO_SECONDS)
    return path


def seed_recording(cycle_id: int, coach_id: int, name: str) -> Recording:
    """A recording as an upload would leave it, then processed in-process (remux, poster,
    thumbnails): the tasks commit, as they do in a worker."""
    recording = media.import_file(cycle_id, coach_id, classroom_video(), name)
    db.session.commit()  # the queued task goes to the worker too; whoever comes second skips
    tasks.process_recording.run(recording.id)
    db.session.refresh(recording)
    return recording


def seed_montage(cycle_id: int, coach_id: int, recording: Recording) -> Montage:
    clips = [
        {
            "recording_id": recording.id,
            "in_ms": 93_000,
            "out_ms": 99_000,
            "caption": "Hand op tafel",
        },
        {"recording_id": recording.id, "in_ms": 130_000, "out_ms": 137_000, "caption": "Knikken"},
        {"recording_id": recording.id, "in_ms": 246_000, "out_ms": 252_000, "caption": "Noor"},
    ]
    montage = Montage(
        cycle_id=cycle_id, created_by_id=coach_id, title="Momenten van kracht", clips=clips
    )
    db.session.add(montage)
    db.session.flush()
    media.queue_montage(montage)
    db.session.commit()
    tasks.render_montage.run(montage.id)
    db.session.refresh(montage)
    return montage
