"""Committed test data for tests that a worker process (another connection) must see."""

from __future__ import annotations

import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

from flask import Flask

from lti_tool.cycles import services as s
from lti_tool.db import db
from lti_tool.launch.models import Deployment, Platform
from lti_tool.media import services as media
from lti_tool.media.models import Recording
from lti_tool.people.models import Course, Membership, User


@dataclass(frozen=True)
class Cast:
    course_id: int
    coach_id: int
    teacher_id: int
    other_teacher_id: int
    traject_id: int
    cycle_id: int


def committed_traject(app: Flask, kind: str = "teacher") -> Cast:
    """A course with a coach and two teachers, and a traject of the first one in cycle 1."""
    with app.app_context():
        tag = uuid.uuid4().hex[:8]
        platform = Platform(
            issuer=f"https://media-{tag}.example",
            client_id="c",
            auth_login_url="https://x/auth",
            auth_token_url="https://x/token",
            key_set_url="https://x/jwks",
        )
        db.session.add(platform)
        db.session.flush()
        deployment = Deployment(platform_id=platform.id, deployment_id="1")
        db.session.add(deployment)
        db.session.flush()
        course = Course(
            platform_id=platform.id, deployment_pk=deployment.id, context_id="c1", title="Groep 6"
        )
        db.session.add(course)
        db.session.flush()
        people = []
        for name, role in (("Coach", "coach"), ("Leraar", "teacher"), ("Ander", "teacher")):
            user = User(issuer=platform.issuer, sub=uuid.uuid4().hex, name=name)
            db.session.add(user)
            db.session.flush()
            db.session.add(Membership(user_id=user.id, course_id=course.id, roles=[role]))
            people.append(user)
        db.session.flush()
        coach, teacher, other = people
        traject = s.create_traject(course.id, coach.id, kind, "Rust in groep 6", teacher.id)
        s.save_intake(teacher.id, traject.id, {"help_question": "Meer rust bij de start"})
        s.propose_question(teacher.id, traject.id, "Hoe krijg ik rust bij de start?")
        s.complete_intake(coach.id, traject.id)
        cycle = next(c for c in traject.cycles if c.number == 1)
        db.session.commit()
        return Cast(course.id, coach.id, teacher.id, other.id, traject.id, cycle.id)


def stage_recording(app: Flask, cast: Cast, source: Path, filename: str | None = None) -> int:
    """What the tus endpoint does once the last byte arrived: the file in the staging folder,
    an Upload row, then complete_upload (probe, store, queue), committed."""
    with app.app_context():
        recording = media.import_file(cast.cycle_id, cast.coach_id, source, filename or source.name)
        db.session.commit()
        return recording.id


def ffmpeg_make(path: Path, *args: str) -> Path:
    """A small input made by ffmpeg itself (lavfi sources)."""
    if not path.exists():
        subprocess.run(
            ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *args, str(path)], check=True
        )
    return path


def reload_recording(app: Flask, recording_id: int) -> Recording | None:
    with app.app_context():
        db.session.expire_all()
        recording = db.session.get(Recording, recording_id)
        if recording is not None:
            db.session.expunge(recording)
        return recording
