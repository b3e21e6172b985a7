"""The traject's state machine: every step a service that checks who and when, flushes, and
never commits (the request or task commits once).

Order of the method: intake (development question approved by the teacher) -> cycles, each
planned -> recorded -> analysed -> shared -> prepared (kijkwijzer) -> discussed -> closed ->
final conversation (separate preparations, then joint conclusions) -> completed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from lti_tool.cycles.access import require, roles_in
from lti_tool.cycles.models import (
    ACTION_POINT_STATUSES,
    CYCLE_STEPS,
    DOMAINS,
    GOAL_REACHED,
    KIND_CHILD,
    KIND_TEAM,
    KINDS,
    MARKER_KINDS,
    P_COACH,
    P_MANAGEMENT,
    P_TEACHER,
    P_TEAM_MEMBER,
    PARTICIPANT_ROLES,
    SECTIONS,
    STATUS_COMPLETED,
    STATUS_CYCLES,
    STATUS_FINAL,
    STATUS_INTAKE,
    ActionPoint,
    Cycle,
    DevelopmentQuestion,
    FinalReview,
    Intake,
    Marker,
    Participant,
    Traject,
    ViewingGuide,
)
from lti_tool.cycles.tags import active_tags
from lti_tool.cycles.viewing_guides import AnswerRefused, template_for, validate_answers
from lti_tool.db import db, utcnow
from lti_tool.people.models import Course, Membership
from lti_tool.privacy.access import is_allowed
from lti_tool.privacy.services import consent_scopes

MAX_CYCLES = 8


class StepRefused(Exception):
    """A step out of order or with invalid input; `message` is shown to the person."""

    def __init__(self, code: str, message: object, field: str | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.message = message
        self.field = field


def _text(value: object, field: str, required: bool = True, limit: int = 10_000) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if required and not text:
        raise StepRefused("required", _l("This field is required."), field)
    if len(text) > limit:
        raise StepRefused("too_long", _l("This text is too long."), field)
    return text


def _date(value: object, field: str) -> date | None:
    """A date from a form or JSON: a date, an ISO string, or nothing."""
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise StepRefused("date", _l("Give a valid date."), field)


def _member_of_course(
    user_id: int, course_id: int, field: str, course_role: str | None = None
) -> None:
    """People are chosen from the traject's own course (never someone of another school),
    and a coach or a coached teacher must hold that role in the course."""
    roles = db.session.scalar(
        sa.select(Membership.roles).where(
            Membership.user_id == user_id, Membership.course_id == course_id
        )
    )
    if roles is None:
        raise StepRefused("person", _l("Choose someone from this course."), field)
    if course_role is not None and course_role not in roles:
        if course_role == "coach":
            raise StepRefused("person", _l("Only a video coach of this course can coach."), field)
        raise StepRefused("person", _l("Choose a teacher of this course."), field)


#: Who may take part in a traject of each kind. A team traject has no single coached
#: teacher: its members are team members (their footage reaches the team only by release).
ROLES_BY_KIND = {
    "teacher": (P_COACH, P_TEACHER),
    "team": (P_COACH, P_MANAGEMENT, P_TEAM_MEMBER),
    "child": (P_COACH, P_TEACHER, "parent", "external"),
}
#: The course role a participant role needs.
COURSE_ROLE_FOR = {P_COACH: "coach", P_TEACHER: "teacher"}


def _progressed(traject: Traject, event: str) -> None:
    """Outcomes hook: the traject started, closed a cycle or completed; the platform hears of
    it through AGS after the commit (lti_tool.outcomes.services.traject_progressed)."""
    from lti_tool.outcomes.services import traject_progressed  # outcomes imports this module

    traject_progressed(traject, event)


# --- trajects and participants ---------------------------------------------------------------


def create_traject(
    course_id: int,
    coach_id: int,
    kind: str,
    title: str,
    teacher_id: int | None = None,
    pupil_code: str | None = None,
    section: str | None = None,
) -> Traject:
    """A coach opens a traject in a course; the coach becomes its first coach participant."""
    if kind not in KINDS:
        raise StepRefused("kind", _l("Choose the kind of traject."), "kind")
    title = _text(title, "title", limit=200)
    if kind == KIND_CHILD:
        code = _text(pupil_code, "pupil_code", limit=64)
        pupil_code = code
    else:
        pupil_code = None
    if kind != KIND_TEAM:
        section = None
    elif section and section not in SECTIONS:
        raise StepRefused("section", _l("Choose a school section."), "section")
    if kind != KIND_TEAM and teacher_id is None:
        raise StepRefused("teacher", _l("Choose the teacher."), "teacher_id")
    if kind == KIND_TEAM and teacher_id is not None:
        raise StepRefused(
            "role", _l("A team traject has team members, not one coached teacher."), "teacher_id"
        )
    _member_of_course(coach_id, course_id, "coach", course_role="coach")
    if teacher_id is not None:
        _member_of_course(teacher_id, course_id, "teacher_id", course_role="teacher")
    traject = Traject(
        course_id=course_id,
        kind=kind,
        title=title,
        pupil_code=pupil_code,
        section=section or None,
        created_by_id=coach_id,
        status=STATUS_INTAKE,
    )
    db.session.add(traject)
    db.session.flush()
    _add(traject, coach_id, P_COACH, coach_id)
    if teacher_id is not None:
        _add(traject, teacher_id, P_TEACHER, coach_id)
    traject.intake = Intake()
    db.session.flush()
    return traject


def _add(traject: Traject, user_id: int | None, role: str, added_by: int, name: str = "") -> None:
    db.session.add(
        Participant(
            traject_id=traject.id,
            user_id=user_id,
            role=role,
            display_name=name or None,
            added_by_id=added_by,
        )
    )


def add_participant(
    actor_id: int, traject_id: int, role: str, user_id: int | None = None, name: str = ""
) -> Participant:
    traject = require(actor_id, traject_id, "manage_participants")
    if role not in PARTICIPANT_ROLES:
        raise StepRefused("role", _l("Choose a role."), "role")
    if role in ("parent", "external") and traject.kind != KIND_CHILD:
        raise StepRefused(
            "role",
            _l("Parents and external professionals take part in a child traject only."),
            "role",
        )
    if role not in ROLES_BY_KIND[traject.kind]:
        raise StepRefused(
            "role", _l("This role does not take part in this kind of traject."), "role"
        )
    if role == "external" and "external" not in consent_scopes(traject.id):
        # Privacy: externals join only once the parents' consent covers them.
        raise StepRefused(
            "consent",
            _l("External professionals join only once the parents' consent covers them."),
            "role",
        )
    if role == P_TEACHER and any(p.role == P_TEACHER for p in traject.participants):
        raise StepRefused("role", _l("This traject already has its teacher."), "role")
    if user_id is None and not name.strip():
        raise StepRefused("name", _l("Choose a person or give a name."), "name")
    if user_id is not None:
        _member_of_course(user_id, traject.course_id, "user_id", COURSE_ROLE_FOR.get(role))
    elif role not in ("parent", "external"):
        raise StepRefused("person", _l("Choose someone from this course."), "user_id")
    exists = db.session.scalar(
        sa.select(Participant).where(
            Participant.traject_id == traject.id,
            Participant.user_id == user_id,
            Participant.role == role,
        )
    )
    if exists is not None and user_id is not None:
        return exists
    participant = Participant(
        traject_id=traject.id,
        user_id=user_id,
        role=role,
        display_name=name.strip()[:200] or None,
        added_by_id=actor_id,
    )
    db.session.add(participant)
    db.session.flush()
    return participant


# --- intake and development question ----------------------------------------------------------


def save_intake(actor_id: int, traject_id: int, form: dict[str, Any]) -> Intake:
    traject = require(actor_id, traject_id, "edit_intake")
    if traject.status != STATUS_INTAKE:
        raise StepRefused("order", _l("The intake is finished and can no longer be changed."))
    if traject.intake is None:
        traject.intake = Intake()
    intake = traject.intake
    intake.help_question = _text(form.get("help_question"), "help_question")
    intake.arrangements = _text(form.get("arrangements"), "arrangements", required=False)
    intake.conditions = _text(form.get("conditions"), "conditions", required=False)
    intake.planned_dates = _text(form.get("planned_dates"), "planned_dates", required=False)
    intake.intake_on = _date(form.get("intake_on"), "intake_on")
    db.session.flush()
    return intake


def current_question(traject: Traject) -> DevelopmentQuestion | None:
    approved = [q for q in traject.questions if q.approved_at is not None]
    return approved[-1] if approved else None


def propose_question(
    actor_id: int, traject_id: int, text: str, after_cycle: int | None = None
) -> DevelopmentQuestion:
    """A wording of the development question. The teacher's own words count at once; a coach's
    wording waits for the teacher's approval. Refining after a conversation keeps history."""
    traject = require(actor_id, traject_id, "view")
    roles = roles_in(traject.id, actor_id)
    approver = P_MANAGEMENT if traject.kind == KIND_TEAM else P_TEACHER
    if not roles & {P_COACH, approver}:
        raise StepRefused("forbidden", _l("Only the coach or the teacher words the question."))
    if traject.status in (STATUS_FINAL, STATUS_COMPLETED):
        raise StepRefused("order", _l("The traject is in its final conversation."))
    text = _text(text, "development_question", limit=2000)
    if after_cycle is not None and not any(c.number == after_cycle for c in traject.cycles):
        raise StepRefused("not_found", _l("This cycle does not exist."), "after_cycle")
    version = len(traject.questions) + 1
    question = DevelopmentQuestion(
        traject_id=traject.id,
        version=version,
        text=text,
        author_id=actor_id,
        after_cycle=after_cycle,
    )
    if approver in roles:
        question.approved_at = utcnow()
        question.approved_by_id = actor_id
    db.session.add(question)
    db.session.flush()
    db.session.refresh(traject)
    return question


def approve_question(actor_id: int, traject_id: int, question_id: int) -> DevelopmentQuestion:
    traject = require(actor_id, traject_id, "approve_question")
    if traject.status in (STATUS_FINAL, STATUS_COMPLETED):
        raise StepRefused("order", _l("The traject is in its final conversation."))
    question = db.session.get(DevelopmentQuestion, question_id)
    if question is None or question.traject_id != traject.id:
        raise StepRefused("not_found", _l("This wording does not belong to the traject."))
    if question.approved_at is None:
        question.approved_at = utcnow()
        question.approved_by_id = actor_id
    db.session.flush()
    return question


def complete_intake(actor_id: int, traject_id: int) -> Traject:
    traject = require(actor_id, traject_id, "coach_step")
    if traject.status != STATUS_INTAKE:
        raise StepRefused("order", _l("The intake is already finished."))
    if traject.intake is None or not traject.intake.help_question:
        raise StepRefused("order", _l("Write down the help question first."))
    if current_question(traject) is None:
        raise StepRefused(
            "order",
            _l("The development question needs the teacher's own words or approval first."),
        )
    traject.intake.completed_at = utcnow()
    traject.status = STATUS_CYCLES
    for number in range(1, traject.planned_cycles + 1):
        if not any(c.number == number for c in traject.cycles):
            db.session.add(Cycle(traject_id=traject.id, number=number))
    db.session.flush()
    db.session.refresh(traject)
    _progressed(traject, "started")
    return traject


# --- cycles -----------------------------------------------------------------------------------


def _cycle(actor_id: int, traject_id: int, number: int, action: str) -> tuple[Traject, Cycle]:
    traject = require(actor_id, traject_id, action)
    if traject.status != STATUS_CYCLES:
        raise StepRefused("order", _l("The video cycles have not started, or are over."))
    cycle = next((c for c in traject.cycles if c.number == number), None)
    if cycle is None:
        raise StepRefused("not_found", _l("This cycle does not exist."))
    earlier = [c for c in traject.cycles if c.number < number and c.step != "closed"]
    if earlier:
        raise StepRefused("order", _l("Close the previous cycle first."))
    return traject, cycle


def _expect(cycle: Cycle, *steps: str) -> None:
    if cycle.step not in steps:
        messages = {
            "planned": _l("The recording has not been attached yet."),
            "recorded": _l("The coach has not finished the analysis yet."),
            "analysed": _l("The footage has not been shared with the teacher yet."),
            "shared": _l("The kijkwijzer has not been filled in yet."),
            "prepared": _l("The coaching conversation has not taken place yet."),
            "discussed": _l("Agree the action points and plan the next filming first."),
            "closed": _l("This cycle is closed."),
        }
        raise StepRefused("order", messages[cycle.step])


def mark_recorded(actor_id: int, traject_id: int, number: int, form: dict[str, Any]) -> Cycle:
    """The recording(s) of this cycle are in (the media issue attaches the files)."""
    _, cycle = _cycle(actor_id, traject_id, number, "coach_step")
    _expect(cycle, "planned")
    cycle.focus = _text(form.get("focus"), "focus", required=False, limit=2000)
    cycle.filming_on = _date(form.get("filming_on"), "filming_on") or date.today()
    cycle.recorded_at = utcnow()
    cycle.step = "recorded"
    db.session.flush()
    return cycle


def mark_analysed(actor_id: int, traject_id: int, number: int, form: dict[str, Any]) -> Cycle:
    _, cycle = _cycle(actor_id, traject_id, number, "coach_step")
    _expect(cycle, "recorded")
    cycle.analysis_notes = _text(form.get("analysis_notes"), "analysis_notes")
    cycle.analysed_at = utcnow()
    cycle.step = "analysed"
    db.session.flush()
    return cycle


def share(actor_id: int, traject_id: int, number: int) -> Cycle:
    traject, cycle = _cycle(actor_id, traject_id, number, "coach_step")
    _expect(cycle, "analysed")
    cycle.shared_at = utcnow()
    cycle.step = "shared"
    from lti_tool.cycles.footage import share_footage  # footage imports this module

    share_footage(cycle)
    if cycle.viewing_guide is None:
        cycle.viewing_guide = ViewingGuide(
            author_id=actor_id, questions=template_for(traject), answers={}
        )
    db.session.flush()
    return cycle


def save_viewing_guide(
    actor_id: int, traject_id: int, number: int, answers: dict[str, Any], submit: bool
) -> ViewingGuide:
    """The teacher's kijkwijzer: saved as a draft, or submitted (which moves the cycle on)."""
    _, cycle = _cycle(actor_id, traject_id, number, "fill_viewing_guide")
    if cycle.step in ("planned", "recorded", "analysed"):
        raise StepRefused(
            "order", _l("The kijkwijzer opens once the coach has shared the footage.")
        )
    _expect(cycle, "shared")
    guide = cycle.viewing_guide
    assert guide is not None  # created when shared
    try:
        guide.answers = validate_answers(guide.questions, answers, complete=submit)
    except AnswerRefused as exc:
        raise StepRefused("answer", exc.message, exc.key) from exc
    guide.author_id = actor_id
    if submit:
        guide.submitted_at = utcnow()
        cycle.prepared_at = guide.submitted_at
        cycle.step = "prepared"
    db.session.flush()
    return guide


def record_conversation(actor_id: int, traject_id: int, number: int, form: dict[str, Any]) -> Cycle:
    _, cycle = _cycle(actor_id, traject_id, number, "conversation")
    _expect(cycle, "prepared", "discussed")
    cycle.conversation_notes = _text(form.get("conversation_notes"), "conversation_notes")
    cycle.conversation_on = _date(form.get("conversation_on"), "conversation_on") or date.today()
    cycle.discussed_at = cycle.discussed_at or utcnow()
    cycle.step = "discussed"
    db.session.flush()
    return cycle


def add_marker(actor_id: int, traject_id: int, number: int, form: dict[str, Any]) -> Marker:
    """A moment of strength, opportunity or question; the player issue adds its interface."""
    traject = require(actor_id, traject_id, "conversation")
    if traject.status != STATUS_CYCLES:
        raise StepRefused("order", _l("Markers are set while the video cycles run."))
    cycle = next((c for c in traject.cycles if c.number == number), None)
    if cycle is None or cycle.step in ("planned",):
        raise StepRefused("order", _l("Markers can be set once the cycle has footage."))
    kind = form.get("kind") or "strength"
    if kind not in MARKER_KINDS:
        raise StepRefused("kind", _l("Choose the kind of marker."), "kind")
    domain = form.get("domain") or None
    if domain is not None and domain not in DOMAINS:
        raise StepRefused("domain", _l("Choose a domain."), "domain")
    start_ms, end_ms = form.get("start_ms"), form.get("end_ms")
    for value, field in ((start_ms, "start_ms"), (end_ms, "end_ms")):
        if value is not None and (not isinstance(value, int) or value < 0):
            raise StepRefused("time", _l("Give a valid time code."), field)
    if start_ms is not None and end_ms is not None and end_ms < start_ms:
        raise StepRefused("time", _l("A segment ends after it starts."), "end_ms")
    tags = form.get("tags") or []
    course = db.session.get(Course, traject.course_id)
    allowed_tags = set(active_tags(course.platform_id)) if course is not None else set()
    if not isinstance(tags, list) or not all(
        isinstance(t, str) and t in allowed_tags for t in tags
    ):
        raise StepRefused("tags", _l("Choose tags from the list."), "tags")
    media_kind, media_id = form.get("media_kind"), form.get("media_id")
    # What the marker points at: a recording or montage of this very cycle.
    from lti_tool.cycles.footage import media_exists_in_cycle  # footage imports this module

    if (
        media_kind not in (None, "recording", "montage")
        or (media_id is not None and (not isinstance(media_id, int) or media_id < 1))
        or not media_exists_in_cycle(cycle, media_kind, media_id)
    ):
        raise StepRefused("media", _l("This recording is not available."), "media_id")
    marker = Marker(
        cycle_id=cycle.id,
        media_kind=media_kind,
        media_id=media_id,
        start_ms=start_ms,
        end_ms=end_ms,
        kind=kind,
        text=_text(form.get("text"), "text", limit=4000),
        teacher_words=_text(form.get("teacher_words"), "teacher_words", False, 4000),
        tags=[t[:120] for t in tags][:12],
        domain=domain,
        author_id=actor_id,
    )
    db.session.add(marker)
    db.session.flush()
    return marker


def add_action_point(actor_id: int, traject_id: int, number: int, text: str) -> ActionPoint:
    _, cycle = _cycle(actor_id, traject_id, number, "conversation")
    _expect(cycle, "discussed")
    point = ActionPoint(
        traject_id=traject_id,
        cycle_id=cycle.id,
        text=_text(text, "action_point", limit=2000),
        author_id=actor_id,
    )
    db.session.add(point)
    db.session.flush()
    return point


def set_action_point_status(
    actor_id: int, traject_id: int, point_id: int, status: str
) -> ActionPoint:
    traject = require(actor_id, traject_id, "conversation")
    if traject.status == STATUS_COMPLETED:
        raise StepRefused("order", _l("The traject is completed."))
    point = db.session.get(ActionPoint, point_id)
    if point is None or point.traject_id != traject_id:
        raise StepRefused("not_found", _l("This action point does not belong to the traject."))
    if status not in ACTION_POINT_STATUSES:
        raise StepRefused("status", _l("Choose planned, tried or established."), "status")
    point.status = status
    point.status_changed_at = utcnow()
    db.session.flush()
    return point


def close_cycle(actor_id: int, traject_id: int, number: int, form: dict[str, Any]) -> Cycle:
    traject, cycle = _cycle(actor_id, traject_id, number, "coach_step")
    _expect(cycle, "discussed")
    points = db.session.scalar(
        sa.select(sa.func.count()).select_from(ActionPoint).where(ActionPoint.cycle_id == cycle.id)
    )
    if not points:
        raise StepRefused("order", _l("Agree at least one action point first."))
    is_last = number == max(c.number for c in traject.cycles)
    next_on = _date(form.get("next_filming_on"), "next_filming_on")
    if not is_last and next_on is None:
        raise StepRefused("required", _l("Plan the next filming moment."), "next_filming_on")
    cycle.next_filming_on = next_on
    cycle.closed_at = utcnow()
    cycle.step = "closed"
    if is_last:
        _start_final(traject)
    db.session.flush()
    _progressed(traject, f"cycle-{number}")
    return cycle


def add_cycle(actor_id: int, traject_id: int) -> Cycle:
    traject = require(actor_id, traject_id, "coach_step")
    if traject.status != STATUS_CYCLES:
        raise StepRefused("order", _l("Cycles can be added while the video cycles run."))
    if len(traject.cycles) >= MAX_CYCLES:
        raise StepRefused("order", _l("A traject has at most eight cycles."))
    cycle = Cycle(traject_id=traject.id, number=max(c.number for c in traject.cycles) + 1)
    traject.planned_cycles = cycle.number
    db.session.add(cycle)
    db.session.flush()
    db.session.refresh(traject)
    return cycle


def close_early(actor_id: int, traject_id: int, reason: str) -> Traject:
    """The coach ends the video cycles before the last one, with a reason, for the final talk."""
    traject = require(actor_id, traject_id, "coach_step")
    if traject.status != STATUS_CYCLES:
        raise StepRefused("order", _l("Only running video cycles can be closed early."))
    traject.closed_early_reason = _text(reason, "reason", limit=2000)
    _start_final(traject)
    db.session.flush()
    return traject


def _start_final(traject: Traject) -> None:
    traject.status = STATUS_FINAL
    if traject.final_review is None:
        traject.final_review = FinalReview()


# --- final conversation -----------------------------------------------------------------------


def _final(actor_id: int, traject_id: int, action: str) -> tuple[Traject, FinalReview]:
    traject = require(actor_id, traject_id, action)
    if traject.status != STATUS_FINAL or traject.final_review is None:
        if traject.status in (STATUS_INTAKE, STATUS_CYCLES):
            raise StepRefused(
                "order",
                _l(
                    "The final conversation comes after the last cycle is closed, "
                    "or after the coach closes the cycles early with a reason."
                ),
            )
        raise StepRefused("order", _l("The final conversation is concluded."))
    return traject, traject.final_review


def prepare_final(actor_id: int, traject_id: int, text: str, done: bool) -> FinalReview:
    """Teacher and coach prepare separately; neither sees the other's until both are done."""
    traject, review = _final(actor_id, traject_id, "prepare_final")
    roles = roles_in(traject.id, actor_id)
    if preparations_visible(review):
        # Each prepared without the other's view; once both can read both, they stay as made.
        raise StepRefused("order", _l("Both preparations are done and can no longer change."))
    text = _text(text, "preparation", required=done, limit=10_000)
    if P_COACH in roles:
        review.coach_preparation = text
        review.coach_prepared_at = utcnow() if done else None
    else:
        review.teacher_preparation = text
        review.teacher_prepared_at = utcnow() if done else None
    db.session.flush()
    return review


def preparations_visible(review: FinalReview) -> bool:
    return review.coach_prepared_at is not None and review.teacher_prepared_at is not None


@dataclass(frozen=True)
class PreparationView:
    own: str
    other: str | None  # None while the other has not finished


def preparation_for(actor_id: int, traject_id: int) -> PreparationView:
    """Readable during the final conversation and after it; the other's text only once both
    are done."""
    traject = require(actor_id, traject_id, "prepare_final")
    review = traject.final_review
    if review is None:
        raise StepRefused("order", _l("The final conversation has not started yet."))
    is_coach = P_COACH in roles_in(traject.id, actor_id)
    own = review.coach_preparation if is_coach else review.teacher_preparation
    other = review.teacher_preparation if is_coach else review.coach_preparation
    return PreparationView(own, other if preparations_visible(review) else None)


def conclude_final(actor_id: int, traject_id: int, form: dict[str, Any]) -> FinalReview:
    traject, review = _final(actor_id, traject_id, "conclude_final")
    if not preparations_visible(review):
        raise StepRefused("order", _l("Both the teacher and the coach prepare first."))
    goal = form.get("goal_reached")
    if goal not in GOAL_REACHED:
        raise StepRefused("required", _l("Choose whether the goal was reached."), "goal_reached")
    review.goal_reached = goal
    review.how_it_came_about = _text(form.get("how_it_came_about"), "how_it_came_about")
    yields = form.get("yield_per_domain") or {}
    if not isinstance(yields, dict):
        raise StepRefused("yield", _l("Describe the yield per domain."), "yield_per_domain")
    review.yield_per_domain = {
        d: _text(yields.get(d), f"yield_{d}", required=False, limit=4000) for d in DOMAINS
    }
    review.teacher_evaluation = _text(form.get("teacher_evaluation"), "teacher_evaluation", False)
    review.coach_reflection = _text(form.get("coach_reflection"), "coach_reflection", False)
    review.follow_up = _text(form.get("follow_up"), "follow_up", required=False)
    raw_ids = form.get("visible_in_marker_ids") or []
    if not isinstance(raw_ids, list):
        raise StepRefused("markers", _l("Choose moments from the list."), "visible_in_marker_ids")
    marker_ids = [
        int(m)
        for m in raw_ids
        if re.fullmatch(r"[0-9]{1,9}", str(m))  # ASCII digits only
    ]
    own_markers = set(
        db.session.scalars(
            sa.select(Marker.id)
            .join(Cycle, Cycle.id == Marker.cycle_id)
            .where(Cycle.traject_id == traject.id, Marker.id.in_(marker_ids or [0]))
        )
    )
    review.visible_in_marker_ids = [m for m in marker_ids if m in own_markers]
    review.concluded_at = utcnow()
    traject.status = STATUS_COMPLETED
    traject.completed_at = review.concluded_at
    db.session.flush()
    _progressed(traject, "completed")
    return review


# --- what needs attention ---------------------------------------------------------------------


def next_step(traject: Traject, roles: set[str]) -> tuple[str, object]:
    """(code, text) of the next step for someone with these roles in the traject."""
    is_coach = P_COACH in roles
    approver = P_MANAGEMENT if traject.kind == KIND_TEAM else P_TEACHER
    if traject.status == STATUS_INTAKE:
        if current_question(traject) is None:
            pending = [q for q in traject.questions if q.approved_at is None]
            if pending and approver in roles:
                return "approve_question", _l("Approve or reword your development question.")
            if pending:
                if traject.kind == KIND_TEAM:
                    return "wait", _l(
                        "School management approves or rewords the proposed question."
                    )
                return "wait", _l("The teacher approves or rewords the proposed question.")
            return "question", _l("Put the development question into words.")
        if is_coach:
            return "complete_intake", _l("Finish the intake to start the video cycles.")
        return "wait", _l("The coach finishes the intake.")
    if traject.status == STATUS_CYCLES:
        cycle = next((c for c in traject.cycles if c.step != "closed"), None)
        if cycle is None:
            return "wait", _l("The coach plans the final conversation.")
        coach_steps = {
            "planned": _l("Film cycle %(n)s and attach the recording.", n=cycle.number),
            "recorded": _l("Analyse and edit the footage of cycle %(n)s.", n=cycle.number),
            "analysed": _l("Share the footage of cycle %(n)s with the teacher.", n=cycle.number),
            "discussed": _l("Agree action points and close cycle %(n)s.", n=cycle.number),
        }
        if cycle.step == "shared":
            if is_allowed(roles, traject.kind, "fill_viewing_guide"):
                return "viewing_guide", _l(
                    "Watch your footage of cycle %(n)s and fill in the kijkwijzer.", n=cycle.number
                )
            return "wait", _l("The teacher watches the footage and fills in the kijkwijzer.")
        if cycle.step == "prepared" and not is_allowed(roles, traject.kind, "conversation"):
            return "wait", _l(
                "The coaching conversation of cycle %(n)s takes place.", n=cycle.number
            )
        if cycle.step == "prepared":
            return "conversation", _l(
                "Hold the coaching conversation of cycle %(n)s.", n=cycle.number
            )
        if is_coach and cycle.step in coach_steps:
            return cycle.step, coach_steps[cycle.step]
        if cycle.step == "discussed" and is_allowed(roles, traject.kind, "conversation"):
            # The action points are agreed together; the coach then closes the cycle.
            return "action_points", _l(
                "Agree the action points of cycle %(n)s with your coach.", n=cycle.number
            )
        return "wait", _l("The coach prepares cycle %(n)s.", n=cycle.number)
    if traject.status == STATUS_FINAL:
        review = traject.final_review
        mine = None
        if review is not None:
            mine = review.coach_prepared_at if is_coach else review.teacher_prepared_at
        if mine is None and is_allowed(roles, traject.kind, "prepare_final"):
            return "prepare_final", _l("Prepare the final conversation.")
        if not is_allowed(roles, traject.kind, "prepare_final"):
            return "wait", _l("The final conversation is being prepared.")
        if is_coach and review is not None and preparations_visible(review):
            return "conclude_final", _l("Record the conclusions of the final conversation.")
        return "wait", _l("The final conversation is being prepared.")
    if is_allowed(roles, traject.kind, "view_report"):
        return "done", _l("The traject is completed. The final report is ready.")
    return "done", _l("The traject is completed.")


assert CYCLE_STEPS[0] == "planned" and CYCLE_STEPS[-1] == "closed"


# --- who sees what of a cycle -----------------------------------------------------------------

#: How a person looks at a cycle's markers; the player's modes are these. analysis: the coach
#: before the conversation, the coaches' markers only (the teacher's preparation stays theirs
#: until the conversation); preparation: the teacher alone, their own markers only (they form
#: their own view first); conversation: together, from the submitted kijkwijzer on, everyone's;
#: review: a closed cycle, or the video cycles are over: everyone's, except in a cycle that never
#: reached the conversation (closed early), where the analysis or preparation rule still holds.
MARKER_MODES = ("analysis", "preparation", "conversation", "review")


def marker_mode(roles: set[str], traject: Traject, cycle: Cycle) -> str:
    """How someone with these roles sees this cycle's markers now. The traject page and the
    API show markers this way; the player starts in this mode (and may offer the teacher a
    look back alone: web.player_api.modes_for)."""
    if traject.status != STATUS_CYCLES or cycle.step == "closed":
        return "review"
    if cycle.step in ("prepared", "discussed"):
        return "conversation"
    return "analysis" if P_COACH in roles else "preparation"


def _seen_in(
    viewer_id: int, traject: Traject, cycle: Cycle, roles: set[str], mode: str | None
) -> sa.ColumnElement[bool]:
    mode = mode or marker_mode(roles, traject, cycle)
    in_cycle = Marker.cycle_id == cycle.id
    if mode == "review" and cycle.step not in ("prepared", "discussed", "closed"):
        # Looking back on a cycle that never got to the conversation (the cycles were closed
        # early): what was not brought in stays with its author, as it was.
        mode = "analysis" if P_COACH in roles else "preparation"
    if mode == "preparation":
        return sa.and_(in_cycle, Marker.author_id == viewer_id)
    if mode == "analysis":
        coaches = [p.user_id for p in traject.participants if p.role == P_COACH and p.user_id]
        return sa.and_(in_cycle, Marker.author_id.in_(coaches or [0]))
    if mode in ("conversation", "review"):
        return in_cycle
    raise ValueError(f"unknown marker mode {mode!r}")


def markers_visible_to(
    viewer_id: int,
    traject: Traject,
    cycles: Iterable[Cycle],
    roles: set[str],
    mode: str | None = None,
) -> sa.Select[Marker]:
    """The one rule for whose markers a person sees (traject page, API and player): the
    markers of these cycles that this viewer sees, by time code. Only those in the conversation
    see markers at all; then as `mode` shows them, or without a mode as marker_mode decides:
    everyone's once the kijkwijzer is submitted or the cycle is closed, before that a coach the
    coaches' markers and anyone else only their own."""
    seen = [_seen_in(viewer_id, traject, c, roles, mode) for c in cycles]
    if not seen or not is_allowed(roles, traject.kind, "conversation"):
        seen = [sa.false()]
    return (
        sa.select(Marker)
        .where(sa.or_(*seen))
        .order_by(Marker.start_ms.is_(None), Marker.start_ms, Marker.id)
    )


@dataclass(frozen=True)
class CycleDetail:
    """What of a cycle's working record someone sees beyond its steps and dates."""

    notes: bool  # the conversation notes and markers (whose markers: markers_visible_to)
    analysis: bool  # the coach's analysis notes


def cycle_detail_for(roles: set[str], traject: Traject, cycle: Cycle) -> CycleDetail:
    """Those in the conversation see its notes and markers; the coach's analysis is the coach's
    until the cycle is shared with the teacher."""
    together = is_allowed(roles, traject.kind, "conversation")
    coach = is_allowed(roles, traject.kind, "coach_step")
    return CycleDetail(notes=together, analysis=coach or (together and cycle.shared_at is not None))


# --- the player: a person's own markers -------------------------------------------------------

MARKER_EDIT_FIELDS = ("kind", "text", "teacher_words", "tags", "domain", "start_ms", "end_ms")


def _own_marker(actor_id: int, traject_id: int, number: int, marker_id: int) -> Marker:
    """The actor's own marker of this cycle, while the cycle is open (after it is closed the
    markers are the record the final report draws on)."""
    traject = require(actor_id, traject_id, "conversation")
    cycle = next((c for c in traject.cycles if c.number == number), None)
    if cycle is None:
        raise StepRefused("not_found", _l("This cycle does not exist."))
    marker = db.session.get(Marker, marker_id)
    if marker is None or marker.cycle_id != cycle.id:
        raise StepRefused("not_found", _l("This marker does not belong to the cycle."))
    if marker.author_id != actor_id:
        raise StepRefused("forbidden", _l("You can change only your own markers."))
    if traject.status != STATUS_CYCLES or cycle.step == "closed":
        raise StepRefused("order", _l("Markers of a closed cycle can no longer be changed."))
    return marker


def update_marker(
    actor_id: int, traject_id: int, number: int, marker_id: int, form: dict[str, Any]
) -> Marker:
    """Change one's own marker: only the fields given, checked as add_marker checks them."""
    marker = _own_marker(actor_id, traject_id, number, marker_id)
    merged: dict[str, Any] = {
        "kind": marker.kind,
        "text": marker.text,
        "teacher_words": marker.teacher_words,
        "tags": list(marker.tags or []),
        "domain": marker.domain,
        "start_ms": marker.start_ms,
        "end_ms": marker.end_ms,
        "media_kind": marker.media_kind,
        "media_id": marker.media_id,
    }
    merged.update({k: v for k, v in form.items() if k in MARKER_EDIT_FIELDS})
    # add_marker holds the rules for a valid marker: let it check the merged values on a
    # scratch row, take them over, and drop the scratch row in the same flush.
    scratch = add_marker(actor_id, traject_id, number, merged)
    for field in (*MARKER_EDIT_FIELDS, "media_kind", "media_id"):
        setattr(marker, field, getattr(scratch, field))
    db.session.delete(scratch)
    db.session.flush()
    return marker


def delete_marker(actor_id: int, traject_id: int, number: int, marker_id: int) -> None:
    marker = _own_marker(actor_id, traject_id, number, marker_id)
    db.session.delete(marker)
    db.session.flush()
