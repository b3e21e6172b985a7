"""The final report of a traject: its content gathered from the database into plain dataclasses,
in the order DOMAIN.md gives ("The final conversation's report"), for the HTML page and the PDF.

Strength first: per cycle the moments of strength come before the opportunities, and moments are
named, never counted. Nothing here points at footage outside the tool: a moment carries its time
code as text, and a moment of strength carries its still frame as a `data:` URL (`_still_url`).
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass
from datetime import date
from fractions import Fraction

import sqlalchemy as sa

from lti_tool.cycles.access import can, require
from lti_tool.cycles.models import (
    DOMAINS,
    ActionPoint,
    Cycle,
    Marker,
    Traject,
)
from lti_tool.db import db
from lti_tool.media.storage import get_storage
from lti_tool.people.models import Course, User

logger = logging.getLogger(__name__)

# Markers of kind "question" are working notes of the conversation, not part of the report.
REPORTED_MARKER_KINDS = ("strength", "opportunity")
TRIED_STATUSES = ("tried", "established")


class ReportNotReady(Exception):
    """The traject has no concluded final conversation yet; the page says so."""

    def __init__(self, traject: Traject) -> None:
        super().__init__(traject.id)
        self.traject = traject


@dataclass(frozen=True)
class ReportParticipant:
    role: str  # a participant role (coach, teacher, management, team_member, parent, external)
    name: str


@dataclass(frozen=True)
class QuestionWording:
    """One approved wording of the development question: version 1 from the intake, later ones
    refinements after a conversation."""

    version: int
    text: str
    after_cycle: int | None
    approved_on: date | None


@dataclass(frozen=True)
class ReportMoment:
    """A moment of strength or an opportunity, as text with its time-code reference."""

    id: int
    cycle_number: int
    kind: str  # "strength" or "opportunity"
    text: str
    teacher_words: str
    time_code: str | None  # "0:14" or "0:14–0:20"; plain text, never a link out of the tool
    media_kind: str | None  # "recording" / "montage" (media issue), or None
    tags: tuple[str, ...]
    domain: str | None
    # The hook for still frames: the media issue fills this with a URL inside the tool (or an
    # embeddable image for the PDF) where the footage still exists and consent allows. Until
    # then it is None, and no image is shown.
    still_url: str | None = None


@dataclass(frozen=True)
class ReportActionPoint:
    text: str
    status: str  # planned | tried | established

    @property
    def was_tried(self) -> bool:
        return self.status in TRIED_STATUSES


@dataclass(frozen=True)
class ReportCycle:
    number: int
    focus: str
    filming_on: date | None
    conversation_on: date | None
    strengths: tuple[ReportMoment, ...]
    opportunities: tuple[ReportMoment, ...]
    action_points: tuple[ReportActionPoint, ...]

    @property
    def moments(self) -> tuple[ReportMoment, ...]:
        """Strength first, opportunities after."""
        return self.strengths + self.opportunities


@dataclass(frozen=True)
class DomainYield:
    domain: str  # interactie | klassenmanagement | didactiek
    text: str  # "" when the final conversation named no yield in this domain


@dataclass(frozen=True)
class FinalReport:
    traject_id: int
    title: str
    kind: str
    section: str | None
    pupil_code: str | None
    course_title: str | None
    # Traject data
    started_on: date
    concluded_on: date
    intake_on: date | None
    participants: tuple[ReportParticipant, ...]
    recording_count: int
    conversation_count: int
    closed_early_reason: str | None
    # The question
    help_question: str
    questions: tuple[QuestionWording, ...]
    # The cycles
    cycles: tuple[ReportCycle, ...]
    # Conclusions of the final conversation
    goal_reached: str  # yes | partly | no
    how_it_came_about: str
    visible_in: tuple[ReportMoment, ...]
    yields: tuple[DomainYield, ...]
    teacher_evaluation: str
    coach_reflection: str
    follow_up: str

    @property
    def development_question(self) -> QuestionWording | None:
        """The first approved wording (from the intake)."""
        return self.questions[0] if self.questions else None

    @property
    def refinements(self) -> tuple[QuestionWording, ...]:
        """Later wordings, in order."""
        return self.questions[1:]


def is_ready(traject: Traject) -> bool:
    review = traject.final_review
    return review is not None and review.concluded_at is not None


def report_for(actor_id: int, traject_id: int) -> FinalReport:
    """The report as this person may see it: Forbidden without `view_report`, ReportNotReady
    before the final conversation is concluded. Still frames only for those who may see footage
    (school management sees outcomes, not footage)."""
    traject = require(actor_id, traject_id, "view_report")
    if not is_ready(traject):
        raise ReportNotReady(traject)
    return gather_report(traject, include_stills=can(actor_id, traject, "view_footage"))


def gather_report(traject: Traject, include_stills: bool = False) -> FinalReport:
    """Everything the report shows, read from the database (no access check: see report_for)."""
    review = traject.final_review
    if review is None or review.concluded_at is None:
        raise ReportNotReady(traject)
    intake = traject.intake
    cycle_ids = [c.id for c in traject.cycles]
    markers = list(
        db.session.scalars(
            sa.select(Marker)
            .where(Marker.cycle_id.in_(cycle_ids or [0]))
            .order_by(Marker.start_ms.is_(None), Marker.start_ms, Marker.id)
        )
    )
    numbers = {c.id: c.number for c in traject.cycles}
    moments = {m.id: _moment(m, numbers[m.cycle_id], include_stills) for m in markers}
    points = list(
        db.session.scalars(
            sa.select(ActionPoint)
            .where(ActionPoint.traject_id == traject.id)
            .order_by(ActionPoint.id)
        )
    )
    cycles = tuple(_cycle(c, markers, moments, points) for c in traject.cycles)
    course = db.session.get(Course, traject.course_id)
    started = (intake.intake_on if intake and intake.intake_on else None) or (
        traject.created_at.date()
    )
    return FinalReport(
        traject_id=traject.id,
        title=traject.title,
        kind=traject.kind,
        section=traject.section,
        pupil_code=traject.pupil_code,
        course_title=course.title if course is not None else None,
        started_on=started,
        concluded_on=review.concluded_at.date(),
        intake_on=intake.intake_on if intake else None,
        participants=_participants(traject),
        # One filming moment per cycle until the media issue's recordings can be counted.
        recording_count=sum(1 for c in traject.cycles if c.recorded_at is not None),
        conversation_count=sum(1 for c in traject.cycles if c.discussed_at is not None),
        closed_early_reason=traject.closed_early_reason,
        help_question=intake.help_question if intake else "",
        questions=tuple(
            QuestionWording(
                version=q.version,
                text=q.text,
                after_cycle=q.after_cycle,
                approved_on=q.approved_at.date() if q.approved_at else None,
            )
            for q in sorted(traject.questions, key=lambda q: q.version)
            if q.approved_at is not None  # a coach's wording counts once the teacher approves
        ),
        cycles=cycles,
        goal_reached=review.goal_reached or "",
        how_it_came_about=review.how_it_came_about,
        visible_in=tuple(moments[m] for m in review.visible_in_marker_ids or [] if m in moments),
        yields=tuple(
            DomainYield(d, (review.yield_per_domain or {}).get(d, "") or "") for d in DOMAINS
        ),
        teacher_evaluation=review.teacher_evaluation,
        coach_reflection=review.coach_reflection,
        follow_up=review.follow_up,
    )


def _participants(traject: Traject) -> tuple[ReportParticipant, ...]:
    user_ids = [p.user_id for p in traject.participants if p.user_id is not None]
    users = {
        u.id: u for u in db.session.scalars(sa.select(User).where(User.id.in_(user_ids or [0])))
    }
    order = {role: i for i, role in enumerate(_ROLE_ORDER)}
    people = []
    for p in sorted(traject.participants, key=lambda p: (order.get(p.role, 99), p.id)):
        user = users.get(p.user_id) if p.user_id is not None else None
        name = p.display_name or (user.display_name if user is not None else "")
        people.append(ReportParticipant(role=p.role, name=name))
    return tuple(people)


_ROLE_ORDER = ("teacher", "management", "team_member", "coach", "parent", "external")


def _cycle(
    cycle: Cycle,
    markers: list[Marker],
    moments: dict[int, ReportMoment],
    points: list[ActionPoint],
) -> ReportCycle:
    own = [moments[m.id] for m in markers if m.cycle_id == cycle.id]
    return ReportCycle(
        number=cycle.number,
        focus=cycle.focus,
        filming_on=cycle.filming_on,
        conversation_on=cycle.conversation_on,
        strengths=tuple(m for m in own if m.kind == "strength"),
        opportunities=tuple(m for m in own if m.kind == "opportunity"),
        action_points=tuple(
            ReportActionPoint(text=p.text, status=p.status)
            for p in points
            if p.cycle_id == cycle.id
        ),
    )


def _moment(marker: Marker, cycle_number: int, include_stills: bool) -> ReportMoment:
    return ReportMoment(
        id=marker.id,
        cycle_number=cycle_number,
        kind=marker.kind,
        text=marker.text,
        teacher_words=marker.teacher_words or "",
        time_code=time_code(marker.start_ms, marker.end_ms),
        media_kind=marker.media_kind,
        tags=tuple(marker.tags or ()),
        domain=marker.domain,
        still_url=_still_url(marker) if include_stills else None,
    )


def _still_url(marker: Marker) -> str | None:
    """The still frame of a moment of strength, as a `data:` URL (the PDF fetches nothing from
    outside): the frame at the marker's time code in the video it was made on, where that
    video still exists, is rendered and was shared with the teacher. None otherwise; nothing
    is faked. Stills are made once and kept with the footage, so they go when it goes."""
    if marker.kind != "strength" or marker.start_ms is None or marker.media_id is None:
        return None
    from lti_tool.media import services as media  # imports flow cycles -> media
    from lti_tool.media.models import Montage, Recording

    item: Recording | Montage | None
    if marker.media_kind == "recording":
        item = db.session.get(Recording, marker.media_id)
    elif marker.media_kind == "montage":
        item = db.session.get(Montage, marker.media_id)
    else:
        return None
    if item is None or item.cycle_id != marker.cycle_id or item.rendition_key is None:
        return None
    cycle = db.session.get(Cycle, item.cycle_id)
    shared = (
        item.shared_at is not None
        if isinstance(item, Montage)
        else cycle is not None and cycle.shared_at is not None
    )
    fps, count = item.fps, item.frame_count
    if not shared or fps is None or not count:
        return None
    frame = min(int(Fraction(marker.start_ms, 1000) * fps), count - 1)
    try:
        key = media.make_still(item, marker.media_kind, frame)
        with get_storage().open(key) as still:
            data = still.read()
    except Exception:  # a still is a nicety: the report stands without it
        logger.warning("no still for marker %s", marker.id, exc_info=True)
        return None
    return "data:image/jpeg;base64," + base64.b64encode(data).decode("ascii")


def time_code(start_ms: int | None, end_ms: int | None = None) -> str | None:
    """0:14, 1:02:03, or a segment 0:14–0:20."""
    if start_ms is None:
        return None
    start = clock(start_ms)
    if end_ms is not None and end_ms > start_ms and clock(end_ms) != start:
        return f"{start}–{clock(end_ms)}"
    return start


def clock(ms: int) -> str:
    """Milliseconds as 0:14 or 1:02:03 (used by the report and the traject pages)."""
    seconds = ms // 1000
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours}:{minutes:02d}:{seconds:02d}"
    return f"{minutes}:{seconds:02d}"
