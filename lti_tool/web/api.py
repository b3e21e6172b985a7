"""The JSON API for trajects, kijkwijzers and the school's settings: thin views over the cycles
services (which check who and when), one commit per request. Described in web/openapi.py."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Response, jsonify, request, url_for
from flask_babel import gettext as _

from lti_tool.cycles import services
from lti_tool.cycles.access import require, roles_in, visible_trajects
from lti_tool.cycles.models import (
    STATUS_FINAL,
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
from lti_tool.cycles.services import StepRefused
from lti_tool.cycles.tags import TagRefused, active_tags, save_tags
from lti_tool.cycles.viewing_guides import (
    AnswerRefused,
    save_school_template,
    save_traject_template,
    school_template,
    template_for,
)
from lti_tool.db import MAX_ID, db
from lti_tool.people.models import ROLE_ADMIN, ROLES, Course, User
from lti_tool.people.services import course_members
from lti_tool.privacy.access import ACTIONS, Forbidden, is_allowed
from lti_tool.web.auth import Viewer, require_viewer

bp = Blueprint("api", __name__, url_prefix="/api")

# Ids are 32-bit integers in the database: a larger one in a path is unknown (403, like any
# other unknown traject), in a body it is invalid input (422).
MEDIA_KINDS = ("recording", "montage")


class BadInput(Exception):
    """Input of the wrong shape (a number where text belongs, a malformed date): a script's
    mistake rather than a person's, so the message is English; `field` names the property."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


# --- refusals ---------------------------------------------------------------------------------


def _refusal(code: str, message: object, field: str | None, status: int) -> tuple[Response, int]:
    db.session.rollback()
    return jsonify(error=code, message=str(message), field=field), status


@bp.errorhandler(StepRefused)
def step_refused(exc: StepRefused) -> tuple[Response, int]:
    # As the app-wide handler, plus 404 for a cycle, wording or action point that the traject
    # does not have (the traject itself is visible to the caller, so that reveals nothing).
    status = {"order": 409, "forbidden": 403, "not_found": 404}.get(exc.code, 422)
    return _refusal(exc.code, exc.message, exc.field, status)


@bp.errorhandler(BadInput)
def bad_input(exc: BadInput) -> tuple[Response, int]:
    return _refusal("invalid", exc.message, exc.field, 422)


@bp.errorhandler(AnswerRefused)
def answer_refused(exc: AnswerRefused) -> tuple[Response, int]:
    field = "questions" if exc.key == "questions" else f"questions.{exc.key}"
    return _refusal("questions", exc.message, field, 422)


@bp.errorhandler(TagRefused)
def tag_refused(exc: TagRefused) -> tuple[Response, int]:
    return _refusal("tags", exc.message, "tags", 422)


@contextmanager
def fields_named(rename: Callable[[str], str]) -> Iterator[None]:
    """Name refused fields after the request body's properties, not the service's form."""
    try:
        yield
    except StepRefused as exc:
        if exc.field:
            exc.field = rename(exc.field)
        raise


# --- reading the request ----------------------------------------------------------------------


def _body() -> dict[str, Any]:
    if request.mimetype != "application/json":
        # A form post (the launch token check may already have read it) is no JSON either.
        if request.content_length or request.get_data(cache=True):
            raise BadInput("body", "Send a JSON object with Content-Type: application/json.")
        return {}
    if not request.get_data(cache=True):
        return {}
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise BadInput("body", "Send a JSON object with Content-Type: application/json.")
    _no_nul(data, "")
    return data


def _no_nul(value: Any, path: str) -> None:
    # PostgreSQL cannot store NUL characters; no person types them.
    if isinstance(value, str) and "\x00" in value:
        raise BadInput(path or "body", "Text may not contain NUL characters.")
    if isinstance(value, dict):
        for key, item in value.items():
            _no_nul(key, path)
            _no_nul(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for item in value:
            _no_nul(item, path)


def _text(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise BadInput(key, "Expected text.")
    return value


def _int(body: dict[str, Any], key: str, low: int = 0) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= MAX_ID:
        raise BadInput(
            key, "Expected a whole number." if low < 0 else f"Expected a whole number from {low}."
        )
    return value


def _bool(body: dict[str, Any], key: str) -> bool:
    value = body.get(key, False)
    if not isinstance(value, bool):
        raise BadInput(key, "Expected true or false.")
    return value


def _date(body: dict[str, Any], key: str) -> date | None:
    value = body.get(key)
    if value in (None, ""):
        return None
    if not isinstance(value, str) or len(value) != 10:
        raise BadInput(key, "Expected a date as YYYY-MM-DD.")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise BadInput(key, "Expected a date as YYYY-MM-DD.") from None


def _list(body: dict[str, Any], key: str) -> list[Any]:
    value = body.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise BadInput(key, "Expected a list.")
    return value


def _object(body: dict[str, Any], key: str) -> dict[str, Any]:
    value = body.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadInput(key, "Expected an object.")
    return value


def _require_course_member(
    course_id: int, user_id: int, code: str, field: str, message: str
) -> None:
    """A person named in a traject comes from the traject's own course, never another school."""
    if not any(member.id == user_id for member in course_members(course_id)):
        raise StepRefused(code, message, field)


# --- turning rows into JSON -------------------------------------------------------------------


def _iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _question_json(question: DevelopmentQuestion) -> dict[str, Any]:
    return {
        "id": question.id,
        "version": question.version,
        "text": question.text,
        "author_id": question.author_id,
        "approved_at": _iso(question.approved_at),
        "approved_by_id": question.approved_by_id,
        "after_cycle": question.after_cycle,
    }


def _participant_json(participant: Participant, users: dict[int, User]) -> dict[str, Any]:
    user = users.get(participant.user_id) if participant.user_id is not None else None
    return {
        "id": participant.id,
        "user_id": participant.user_id,
        "name": participant.display_name or (user.display_name if user else ""),
        "role": participant.role,
    }


def _marker_json(marker: Marker, number: int) -> dict[str, Any]:
    return {
        "id": marker.id,
        "cycle": number,
        "media_kind": marker.media_kind,
        "media_id": marker.media_id,
        "start_ms": marker.start_ms,
        "end_ms": marker.end_ms,
        "kind": marker.kind,
        "text": marker.text,
        "teacher_words": marker.teacher_words,
        "tags": list(marker.tags or []),
        "domain": marker.domain,
        "author_id": marker.author_id,
        "created_at": _iso(marker.created_at),
    }


def _action_point_json(point: ActionPoint, number: int) -> dict[str, Any]:
    return {
        "id": point.id,
        "cycle": number,
        "text": point.text,
        "status": point.status,
        "author_id": point.author_id,
        "created_at": _iso(point.created_at),
        "status_changed_at": _iso(point.status_changed_at),
    }


def _intake_json(intake: Intake | None) -> dict[str, Any] | None:
    if intake is None:
        return None
    return {
        "help_question": intake.help_question,
        "arrangements": intake.arrangements,
        "conditions": intake.conditions,
        "planned_dates": intake.planned_dates,
        "intake_on": _iso(intake.intake_on),
        "completed_at": _iso(intake.completed_at),
    }


def _guide_json(
    traject: Traject, guide: ViewingGuide | None, allowed: dict[str, bool]
) -> dict[str, Any] | None:
    """The viewer's view of a cycle's kijkwijzer: the teacher who fills it in sees their draft;
    the coach sees the answers once submitted; anyone else sees nothing."""
    if guide is None:
        return None
    if allowed["fill_viewing_guide"]:
        answers: dict[str, Any] | None = dict(guide.answers or {})
    elif allowed["conversation"]:
        answers = dict(guide.answers or {}) if guide.submitted_at is not None else None
    else:
        return None
    question = services.current_question(traject)
    return {
        "questions": guide.questions,
        "answers": answers,
        "submitted_at": _iso(guide.submitted_at),
        "development_question": question.text if question else None,
    }


def _final_json(
    viewer: Viewer, traject: Traject, review: FinalReview | None, allowed: dict[str, bool]
) -> dict[str, Any] | None:
    if review is None:
        return None
    preparation = None
    if traject.status == STATUS_FINAL and allowed["prepare_final"]:
        # The service decides what of the other party's preparation may be seen.
        preparation = _preparation_json(viewer, traject.id, review)
    conclusions = None
    if review.concluded_at is not None and allowed["view_report"]:
        conclusions = {
            "goal_reached": review.goal_reached,
            "how_it_came_about": review.how_it_came_about,
            "yield_per_domain": dict(review.yield_per_domain or {}),
            "visible_in_marker_ids": list(review.visible_in_marker_ids or []),
            "teacher_evaluation": review.teacher_evaluation,
            "coach_reflection": review.coach_reflection,
            "follow_up": review.follow_up,
            "concluded_at": _iso(review.concluded_at),
        }
    return {
        "coach_prepared_at": _iso(review.coach_prepared_at),
        "teacher_prepared_at": _iso(review.teacher_prepared_at),
        "preparation": preparation,
        "conclusions": conclusions,
    }


def _preparation_json(viewer: Viewer, traject_id: int, review: FinalReview) -> dict[str, Any]:
    view = services.preparation_for(viewer.user_id, traject_id)  # checks access and order
    return {
        "own": view.own,
        "other": view.other,
        "coach_prepared_at": _iso(review.coach_prepared_at),
        "teacher_prepared_at": _iso(review.teacher_prepared_at),
    }


def _next_step_json(traject: Traject, roles: set[str]) -> dict[str, str]:
    code, text = services.next_step(traject, roles)
    return {"code": code, "text": str(text)}


def _summary_json(traject: Traject, roles: set[str]) -> dict[str, Any]:
    current = next((c.number for c in traject.cycles if c.step != "closed"), None)
    return {
        "id": traject.id,
        "kind": traject.kind,
        "title": traject.title,
        "status": traject.status,
        "course_id": traject.course_id,
        "section": traject.section,
        "pupil_code": traject.pupil_code,
        "roles": sorted(roles),
        "current_cycle": current if traject.status == "cycles" else None,
        "next_step": _next_step_json(traject, roles),
    }


def _traject_json(viewer: Viewer, traject: Traject) -> dict[str, Any]:
    """Everything about a traject that this viewer may see (callers checked "view")."""
    roles = roles_in(traject.id, viewer.user_id)
    allowed = {action: is_allowed(roles, traject.kind, action) for action in ACTIONS}
    details = {c.id: services.cycle_detail_for(roles, traject, c) for c in traject.cycles}
    user_ids = {p.user_id for p in traject.participants if p.user_id is not None}
    users = {
        u.id: u for u in db.session.scalars(sa.select(User).where(User.id.in_(user_ids or [0])))
    }
    numbers = {c.id: c.number for c in traject.cycles}
    markers: dict[int, list[dict[str, Any]]] = {c.id: [] for c in traject.cycles}
    visible = services.markers_visible_to(viewer.user_id, traject, traject.cycles, roles)
    for marker in db.session.scalars(visible):
        markers[marker.cycle_id].append(_marker_json(marker, numbers[marker.cycle_id]))
    points: dict[int, list[dict[str, Any]]] = {c.id: [] for c in traject.cycles}
    for point in db.session.scalars(
        sa.select(ActionPoint).where(ActionPoint.traject_id == traject.id).order_by(ActionPoint.id)
    ):
        points[point.cycle_id].append(_action_point_json(point, numbers[point.cycle_id]))
    question = services.current_question(traject)
    summary = _summary_json(traject, roles)
    return {
        **summary,
        "planned_cycles": traject.planned_cycles,
        "closed_early_reason": traject.closed_early_reason,
        "created_at": _iso(traject.created_at),
        "completed_at": _iso(traject.completed_at),
        "allowed": allowed,
        "participants": [_participant_json(p, users) for p in traject.participants],
        "intake": _intake_json(traject.intake),
        "development_question": _question_json(question) if question else None,
        "questions": [_question_json(q) for q in traject.questions],
        "cycles": [
            {
                "number": c.number,
                "step": c.step,
                "focus": c.focus,
                "filming_on": _iso(c.filming_on),
                "recorded_at": _iso(c.recorded_at),
                "analysis_notes": c.analysis_notes if details[c.id].analysis else None,
                "analysed_at": _iso(c.analysed_at),
                "shared_at": _iso(c.shared_at),
                "prepared_at": _iso(c.prepared_at),
                "conversation_on": _iso(c.conversation_on),
                "conversation_notes": c.conversation_notes if details[c.id].notes else None,
                "discussed_at": _iso(c.discussed_at),
                "next_filming_on": _iso(c.next_filming_on),
                "closed_at": _iso(c.closed_at),
                "viewing_guide": _guide_json(traject, c.viewing_guide, allowed),
                "markers": markers[c.id] if details[c.id].notes else None,
                "action_points": points[c.id],
            }
            for c in traject.cycles
        ],
        "final_review": _final_json(viewer, traject, traject.final_review, allowed),
    }


def _traject_response(viewer: Viewer, traject_id: int, status: int = 200) -> tuple[Response, int]:
    traject = require(viewer.user_id, traject_id, "view")
    return jsonify(_traject_json(viewer, traject)), status


def _cycle_of(traject: Traject, number: int) -> Cycle:
    cycle = next((c for c in traject.cycles if c.number == number), None)
    if cycle is None:
        raise StepRefused("not_found", _("This cycle does not exist."))
    return cycle


# --- trajects ---------------------------------------------------------------------------------


@bp.get("/trajects")
def list_trajects() -> Response:
    viewer = require_viewer()
    items = []
    for traject in db.session.scalars(visible_trajects(viewer.user_id)):
        items.append(_summary_json(traject, roles_in(traject.id, viewer.user_id)))
    return jsonify(trajects=items)


@bp.post("/trajects")
def create_traject() -> tuple[Response, int]:
    viewer = require_viewer()
    if viewer.course is None or not viewer.is_course_coach:
        raise Forbidden("create_traject")
    body = _body()
    teacher_id = _int(body, "teacher_id", low=1)
    if teacher_id is not None:
        _require_course_member(
            viewer.course.id, teacher_id, "teacher", "teacher_id", _("Choose the teacher.")
        )
    traject = services.create_traject(
        viewer.course.id,
        viewer.user_id,
        kind=_text(body, "kind") or "",
        title=_text(body, "title") or "",
        teacher_id=teacher_id,
        pupil_code=_text(body, "pupil_code"),
        section=_text(body, "section"),
    )
    db.session.commit()
    response, status = _traject_response(viewer, traject.id, 201)
    response.headers["Location"] = url_for("api.get_traject", traject_id=traject.id)
    return response, status


@bp.get("/trajects/<int:traject_id>")
def get_traject(traject_id: int) -> tuple[Response, int]:
    return _traject_response(require_viewer(), traject_id)


@bp.post("/trajects/<int:traject_id>/participants")
def add_participant(traject_id: int) -> tuple[Response, int]:
    viewer = require_viewer()
    traject = require(viewer.user_id, traject_id, "manage_participants")
    body = _body()
    user_id = _int(body, "user_id", low=1)
    if user_id is not None:
        _require_course_member(
            traject.course_id, user_id, "name", "user_id", _("Choose a person or give a name.")
        )
    participant = services.add_participant(
        viewer.user_id,
        traject_id,
        role=_text(body, "role") or "",
        user_id=user_id,
        name=_text(body, "name") or "",
    )
    db.session.commit()
    user = db.session.get(User, participant.user_id) if participant.user_id else None
    users = {user.id: user} if user else {}
    return jsonify(_participant_json(participant, users)), 201


# --- intake and the development question ------------------------------------------------------


@bp.put("/trajects/<int:traject_id>/intake")
def save_intake(traject_id: int) -> tuple[Response, int]:
    viewer = require_viewer()
    body = _body()
    form = {
        key: _text(body, key)
        for key in ("help_question", "arrangements", "conditions", "planned_dates")
    }
    services.save_intake(
        viewer.user_id, traject_id, {**form, "intake_on": _date(body, "intake_on")}
    )
    db.session.commit()
    return _traject_response(viewer, traject_id)


@bp.post("/trajects/<int:traject_id>/intake/complete")
def complete_intake(traject_id: int) -> tuple[Response, int]:
    viewer = require_viewer()
    services.complete_intake(viewer.user_id, traject_id)
    db.session.commit()
    return _traject_response(viewer, traject_id)


@bp.post("/trajects/<int:traject_id>/questions")
def propose_question(traject_id: int) -> tuple[Response, int]:
    viewer = require_viewer()
    body = _body()
    text, after_cycle = _text(body, "text") or "", _int(body, "after_cycle", low=1)
    with fields_named(lambda f: "text" if f == "development_question" else f):
        question = services.propose_question(viewer.user_id, traject_id, text, after_cycle)
    db.session.commit()
    return jsonify(_question_json(question)), 201


@bp.post("/trajects/<int:traject_id>/questions/<int:question_id>/approve")
def approve_question(traject_id: int, question_id: int) -> Response:
    viewer = require_viewer()
    question = services.approve_question(viewer.user_id, traject_id, question_id)
    db.session.commit()
    return jsonify(_question_json(question))


# --- cycles -----------------------------------------------------------------------------------


@bp.post("/trajects/<int:traject_id>/cycles")
def add_cycle(traject_id: int) -> tuple[Response, int]:
    viewer = require_viewer()
    services.add_cycle(viewer.user_id, traject_id)
    db.session.commit()
    return _traject_response(viewer, traject_id, 201)


@bp.post("/trajects/<int:traject_id>/cycles/<int:number>/recorded")
def mark_recorded(traject_id: int, number: int) -> tuple[Response, int]:
    viewer = require_viewer()
    body = _body()
    form = {"focus": _text(body, "focus"), "filming_on": _date(body, "filming_on")}
    services.mark_recorded(viewer.user_id, traject_id, number, form)
    db.session.commit()
    return _traject_response(viewer, traject_id)


@bp.post("/trajects/<int:traject_id>/cycles/<int:number>/analysed")
def mark_analysed(traject_id: int, number: int) -> tuple[Response, int]:
    viewer = require_viewer()
    body = _body()
    form = {"analysis_notes": _text(body, "analysis_notes")}
    services.mark_analysed(viewer.user_id, traject_id, number, form)
    db.session.commit()
    return _traject_response(viewer, traject_id)


@bp.post("/trajects/<int:traject_id>/cycles/<int:number>/share")
def share(traject_id: int, number: int) -> tuple[Response, int]:
    viewer = require_viewer()
    services.share(viewer.user_id, traject_id, number)
    db.session.commit()
    return _traject_response(viewer, traject_id)


def _guide_response(viewer: Viewer, traject_id: int, number: int) -> Response:
    traject = require(viewer.user_id, traject_id, "view")
    roles = roles_in(traject.id, viewer.user_id)
    allowed = {action: is_allowed(roles, traject.kind, action) for action in ACTIONS}
    if not (allowed["fill_viewing_guide"] or allowed["conversation"]):
        raise Forbidden("fill_viewing_guide")
    guide = _guide_json(traject, _cycle_of(traject, number).viewing_guide, allowed)
    if guide is None:
        raise StepRefused("order", _("The kijkwijzer opens once the coach has shared the footage."))
    return jsonify(guide)


@bp.get("/trajects/<int:traject_id>/cycles/<int:number>/viewing-guide")
def get_viewing_guide(traject_id: int, number: int) -> Response:
    return _guide_response(require_viewer(), traject_id, number)


def _save_guide(traject_id: int, number: int, submit: bool) -> Response:
    viewer = require_viewer()
    answers = _object(_body(), "answers")
    with fields_named(lambda f: f if f == "answers" else f"answers.{f}"):
        services.save_viewing_guide(viewer.user_id, traject_id, number, answers, submit=submit)
    db.session.commit()
    return _guide_response(viewer, traject_id, number)


@bp.put("/trajects/<int:traject_id>/cycles/<int:number>/viewing-guide")
def save_viewing_guide_draft(traject_id: int, number: int) -> Response:
    return _save_guide(traject_id, number, submit=False)


@bp.post("/trajects/<int:traject_id>/cycles/<int:number>/viewing-guide/submit")
def submit_viewing_guide(traject_id: int, number: int) -> Response:
    return _save_guide(traject_id, number, submit=True)


@bp.post("/trajects/<int:traject_id>/cycles/<int:number>/conversation")
def record_conversation(traject_id: int, number: int) -> tuple[Response, int]:
    viewer = require_viewer()
    body = _body()
    form = {
        "conversation_notes": _text(body, "conversation_notes"),
        "conversation_on": _date(body, "conversation_on"),
    }
    services.record_conversation(viewer.user_id, traject_id, number, form)
    db.session.commit()
    return _traject_response(viewer, traject_id)


@bp.get("/trajects/<int:traject_id>/cycles/<int:number>/markers")
def list_markers(traject_id: int, number: int) -> Response:
    viewer = require_viewer()
    traject = require(viewer.user_id, traject_id, "conversation")
    cycle = _cycle_of(traject, number)
    roles = roles_in(traject.id, viewer.user_id)
    markers = db.session.scalars(
        services.markers_visible_to(viewer.user_id, traject, [cycle], roles)
    )
    return jsonify(markers=[_marker_json(m, number) for m in markers])


@bp.post("/trajects/<int:traject_id>/cycles/<int:number>/markers")
def add_marker(traject_id: int, number: int) -> tuple[Response, int]:
    viewer = require_viewer()
    traject = require(viewer.user_id, traject_id, "conversation")
    body = _body()
    media_kind = _text(body, "media_kind")
    if media_kind is not None and media_kind not in MEDIA_KINDS:
        raise BadInput("media_kind", "Expected recording or montage.")
    tags = _list(body, "tags")
    course = db.session.get(Course, traject.course_id)
    school_tags = active_tags(course.platform_id) if course is not None else []
    if any(tag not in school_tags for tag in tags):
        raise StepRefused("tags", _("Choose tags from the list."), "tags")
    form = {
        "kind": _text(body, "kind"),
        "text": _text(body, "text"),
        "teacher_words": _text(body, "teacher_words"),
        "domain": _text(body, "domain"),
        # Negative time codes are the service's to refuse, in the person's language.
        "start_ms": _int(body, "start_ms", low=-MAX_ID),
        "end_ms": _int(body, "end_ms", low=-MAX_ID),
        "media_kind": media_kind,
        "media_id": _int(body, "media_id", low=1),
        "tags": tags,
    }
    marker = services.add_marker(viewer.user_id, traject_id, number, form)
    db.session.commit()
    return jsonify(_marker_json(marker, number)), 201


@bp.post("/trajects/<int:traject_id>/cycles/<int:number>/action-points")
def add_action_point(traject_id: int, number: int) -> tuple[Response, int]:
    viewer = require_viewer()
    text = _text(_body(), "text") or ""
    with fields_named(lambda f: "text" if f == "action_point" else f):
        point = services.add_action_point(viewer.user_id, traject_id, number, text)
    db.session.commit()
    return jsonify(_action_point_json(point, number)), 201


@bp.patch("/trajects/<int:traject_id>/action-points/<int:point_id>")
def set_action_point_status(traject_id: int, point_id: int) -> Response:
    viewer = require_viewer()
    status = _text(_body(), "status") or ""
    point = services.set_action_point_status(viewer.user_id, traject_id, point_id, status)
    db.session.commit()
    cycle = db.session.get(Cycle, point.cycle_id)
    return jsonify(_action_point_json(point, cycle.number if cycle else 0))


@bp.post("/trajects/<int:traject_id>/cycles/<int:number>/close")
def close_cycle(traject_id: int, number: int) -> tuple[Response, int]:
    viewer = require_viewer()
    form = {"next_filming_on": _date(_body(), "next_filming_on")}
    services.close_cycle(viewer.user_id, traject_id, number, form)
    db.session.commit()
    return _traject_response(viewer, traject_id)


@bp.post("/trajects/<int:traject_id>/close-early")
def close_early(traject_id: int) -> tuple[Response, int]:
    viewer = require_viewer()
    services.close_early(viewer.user_id, traject_id, _text(_body(), "reason") or "")
    db.session.commit()
    return _traject_response(viewer, traject_id)


# --- final conversation -----------------------------------------------------------------------


@bp.get("/trajects/<int:traject_id>/final/preparation")
def get_preparation(traject_id: int) -> Response:
    viewer = require_viewer()
    traject = require(viewer.user_id, traject_id, "prepare_final")
    if traject.final_review is None:  # preparation_for refuses it in the right words
        services.preparation_for(viewer.user_id, traject_id)
    assert traject.final_review is not None
    return jsonify(_preparation_json(viewer, traject_id, traject.final_review))


@bp.put("/trajects/<int:traject_id>/final/preparation")
def save_preparation(traject_id: int) -> Response:
    viewer = require_viewer()
    body = _body()
    text, done = _text(body, "text") or "", _bool(body, "done")
    with fields_named(lambda f: "text" if f == "preparation" else f):
        services.prepare_final(viewer.user_id, traject_id, text, done=done)
    db.session.commit()
    return get_preparation(traject_id)


@bp.post("/trajects/<int:traject_id>/final/conclusions")
def conclude_final(traject_id: int) -> tuple[Response, int]:
    viewer = require_viewer()
    body = _body()
    yields = _object(body, "yield_per_domain")
    for domain, value in yields.items():
        if value is not None and not isinstance(value, str):
            raise BadInput(f"yield_per_domain.{domain}", "Expected text.")
    marker_ids = _list(body, "visible_in_marker_ids")
    if any(isinstance(m, bool) or not isinstance(m, int) for m in marker_ids):
        raise BadInput("visible_in_marker_ids", "Expected a list of marker ids.")
    form = {
        "goal_reached": _text(body, "goal_reached"),
        "how_it_came_about": _text(body, "how_it_came_about"),
        "yield_per_domain": yields,
        "visible_in_marker_ids": [m for m in marker_ids if 0 < m <= MAX_ID],
        "teacher_evaluation": _text(body, "teacher_evaluation"),
        "coach_reflection": _text(body, "coach_reflection"),
        "follow_up": _text(body, "follow_up"),
    }
    # The service names a domain's yield "yield_<domain>"; the body nests it.
    with fields_named(lambda f: f.replace("yield_", "yield_per_domain.", 1)):
        services.conclude_final(viewer.user_id, traject_id, form)
    db.session.commit()
    return _traject_response(viewer, traject_id)


# --- kijkwijzer templates, tags, course members -----------------------------------------------


@bp.get("/trajects/<int:traject_id>/viewing-guide-template")
def get_traject_template(traject_id: int) -> Response:
    viewer = require_viewer()
    traject = require(viewer.user_id, traject_id, "view")
    return jsonify(questions=template_for(traject))


@bp.put("/trajects/<int:traject_id>/viewing-guide-template")
def put_traject_template(traject_id: int) -> Response:
    viewer = require_viewer()
    body = _body()
    save_traject_template(viewer.user_id, traject_id, body.get("questions"))  # checks the coach
    db.session.commit()
    return get_traject_template(traject_id)


def _school(admin: bool) -> tuple[Viewer, int]:
    """The school is the platform of the viewer's course; editing needs its admin role."""
    viewer = require_viewer()
    if viewer.course is None:
        raise Forbidden("school")
    if admin and ROLE_ADMIN not in viewer.course_roles:
        raise Forbidden("school_admin")
    return viewer, viewer.course.platform_id


@bp.get("/school/viewing-guide-template")
def get_school_template() -> Response:
    _, platform_id = _school(admin=False)
    return jsonify(questions=school_template(platform_id))


@bp.put("/school/viewing-guide-template")
def put_school_template() -> Response:
    _, platform_id = _school(admin=True)
    body = _body()
    save_school_template(platform_id, body.get("questions"))
    db.session.commit()
    return jsonify(questions=school_template(platform_id))


@bp.get("/school/tags")
def get_tags() -> Response:
    _, platform_id = _school(admin=False)
    return jsonify(tags=active_tags(platform_id))


@bp.put("/school/tags")
def put_tags() -> Response:
    _, platform_id = _school(admin=True)
    labels = _list(_body(), "tags")
    tags = save_tags(platform_id, labels)
    db.session.commit()
    return jsonify(tags=tags)


@bp.get("/course/members")
def list_course_members() -> Response:
    viewer = require_viewer()
    if viewer.course is None or not viewer.is_course_coach:
        raise Forbidden("course_members")
    role = request.args.get("role") or None
    if role is not None and role not in ROLES:
        raise BadInput("role", "Expected admin, coach or teacher.")
    members = course_members(viewer.course.id, role)
    return jsonify(members=[{"id": u.id, "name": u.display_name} for u in members])
