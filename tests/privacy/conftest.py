"""Privacy fixtures: people from real launches (one platform per module), trajects of each kind
with a ready recording and montage whose files (rendition, poster, thumbnails) are real, made
by ffmpeg, and stored in the app's storage."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from flask import Flask

from lti_tool.cli import main
from lti_tool.cycles import services as s
from lti_tool.cycles.models import STATUS_CYCLES, Cycle, Traject
from lti_tool.db import db, utcnow
from lti_tool.launch.models import Launch
from lti_tool.media.models import MONTAGE_READY, REC_READY, Montage, Recording
from lti_tool.media.storage import get_storage
from lti_tool.people.models import Course
from lti_tool.privacy.models import AuditEvent
from tests.lti_platform import INSTITUTION_ADMIN, INSTRUCTOR, LEARNER, TestPlatform
from tests.media.test_streaming import Signed, sign_in

ROLES = {
    "coach": [INSTRUCTOR],
    "teacher": [LEARNER],
    "other_teacher": [LEARNER],
    "member_a": [LEARNER],
    "member_b": [LEARNER],
    "management": [LEARNER],
    "parent": [LEARNER],
    "external": [LEARNER],
    "admin": [INSTITUTION_ADMIN],
}


@dataclass
class School:
    """A platform and one launched person per role, in one course."""

    base: str
    platform: TestPlatform
    people: dict[str, Signed]
    course_id: int
    platform_id: int

    def uid(self, who: str) -> int:
        return self.people[who].user_id

    def call(
        self, who: str, method: str, path: str, body: Any = None, status: int | None = None
    ) -> requests.Response:
        answer = requests.request(
            method, self.base + path, json=body, headers=self.people[who].bearer, timeout=30
        )
        if status is not None:
            assert answer.status_code == status, (who, method, path, answer.text[:300])
        return answer


@pytest.fixture(scope="module")
def school(app: Flask, live_server: str) -> Iterator[School]:
    platform = TestPlatform(tool_base=live_server)
    result = app.test_cli_runner().invoke(main, platform.cli_args(name="Privacyschool"))
    assert result.exit_code == 0, result.output
    people = {who: sign_in(platform, who, roles, who.title()) for who, roles in ROLES.items()}
    with app.app_context():
        launch = db.session.scalar(
            sa.select(Launch).where(Launch.user_id == people["coach"].user_id)
        )
        assert launch is not None and launch.course_id is not None
        course = db.session.get(Course, launch.course_id)
        assert course is not None
        made = School(live_server, platform, people, course.id, course.platform_id)
    yield made
    platform.close()


@pytest.fixture(scope="session")
def clip(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A one-second 25 fps H.264 MP4, a poster and a thumbnail sheet, made by ffmpeg."""
    folder = tmp_path_factory.mktemp("privacy-clip")
    mp4 = folder / "web.mp4"
    run = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y"]
    subprocess.run(
        [*run, "-f", "lavfi", "-i", "testsrc=size=64x48:rate=25:duration=1",
         "-pix_fmt", "yuv420p", "-c:v", "libx264", str(mp4)],
        check=True,
    )  # fmt: skip
    poster = folder / "poster.jpg"
    subprocess.run([*run, "-i", str(mp4), "-frames:v", "1", str(poster)], check=True)
    return {"mp4": mp4, "poster": poster}


@dataclass
class Footage:
    traject_id: int
    cycle_id: int
    recording_id: int
    montage_id: int
    keys: dict[str, list[str]] = field(default_factory=dict)  # item -> stored keys


def put(key: str, src: Path) -> None:
    tmp = src.parent / f"copy-{uuid.uuid4().hex}{src.suffix}"
    shutil.copyfile(src, tmp)
    get_storage().put_file(key, tmp, move=True)


def add_footage(traject: Traject, cycle: Cycle, clip: dict[str, Path], coach_id: int) -> Footage:
    """A ready recording (rendition, poster, thumbnails) and a rendered, shared montage."""
    recording = Recording(
        cycle_id=cycle.id, uploaded_by_id=coach_id, original_name="les.mp4", original_key="x",
        status=REC_READY, size=clip["mp4"].stat().st_size, duration_ms=1000, fps_num=25,
        fps_den=1, frame_count=25, width=64, height=48, ready_at=utcnow(),
    )  # fmt: skip
    db.session.add(recording)
    db.session.flush()
    prefix = f"recordings/{recording.id}/"
    recording.original_key = prefix + "original.mp4"
    recording.rendition_key = prefix + "web.mp4"
    recording.poster_key = prefix + "poster.jpg"
    recording.thumbs_vtt_key = prefix + "thumbs/thumbs.vtt"
    put(recording.original_key, clip["mp4"])
    put(recording.rendition_key, clip["mp4"])
    put(recording.poster_key, clip["poster"])
    put(prefix + "thumbs/sheet_000.jpg", clip["poster"])
    vtt = clip["poster"].parent / f"thumbs-{uuid.uuid4().hex}.vtt"
    vtt.write_text("WEBVTT\n\n00:00.000 --> 00:01.000\nsheet_000.jpg#xywh=0,0,64,48\n")
    get_storage().put_file(recording.thumbs_vtt_key, vtt, move=True)
    montage = Montage(
        cycle_id=cycle.id, created_by_id=coach_id, title="Montage", status=MONTAGE_READY,
        clips=[{"recording_id": recording.id, "in_ms": 0, "out_ms": 1000, "caption": ""}],
        rendered_clips=[{"recording_id": recording.id, "in_ms": 0, "out_ms": 1000,
                         "caption": ""}],
        duration_ms=1000, fps_num=25, fps_den=1, frame_count=25, width=64, height=48,
        shared_at=utcnow(),
    )  # fmt: skip
    db.session.add(montage)
    db.session.flush()
    montage.rendition_key = f"montages/{montage.id}/v1.mp4"
    montage.poster_key = f"montages/{montage.id}/poster.jpg"
    put(montage.rendition_key, clip["mp4"])
    put(montage.poster_key, clip["poster"])
    db.session.flush()
    return Footage(traject.id, cycle.id, recording.id, montage.id)


def open_cycle(traject: Traject, shared: bool = True) -> Cycle:
    """Cycle 1, analysed and shared with the teacher (the state footage is watched in)."""
    traject.status = STATUS_CYCLES
    cycle = Cycle(
        traject_id=traject.id, number=1, step="shared" if shared else "analysed",
        shared_at=utcnow() if shared else None,
    )  # fmt: skip
    db.session.add(cycle)
    db.session.flush()
    return cycle


def make_traject(school: School, kind: str, clip: dict[str, Path]) -> Footage:
    """A traject of this kind in the school's course, its people, and footage in cycle 1."""
    coach = school.uid("coach")
    teacher = None if kind == "team" else school.uid("teacher")
    traject = s.create_traject(
        school.course_id, coach, kind, f"{kind} privacy", teacher,
        pupil_code="L-07" if kind == "child" else None,
    )  # fmt: skip
    if kind == "team":
        for who, role in (("member_a", "team_member"), ("member_b", "team_member"),
                          ("management", "management")):  # fmt: skip
            s.add_participant(coach, traject.id, role, school.uid(who))
    cycle = open_cycle(traject)
    return add_footage(traject, cycle, clip, coach)


def views_of(app: Flask, user_id: int, kind: str, item_id: int) -> list[AuditEvent]:
    with app.app_context():
        rows = list(
            db.session.scalars(
                sa.select(AuditEvent).where(
                    AuditEvent.actor_id == user_id,
                    AuditEvent.item_kind == kind,
                    AuditEvent.item_id == item_id,
                    AuditEvent.event.in_(("footage.view", "footage.download")),
                )
            )
        )
        for row in rows:
            db.session.expunge(row)
        return rows


def launch_ids(app: Flask, user_id: int) -> set[str]:
    with app.app_context():
        return set(db.session.scalars(sa.select(Launch.id).where(Launch.user_id == user_id)))
