"""The coaching traject's pages: the overview, a new traject, the traject page as a timeline, and
a form for every step. Thin views: the services in cycles.services decide who and when."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, current_app, g, redirect, render_template, request, url_for
from flask_babel import format_date
from flask_babel import lazy_gettext as _l
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from lti_tool.cycles import footage, services
from lti_tool.cycles.access import can, require, roles_in, visible_trajects
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
    P_EXTERNAL,
    P_MANAGEMENT,
    P_PARENT,
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
    Marker,
    Traject,
)
from lti_tool.cycles.report import clock
from lti_tool.cycles.services import StepRefused
from lti_tool.cycles.tags import active_tags
from lti_tool.cycles.viewing_guides import (
    QUESTION_KINDS,
    AnswerRefused,
    save_traject_template,
    template_for,
)
from lti_tool.db import MAX_ID, db
from lti_tool.outcomes.models import CourseRoster, RosterMember
from lti_tool.people.models import ROLE_ADMIN, ROLE_COACH, Course, User
from lti_tool.people.services import course_members
from lti_tool.privacy.access import ACTIONS, Forbidden, is_allowed
from lti_tool.web.auth import Viewer, require_viewer
from lti_tool.web.footage import cycle_footage

bp = Blueprint("trajects", __name__, url_prefix="/trajects", template_folder="templates")


# --- labels -----------------------------------------------------------------------------------

KIND_LABELS = {
    "teacher": _l("Teacher traject"),
    "team": _l("Team traject"),
    "child": _l("Child traject"),
}
KIND_HINTS = {
    "teacher": _l("One teacher works on their own development question."),
    "team": _l("School management with (part of) the team, optionally per section."),
    "child": _l("A teacher and one pupil, recorded under a code; parents can join later."),
}
STATUS_LABELS = {
    STATUS_INTAKE: _l("Intake"),
    STATUS_CYCLES: _l("Video cycles"),
    STATUS_FINAL: _l("Final conversation"),
    STATUS_COMPLETED: _l("Completed"),
}
ROLE_LABELS = {
    P_COACH: _l("Video coach"),
    P_TEACHER: _l("Teacher"),
    P_MANAGEMENT: _l("School management"),
    P_TEAM_MEMBER: _l("Team member"),
    P_PARENT: _l("Parent"),
    P_EXTERNAL: _l("External professional"),
}
APPROVER_WORDS = {P_TEACHER: _l("teacher"), P_MANAGEMENT: _l("school management")}
SECTION_LABELS = {
    "onderbouw": _l("Lower years (onderbouw)"),
    "middenbouw": _l("Middle years (middenbouw)"),
    "bovenbouw": _l("Upper years (bovenbouw)"),
}
STEP_LABELS = {
    "recorded": _l("Recording made"),
    "analysed": _l("Analysed and edited"),
    "shared": _l("Shared with the teacher"),
    "prepared": _l("Kijkwijzer filled in"),
    "discussed": _l("Coaching conversation held"),
    "closed": _l("Action points agreed, cycle closed"),
}
MARKER_LABELS = {
    "strength": _l("Moment of strength"),
    "opportunity": _l("Opportunity"),
    "question": _l("Question"),
}
DOMAIN_LABELS = {
    "interactie": _l("Interaction (interactie)"),
    "klassenmanagement": _l("Classroom management (klassenmanagement)"),
    "didactiek": _l("Didactics (didactiek)"),
}
POINT_LABELS = {"planned": _l("Planned"), "tried": _l("Tried"), "established": _l("Established")}
GOAL_LABELS = {"yes": _l("Yes"), "partly": _l("Partly"), "no": _l("No")}
QUESTION_KIND_LABELS = {
    "development_question": _l("The development question (shown, not answered)"),
    "text": _l("Free text"),
    "timecode": _l("Text at a time code"),
    "scale": _l("Scale"),
    "checklist": _l("Checklist"),
}
# Which participant roles a coach can add, per kind of traject.
ADDABLE_ROLES = {
    "teacher": (P_COACH,),
    "team": (P_MANAGEMENT, P_TEAM_MEMBER, P_COACH),
    "child": (P_PARENT, P_EXTERNAL, P_COACH),
}
# The service's field names where the form's input is named otherwise.
FIELD_ALIASES = {"start_ms": "start", "end_ms": "end"}


# --- form state: what was typed, and the refusal to show next to its field ----------------------


@dataclass
class FormState:
    """The one form on a page that is being shown again: its values and its refusal."""

    key: str = ""
    data: MultiDict[str, str] = field(default_factory=MultiDict)
    error_field: str | None = None
    message: object = None

    def active(self, key: str) -> bool:
        return bool(self.key) and self.key == key

    def value(self, key: str, name: str, default: object = "") -> str:
        if self.active(key):
            return self.data.get(name, "")
        return "" if default is None else str(default)

    def chosen(self, key: str, name: str, default: Iterable[object] = ()) -> list[str]:
        if self.active(key):
            return self.data.getlist(name)
        return [str(v) for v in default]

    def error(self, key: str, name: str) -> object:
        if self.active(key) and self.error_field == name:
            return self.message
        return None

    def general_error(self, key: str) -> object:
        if self.active(key) and self.error_field is None:
            return self.message
        return None


def refused_state(key: str, fields: Iterable[str], exc: StepRefused) -> FormState:
    name = FIELD_ALIASES.get(exc.field or "", exc.field)
    return FormState(
        key=key,
        data=MultiDict(request.form.items(multi=True)),
        error_field=name if name in set(fields) else None,
        message=exc.message,
    )


def refusal_status(exc: StepRefused) -> int:
    return 403 if exc.code == "forbidden" else 422


# --- parsing what forms send -----------------------------------------------------------------

_TIMECODE = re.compile(r"^(?:(\d{1,2}):)?(\d{1,3}):([0-5]\d)(?:[.,](\d{1,3}))?$")


_ASCII_DIGITS = re.compile(r"[0-9]+")


def parse_timecode(raw: object, field_name: str) -> int | None:
    """`mm:ss` (or `h:mm:ss`, or whole seconds) as milliseconds; empty is None."""
    text = raw.strip() if isinstance(raw, str) else ""
    if not text:
        return None
    if _ASCII_DIGITS.fullmatch(text) and len(text) <= 6:
        return int(text) * 1000
    match = _TIMECODE.match(text)
    if match is None or (match.group(1) is not None and int(match.group(2)) > 59):
        raise StepRefused(
            "time",
            _l("Give the time code as minutes:seconds, for example 2:35."),
            field_name,
        )
    hours, minutes, seconds, fraction = match.groups()
    total = (int(hours or 0) * 60 + int(minutes)) * 60 + int(seconds)
    return total * 1000 + int((fraction or "0").ljust(3, "0"))


def format_timecode(ms: object) -> str:
    return clock(ms) if isinstance(ms, int) else ""


def parse_date(form: MultiDict[str, str], name: str) -> date | None:
    raw = (form.get(name) or "").strip()
    if not raw:
        return None
    for pattern in ("%Y-%m-%d", "%d-%m-%Y", "%d/%m/%Y"):
        try:
            value = datetime.strptime(raw, pattern).date()
        except ValueError:
            continue
        if 2000 <= value.year <= 2100:
            return value
    raise StepRefused("date", _l("Give a valid date, for example 14-03-2027."), name)


def parse_int(raw: object) -> int | None:
    text = raw.strip() if isinstance(raw, str) else ""
    # ASCII digits only ("²".isdigit() is True), and within a database integer.
    if not _ASCII_DIGITS.fullmatch(text) or len(text) > 10 or int(text) > MAX_ID:
        return None
    return int(text)


# --- helpers for pages --------------------------------------------------------------------------


@bp.app_template_filter("day")
def day_filter(value: date | datetime | None) -> str:
    if value is None:
        return ""
    return format_date(value, "d MMM yyyy")


@bp.app_template_filter("timecode")
def timecode_filter(ms: object) -> str:
    return format_timecode(ms)


def _people(ids: Iterable[int | None]) -> dict[int, User]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {u.id: u for u in db.session.scalars(sa.select(User).where(User.id.in_(wanted)))}


def _approver(traject: Traject) -> str:
    return P_MANAGEMENT if traject.kind == KIND_TEAM else P_TEACHER


def _may_word_question(traject: Traject, roles: set[str]) -> bool:
    return bool(roles & {P_COACH, _approver(traject)})


def _current_cycle(traject: Traject) -> Cycle | None:
    if traject.status != STATUS_CYCLES:
        return None
    return next((c for c in traject.cycles if c.step != "closed"), None)


# next_step codes -> (the action it needs, where on the traject page its form is).
STEP_ACTIONS = {
    "approve_question": "approve_question",
    "complete_intake": "coach_step",
    "planned": "coach_step",
    "recorded": "coach_step",
    "analysed": "coach_step",
    "discussed": "coach_step",
    "viewing_guide": "fill_viewing_guide",
    "conversation": "conversation",
    "action_points": "conversation",
    "prepare_final": "prepare_final",
    "conclude_final": "conclude_final",
}


def next_step_for(traject: Traject, roles: set[str]) -> tuple[str, object]:
    return services.next_step(traject, roles)


def can_in(roles: set[str], traject: Traject, action: str) -> bool:
    return is_allowed(roles, traject.kind, action)


def step_is_mine(traject: Traject, user_id: int, roles: set[str], code: str) -> bool:
    if code == "question":
        return _may_word_question(traject, roles)
    action = STEP_ACTIONS.get(code)
    return action is not None and can(user_id, traject, action)


def step_url(traject: Traject, code: str) -> str:
    """Where the viewer takes this step: the form on the traject page, or its own page."""
    cycle = _current_cycle(traject)
    if code == "viewing_guide" and cycle is not None:
        return url_for("trajects.viewing_guide", traject_id=traject.id, number=cycle.number)
    anchors = {
        "question": "question",
        "approve_question": "question",
        "complete_intake": "intake",
        "prepare_final": "final",
        "conclude_final": "final",
    }
    anchor = anchors.get(code)
    if anchor is None and cycle is not None:
        anchor = f"cycle-{cycle.number}"
    return url_for("trajects.show", traject_id=traject.id, _anchor=anchor)


def report_url(traject: Traject) -> str | None:
    """The final report's page, when that part of the tool is installed (another module)."""
    path = f"/trajects/{traject.id}/report"
    try:
        current_app.url_map.bind("localhost").match(path, method="GET")
    except HTTPException:
        return None
    return request.script_root + path


def _back(traject_id: int, anchor: str | None = None) -> Response:
    return redirect(url_for("trajects.show", traject_id=traject_id, _anchor=anchor), code=303)


# --- the overview -----------------------------------------------------------------------------


@dataclass
class OverviewItem:
    traject: Traject
    code: str
    text: object
    mine: bool
    url: str
    teachers: list[str]
    cycle: Cycle | None


def overview_context(viewer: Viewer) -> dict[str, Any]:
    """A coach's trajects with what needs them first; a teacher's with their next step."""
    query = visible_trajects(viewer.user_id)
    if viewer.course is not None:
        query = query.where(Traject.course_id == viewer.course.id)
    trajects = db.session.scalars(query).all()
    people = _people(p.user_id for t in trajects for p in t.participants)
    items = []
    for traject in trajects:
        roles = roles_in(traject.id, viewer.user_id)
        code, text = next_step_for(traject, roles)
        mine = step_is_mine(traject, viewer.user_id, roles, code)
        teachers = [
            _participant_name(p, people)
            for p in traject.participants
            if p.role in (P_TEACHER, P_MANAGEMENT)
        ]
        url = step_url(traject, code) if mine else url_for("trajects.show", traject_id=traject.id)
        items.append(
            OverviewItem(traject, code, text, mine, url, teachers, _current_cycle(traject))
        )
    return {
        "viewer": viewer,
        "is_coach": viewer.is_course_coach,
        "is_admin": ROLE_ADMIN in viewer.course_roles,
        "attention": [i for i in items if i.mine],
        "waiting": [i for i in items if not i.mine and i.traject.status != STATUS_COMPLETED],
        "completed": [i for i in items if i.traject.status == STATUS_COMPLETED],
        "has_trajects": bool(items),
        "kind_labels": KIND_LABELS,
        "status_labels": STATUS_LABELS,
        "section_labels": SECTION_LABELS,
    }


def _participant_name(participant: Any, people: dict[int, User]) -> str:
    user = people.get(participant.user_id) if participant.user_id else None
    return user.display_name if user is not None else (participant.display_name or "?")


def primary_role(roles: Iterable[str]) -> str:
    roles = set(roles)
    for role in (ROLE_COACH, "teacher", ROLE_ADMIN):
        if role in roles:
            return role
    return "guest"


def render_overview(viewer: Viewer, **extra: Any) -> str:
    return render_template(
        "web/start.html",
        user=viewer.user,
        course=viewer.course,
        role=extra.pop("role", primary_role(viewer.course_roles)),
        api_token=viewer.token,
        **overview_context(viewer),
        **extra,
    )


@bp.get("/")
def overview() -> str:
    return render_overview(require_viewer())


# --- a new traject ----------------------------------------------------------------------------


def _require_course_coach(viewer: Viewer) -> Course:
    if viewer.course is None or not viewer.is_course_coach:
        raise Forbidden("create_traject")
    return viewer.course


def _new_form(viewer: Viewer, state: FormState) -> str:
    course = _require_course_coach(viewer)
    return render_template(
        "trajects/new.html",
        viewer=viewer,
        launch_token=viewer.token,
        fs=state,
        teachers=course_members(course.id, "teacher"),
        kinds=KINDS,
        kind_labels=KIND_LABELS,
        kind_hints=KIND_HINTS,
        sections=SECTIONS,
        section_labels=SECTION_LABELS,
    )


@bp.get("/new")
def new() -> str:
    viewer = require_viewer()
    return _new_form(viewer, FormState(key="new", data=MultiDict({"kind": "teacher"})))


@bp.post("/new")
def create() -> Response | tuple[str, int]:
    viewer = require_viewer()
    course = _require_course_coach(viewer)
    form = request.form
    kind = form.get("kind", "")
    try:
        teacher_id = parse_int(form.get("teacher_id"))
        if kind in KINDS and kind != KIND_TEAM:
            teachers = {u.id for u in course_members(course.id, "teacher")}
            if teacher_id not in teachers:
                raise StepRefused("teacher", _l("Choose the teacher."), "teacher_id")
        traject = services.create_traject(
            course.id,
            viewer.user_id,
            kind,
            form.get("title", ""),
            teacher_id=teacher_id if kind != KIND_TEAM else None,
            pupil_code=form.get("pupil_code") if kind == KIND_CHILD else None,
            section=(form.get("section") or None) if kind == KIND_TEAM else None,
        )
    except StepRefused as exc:
        db.session.rollback()
        fields = ("kind", "title", "teacher_id", "pupil_code", "section")
        return _new_form(viewer, refused_state("new", fields, exc)), refusal_status(exc)
    db.session.commit()
    return _back(traject.id)


# --- the traject page -------------------------------------------------------------------------


@dataclass
class CycleView:
    cycle: Cycle
    is_current: bool
    planned_on: date | None
    steps: list[dict[str, Any]]
    markers: list[Marker]
    points: list[ActionPoint]
    earlier_points: list[ActionPoint]
    offers: dict[str, bool]
    guide_state: str  # none | draft | submitted
    detail: services.CycleDetail  # what of its notes the viewer sees
    footage: dict[str, Any] | None = None  # recordings and montages the viewer may see


def _marker_order(marker: Marker) -> tuple[int, int, int]:
    return (MARKER_KINDS.index(marker.kind), marker.start_ms or 0, marker.id)


def traject_context(viewer: Viewer, traject: Traject) -> dict[str, Any]:
    uid = viewer.user_id
    roles = roles_in(traject.id, uid)
    may = {action: can(uid, traject, action) for action in ACTIONS}
    is_coach = P_COACH in roles
    may_word = _may_word_question(traject, roles)
    code, text = next_step_for(traject, roles)
    mine = step_is_mine(traject, uid, roles, code)

    question = services.current_question(traject)
    pending = [
        q
        for q in traject.questions
        if q.approved_at is None and (question is None or q.version > question.version)
    ]
    markers = db.session.scalars(
        services.markers_visible_to(uid, traject, traject.cycles, roles)
    ).all()
    points = db.session.scalars(
        sa.select(ActionPoint).where(ActionPoint.traject_id == traject.id).order_by(ActionPoint.id)
    ).all()
    people = _people(
        [p.user_id for p in traject.participants]
        + [q.author_id for q in traject.questions]
        + [m.author_id for m in markers]
    )
    participants = sorted(
        traject.participants, key=lambda p: (PARTICIPANT_ROLES.index(p.role), p.id)
    )
    course = db.session.get(Course, traject.course_id)
    current = _current_cycle(traject)
    number_of = {c.id: c.number for c in traject.cycles}

    cycles = []
    previous: Cycle | None = None
    for cycle in traject.cycles:
        is_current = current is not None and cycle.id == current.id
        reached = CYCLE_STEPS.index(cycle.step)
        steps = []
        for step in CYCLE_STEPS[1:]:
            index = CYCLE_STEPS.index(step)
            state = (
                "done"
                if reached >= index
                else ("next" if is_current and index == reached + 1 else "todo")
            )
            when = _step_date(cycle, step)
            steps.append({"code": step, "label": STEP_LABELS[step], "state": state, "when": when})
        step = cycle.step
        conversation = may["conversation"] and is_current
        offers = {
            "recorded": is_current and step == "planned" and may["coach_step"],
            "analysed": is_current and step == "recorded" and may["coach_step"],
            "share": is_current and step == "analysed" and may["coach_step"],
            "fill_guide": is_current and step == "shared" and may["fill_viewing_guide"],
            "conversation": conversation and step in ("prepared", "discussed"),
            "marker": conversation
            and (
                step in ("prepared", "discussed")
                or (may["coach_step"] and step in ("recorded", "analysed", "shared"))
            ),
            "action_point": conversation and step == "discussed",
            "close": is_current and step == "discussed" and may["coach_step"],
            "point_status": conversation,
        }
        guide = cycle.viewing_guide
        guide_state = "none"
        if guide is not None:
            guide_state = "submitted" if guide.submitted_at is not None else "draft"
        cycles.append(
            CycleView(
                cycle=cycle,
                is_current=is_current,
                planned_on=previous.next_filming_on if previous is not None else None,
                steps=steps,
                markers=sorted((m for m in markers if m.cycle_id == cycle.id), key=_marker_order),
                points=[p for p in points if p.cycle_id == cycle.id],
                earlier_points=[p for p in points if number_of.get(p.cycle_id, 0) < cycle.number],
                offers=offers,
                guide_state=guide_state,
                detail=services.cycle_detail_for(roles, traject, cycle),
                footage=_footage_for(uid, traject, cycle, may),
            )
        )
        previous = cycle

    refine_after = max(
        (c.number for c in traject.cycles if c.step in ("discussed", "closed")), default=None
    )
    review = traject.final_review
    preparation = None
    own_done = False
    if traject.status == STATUS_FINAL and may["prepare_final"] and review is not None:
        preparation = services.preparation_for(uid, traject.id)
        own_done = (
            review.coach_prepared_at if is_coach else review.teacher_prepared_at
        ) is not None
    both_prepared = review is not None and services.preparations_visible(review)
    members = course_members(traject.course_id) if may["manage_participants"] else []
    taken = {p.user_id for p in traject.participants}

    all_markers = sorted(markers, key=lambda m: (number_of[m.cycle_id], *_marker_order(m)))
    chosen = set(review.visible_in_marker_ids or []) if review is not None else set()
    tags = active_tags(course.platform_id) if course is not None else []
    return {
        "traject": traject,
        "viewer": viewer,
        "role_names": [ROLE_LABELS[r] for r in PARTICIPANT_ROLES if r in roles],
        "launch_token": viewer.token,
        "roles": roles,
        "may": may,
        "is_coach": is_coach,
        "may_word": may_word,
        "is_approver": _approver(traject) in roles,
        "approver_word": APPROVER_WORDS[_approver(traject)],
        "next_code": code,
        "next_text": text,
        "next_mine": mine,
        "next_url": step_url(traject, code),
        "question": question,
        "pending": pending,
        "people": people,
        "participants": participants,
        "participant_name": lambda p: _participant_name(p, people),
        "left_course": _left_course(traject.course_id, (p.user_id for p in participants)),
        "role_options": [(r, ROLE_LABELS[r]) for r in ADDABLE_ROLES[traject.kind]],
        "addable_roles": ADDABLE_ROLES[traject.kind],
        "member_options": [(u.id, u.display_name) for u in members if u.id not in taken],
        "cycles": cycles,
        "current": current,
        "refine_after": refine_after,
        "tag_options": [(t, t) for t in tags],
        "marker_options": [(k, MARKER_LABELS[k]) for k in MARKER_KINDS],
        "domain_options": [(d, DOMAIN_LABELS[d]) for d in DOMAINS],
        "point_options": [(p, POINT_LABELS[p]) for p in ACTION_POINT_STATUSES],
        "goal_options": [(goal, GOAL_LABELS[goal]) for goal in GOAL_REACHED],
        "marker_choice_options": [(m.id, _marker_choice(m, number_of)) for m in all_markers],
        # Chosen in the final conversation, so shown to all who see the final review (school
        # management of a team traject too), as in the report; not by the cycle rule.
        "visible_markers": sorted(
            db.session.scalars(
                sa.select(Marker).where(Marker.id.in_(chosen), Marker.cycle_id.in_(number_of))
            ),
            key=lambda m: (number_of[m.cycle_id], *_marker_order(m)),
        )
        if chosen
        else [],
        "cycle_number": number_of,
        "all_points": points,
        "review": review,
        "preparation": preparation,
        "own_done": own_done,
        "both_prepared": both_prepared,
        "report_url": (
            report_url(traject)
            if traject.status == STATUS_COMPLETED and may["view_report"]
            else None
        ),
        "kind_labels": KIND_LABELS,
        "status_labels": STATUS_LABELS,
        "role_labels": ROLE_LABELS,
        "section_labels": SECTION_LABELS,
        "marker_kinds": MARKER_KINDS,
        "marker_labels": MARKER_LABELS,
        "domains": DOMAINS,
        "domain_labels": DOMAIN_LABELS,
        "point_statuses": ACTION_POINT_STATUSES,
        "point_labels": POINT_LABELS,
        "goals": GOAL_REACHED,
        "goal_labels": GOAL_LABELS,
        "is_last_cycle": lambda c: c.number == max(x.number for x in traject.cycles),
    }


def _footage_for(
    uid: int, traject: Traject, cycle: Cycle, may: dict[str, bool]
) -> dict[str, Any] | None:
    """The cycle's footage as the viewer may see it; for the coach of a child traject without
    the parents' consent for filming also, to say why nothing can be added yet."""
    if not may["view_footage"]:
        return None
    if footage.may_see_cycle_footage(uid, traject, cycle) or (
        may["coach_step"] and footage.consent_missing(traject)
    ):
        return cycle_footage(uid, traject, cycle)
    return None


def _left_course(course_id: int, user_ids: Iterable[int | None]) -> dict[int, datetime]:
    """When people left the course, by the roster (as the coach's dashboard marks them); they
    stay in their trajects."""
    wanted = {i for i in user_ids if i is not None}
    if not wanted:
        return {}
    rows = db.session.execute(
        sa.select(RosterMember.user_id, RosterMember.left_at)
        .join(CourseRoster, CourseRoster.id == RosterMember.roster_id)
        .where(
            CourseRoster.course_id == course_id,
            RosterMember.user_id.in_(wanted),
            RosterMember.left_at.is_not(None),
        )
    ).all()
    return {user_id: left_at for user_id, left_at in rows if left_at is not None}


def _marker_choice(marker: Marker, number_of: dict[int, int]) -> str:
    parts = [str(_l("Cycle %(n)s", n=number_of[marker.cycle_id])), str(MARKER_LABELS[marker.kind])]
    if marker.start_ms is not None:
        parts.append(format_timecode(marker.start_ms))
    return " · ".join([*parts, marker.text[:160]])


def _step_date(cycle: Cycle, step: str) -> date | datetime | None:
    return {
        "recorded": cycle.filming_on or cycle.recorded_at,
        "analysed": cycle.analysed_at,
        "shared": cycle.shared_at,
        "prepared": cycle.prepared_at,
        "discussed": cycle.conversation_on or cycle.discussed_at,
        "closed": cycle.closed_at,
    }[step]


def render_traject(viewer: Viewer, traject_id: int, state: FormState | None = None) -> str:
    traject = require(viewer.user_id, traject_id, "view")
    return render_template(
        "trajects/show.html", fs=state or FormState(), **traject_context(viewer, traject)
    )


@bp.get("/<int:traject_id>")
def show(traject_id: int) -> str:
    return render_traject(require_viewer(), traject_id)


def _step(
    traject_id: int,
    key: str,
    fields: Iterable[str],
    work: Callable[[Viewer, MultiDict[str, str]], object],
    anchor: str | None = None,
) -> Response | tuple[str, int]:
    """Run one step's service; on refusal show the traject page again with what was typed."""
    viewer = require_viewer()
    try:
        work(viewer, request.form)
    except StepRefused as exc:
        db.session.rollback()
        state = refused_state(key, fields, exc)
        return render_traject(viewer, traject_id, state), refusal_status(exc)
    db.session.commit()
    return _back(traject_id, anchor)


# --- intake and the development question ------------------------------------------------------

INTAKE_FIELDS = ("help_question", "arrangements", "conditions", "planned_dates", "intake_on")


@bp.post("/<int:traject_id>/intake")
def save_intake(traject_id: int) -> Response | tuple[str, int]:
    def work(viewer: Viewer, form: MultiDict[str, str]) -> object:
        data: dict[str, Any] = {name: form.get(name, "") for name in INTAKE_FIELDS[:-1]}
        data["intake_on"] = parse_date(form, "intake_on")
        return services.save_intake(viewer.user_id, traject_id, data)

    return _step(traject_id, "intake", INTAKE_FIELDS, work, "intake")


@bp.post("/<int:traject_id>/question")
def propose_question(traject_id: int) -> Response | tuple[str, int]:
    def work(viewer: Viewer, form: MultiDict[str, str]) -> object:
        after = parse_int(form.get("after_cycle"))
        text = form.get("development_question", "")
        return services.propose_question(viewer.user_id, traject_id, text, after_cycle=after)

    return _step(traject_id, "question", ("development_question",), work, "question")


@bp.post("/<int:traject_id>/question/<int:question_id>/approve")
def approve_question(traject_id: int, question_id: int) -> Response | tuple[str, int]:
    def work(viewer: Viewer, form: MultiDict[str, str]) -> object:
        return services.approve_question(viewer.user_id, traject_id, question_id)

    return _step(traject_id, f"approve-{question_id}", (), work, "question")


@bp.post("/<int:traject_id>/intake/complete")
def complete_intake(traject_id: int) -> Response | tuple[str, int]:
    def work(viewer: Viewer, form: MultiDict[str, str]) -> object:
        return services.complete_intake(viewer.user_id, traject_id)

    return _step(traject_id, "complete-intake", (), work, "cycles")


# --- participants -----------------------------------------------------------------------------


@bp.post("/<int:traject_id>/participants")
def add_participant(traject_id: int) -> Response | tuple[str, int]:
    def work(viewer: Viewer, form: MultiDict[str, str]) -> object:
        traject = require(viewer.user_id, traject_id, "manage_participants")
        role = form.get("role", "")
        if role not in ADDABLE_ROLES[traject.kind]:
            raise StepRefused("role", _l("Choose a role."), "role")
        user_id = parse_int(form.get("user_id"))
        name = form.get("name", "")
        if user_id is not None:
            wanted = "coach" if role == P_COACH else None
            if user_id not in {u.id for u in course_members(traject.course_id, wanted)}:
                raise StepRefused("person", _l("Choose someone from this course."), "user_id")
            name = ""
        elif role not in (P_PARENT, P_EXTERNAL):
            raise StepRefused("person", _l("Choose someone from this course."), "user_id")
        return services.add_participant(viewer.user_id, traject_id, role, user_id, name)

    return _step(traject_id, "participant", ("role", "user_id", "name"), work, "participants")


# --- cycles -----------------------------------------------------------------------------------


@bp.post("/<int:traject_id>/cycles/<int:number>/recorded")
def mark_recorded(traject_id: int, number: int) -> Response | tuple[str, int]:
    def work(viewer: Viewer, form: MultiDict[str, str]) -> object:
        data = {"focus": form.get("focus", ""), "filming_on": parse_date(form, "filming_on")}
        return services.mark_recorded(viewer.user_id, traject_id, number, data)

    key = f"recorded-{number}"
    return _step(traject_id, key, ("focus", "filming_on"), work, f"cycle-{number}")


@bp.post("/<int:traject_id>/cycles/<int:number>/analysed")
def mark_analysed(traject_id: int, number: int) -> Response | tuple[str, int]:
    def work(viewer: Viewer, form: MultiDict[str, str]) -> object:
        data = {"analysis_notes": form.get("analysis_notes", "")}
        return services.mark_analysed(viewer.user_id, traject_id, number, data)

    key = f"analysed-{number}"
    return _step(traject_id, key, ("analysis_notes",), work, f"cycle-{number}")


@bp.post("/<int:traject_id>/cycles/<int:number>/share")
def share(traject_id: int, number: int) -> Response | tuple[str, int]:
    def work(viewer: Viewer, form: MultiDict[str, str]) -> object:
        return services.share(viewer.user_id, traject_id, number)

    return _step(traject_id, f"share-{number}", (), work, f"cycle-{number}")


@bp.post("/<int:traject_id>/cycles/<int:number>/conversation")
def record_conversation(traject_id: int, number: int) -> Response | tuple[str, int]:
    def work(viewer: Viewer, form: MultiDict[str, str]) -> object:
        data = {
            "conversation_notes": form.get("conversation_notes", ""),
            "conversation_on": parse_date(form, "conversation_on"),
        }
        return services.record_conversation(viewer.user_id, traject_id, number, data)

    fields = ("conversation_notes", "conversation_on")
    return _step(traject_id, f"conversation-{number}", fields, work, f"cycle-{number}")


MARKER_FIELDS = ("kind", "text", "teacher_words", "start", "end", "tags", "domain")


@bp.post("/<int:traject_id>/cycles/<int:number>/markers")
def add_marker(traject_id: int, number: int) -> Response | tuple[str, int]:
    def work(viewer: Viewer, form: MultiDict[str, str]) -> object:
        tags = form.getlist("tags")
        data: dict[str, Any] = {
            "kind": form.get("kind") or "strength",
            "text": form.get("text", ""),
            "teacher_words": form.get("teacher_words", ""),
            "start_ms": parse_timecode(form.get("start"), "start"),
            "end_ms": parse_timecode(form.get("end"), "end"),
            "tags": tags,
            "domain": form.get("domain") or None,
        }
        traject = require(viewer.user_id, traject_id, "conversation")
        course = db.session.get(Course, traject.course_id)
        allowed = set(active_tags(course.platform_id)) if course is not None else set()
        if any(tag not in allowed for tag in tags):
            raise StepRefused("tags", _l("Choose tags from the list."), "tags")
        return services.add_marker(viewer.user_id, traject_id, number, data)

    return _step(traject_id, f"marker-{number}", MARKER_FIELDS, work, f"cycle-{number}")


@bp.post("/<int:traject_id>/cycles/<int:number>/action-points")
def add_action_point(traject_id: int, number: int) -> Response | tuple[str, int]:
    def work(viewer: Viewer, form: MultiDict[str, str]) -> object:
        text = form.get("action_point", "")
        return services.add_action_point(viewer.user_id, traject_id, number, text)

    key = f"action-point-{number}"
    return _step(traject_id, key, ("action_point",), work, f"cycle-{number}")


@bp.post("/<int:traject_id>/action-points/<int:point_id>/status")
def set_action_point_status(traject_id: int, point_id: int) -> Response | tuple[str, int]:
    def work(viewer: Viewer, form: MultiDict[str, str]) -> object:
        status = form.get("status", "")
        return services.set_action_point_status(viewer.user_id, traject_id, point_id, status)

    return _step(traject_id, f"point-{point_id}", ("status",), work, f"point-{point_id}")


@bp.post("/<int:traject_id>/cycles/<int:number>/close")
def close_cycle(traject_id: int, number: int) -> Response | tuple[str, int]:
    def work(viewer: Viewer, form: MultiDict[str, str]) -> object:
        data = {"next_filming_on": parse_date(form, "next_filming_on")}
        return services.close_cycle(viewer.user_id, traject_id, number, data)

    return _step(traject_id, f"close-{number}", ("next_filming_on",), work, f"cycle-{number}")


@bp.post("/<int:traject_id>/cycles/add")
def add_cycle(traject_id: int) -> Response | tuple[str, int]:
    def work(viewer: Viewer, form: MultiDict[str, str]) -> object:
        return services.add_cycle(viewer.user_id, traject_id)

    return _step(traject_id, "add-cycle", (), work, "cycles")


@bp.post("/<int:traject_id>/close-early")
def close_early(traject_id: int) -> Response | tuple[str, int]:
    def work(viewer: Viewer, form: MultiDict[str, str]) -> object:
        return services.close_early(viewer.user_id, traject_id, form.get("reason", ""))

    return _step(traject_id, "close-early", ("reason",), work, "final")


# --- the kijkwijzer of a cycle ----------------------------------------------------------------


def _guide_values(questions: list[dict[str, Any]], answers: dict[str, Any]) -> MultiDict[str, str]:
    values: MultiDict[str, str] = MultiDict()
    for question in questions:
        key, kind = question["key"], question["kind"]
        answer = answers.get(key)
        if answer is None:
            continue
        if kind == "timecode" and isinstance(answer, dict):
            values.add(f"{key}_text", str(answer.get("text") or ""))
            values.add(f"{key}_time", format_timecode(answer.get("ms")))
        elif kind == "checklist" and isinstance(answer, list):
            for option in answer:
                values.add(key, str(option))
        else:
            values.add(key, str(answer))
    return values


def _guide_answers(questions: list[dict[str, Any]], form: MultiDict[str, str]) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    for question in questions:
        key, kind = question["key"], question["kind"]
        if kind == "text":
            answers[key] = form.get(key, "")
        elif kind == "timecode":
            answers[key] = {
                "text": form.get(f"{key}_text", ""),
                "ms": parse_timecode(form.get(f"{key}_time"), key),
            }
        elif kind == "scale":
            answers[key] = form.get(key) or None
        elif kind == "checklist":
            answers[key] = form.getlist(key)
    return answers


def _guide_page(viewer: Viewer, traject_id: int, number: int, state: FormState | None) -> str:
    traject = require(viewer.user_id, traject_id, "view")
    cycle = next((c for c in traject.cycles if c.number == number), None)
    if cycle is None:
        raise Forbidden("view")
    guide = cycle.viewing_guide
    may_fill = (
        can(viewer.user_id, traject, "fill_viewing_guide")
        and traject.status == STATUS_CYCLES
        and cycle.step == "shared"
        and guide is not None
    )
    may_read = (
        guide is not None
        and guide.submitted_at is not None
        and (
            can(viewer.user_id, traject, "conversation")
            or can(viewer.user_id, traject, "coach_step")
            or can(viewer.user_id, traject, "fill_viewing_guide")
        )
    )
    questions = guide.questions if guide is not None else []
    if state is None and guide is not None:
        state = FormState(key="guide", data=_guide_values(questions, guide.answers or {}))
    question = services.current_question(traject)
    return render_template(
        "trajects/viewing_guide.html",
        traject=traject,
        cycle=cycle,
        guide=guide,
        questions=questions,
        may_fill=may_fill,
        may_read=may_read,
        question=question,
        fs=state or FormState(),
        viewer=viewer,
        launch_token=viewer.token,
        saved=request.args.get("saved") == "1",
    )


@bp.get("/<int:traject_id>/cycles/<int:number>/kijkwijzer")
def viewing_guide(traject_id: int, number: int) -> str:
    return _guide_page(require_viewer(), traject_id, number, None)


@bp.post("/<int:traject_id>/cycles/<int:number>/kijkwijzer")
def save_viewing_guide(traject_id: int, number: int) -> Response | tuple[str, int]:
    viewer = require_viewer()
    submit = request.form.get("action") == "submit"
    traject = require(viewer.user_id, traject_id, "fill_viewing_guide")
    cycle = next((c for c in traject.cycles if c.number == number), None)
    questions = cycle.viewing_guide.questions if cycle and cycle.viewing_guide else []
    try:
        answers = _guide_answers(questions, request.form)
        services.save_viewing_guide(viewer.user_id, traject_id, number, answers, submit)
    except StepRefused as exc:
        db.session.rollback()
        keys = [q["key"] for q in questions]
        state = refused_state("guide", keys, exc)
        return _guide_page(viewer, traject_id, number, state), refusal_status(exc)
    db.session.commit()
    if submit:
        return _back(traject_id, f"cycle-{number}")
    # A draft: back to the form, to go on later or now.
    target = url_for("trajects.viewing_guide", traject_id=traject_id, number=number, saved=1)
    return redirect(target, code=303)


# --- the coach's kijkwijzer for this traject --------------------------------------------------


MAX_TEMPLATE_ROWS = 40


def _template_count(form: MultiDict[str, str]) -> int:
    return min(parse_int(form.get("count")) or 0, MAX_TEMPLATE_ROWS)


def _template_rows(form: MultiDict[str, str]) -> list[tuple[int, dict[str, Any]]]:
    """The edited questions from the form, each with its row on the page; rows marked for
    removal, and the new row when left empty, are dropped."""
    count = _template_count(form)
    used = {form.get(f"key-{i}", "") for i in range(count + 1)}
    next_number = 1
    rows = []
    for i in range(count + 1):
        label = form.get(f"label-{i}", "").strip()
        if form.get(f"remove-{i}") or (i == count and not label):
            continue
        key = form.get(f"key-{i}", "")
        if not key:
            while f"q{next_number}" in used:
                next_number += 1
            key = f"q{next_number}"
            used.add(key)
        row: dict[str, Any] = {"key": key, "kind": form.get(f"kind-{i}", ""), "label": label}
        if row["kind"] == "checklist":
            row["options"] = [o for o in form.get(f"options-{i}", "").splitlines() if o.strip()]
        if row["kind"] == "scale":
            row["scale"] = [parse_int(form.get(f"low-{i}")), parse_int(form.get(f"high-{i}"))]
            labels = [form.get(f"lowlabel-{i}", "").strip(), form.get(f"highlabel-{i}", "").strip()]
            if any(labels):
                row["scale_labels"] = labels
        rows.append((i, row))
    return rows


def _template_form(questions: list[dict[str, Any]]) -> MultiDict[str, str]:
    values: MultiDict[str, str] = MultiDict({"count": str(len(questions))})
    for i, question in enumerate(questions):
        values[f"key-{i}"] = question["key"]
        values[f"kind-{i}"] = question["kind"]
        values[f"label-{i}"] = question["label"]
        values[f"options-{i}"] = "\n".join(question.get("options") or [])
        low, high = (question.get("scale") or [1, 5])[:2]
        values[f"low-{i}"], values[f"high-{i}"] = str(low), str(high)
        labels = [*(question.get("scale_labels") or []), "", ""][:2]
        values[f"lowlabel-{i}"], values[f"highlabel-{i}"] = labels
    return values


def _template_page(viewer: Viewer, traject: Traject, state: FormState) -> str:
    count = _template_count(state.data)
    return render_template(
        "trajects/viewing_guide_template.html",
        traject=traject,
        rows=range(count + 1),
        count=count,
        fs=state,
        kinds=QUESTION_KINDS,
        kind_labels=QUESTION_KIND_LABELS,
        viewer=viewer,
        launch_token=viewer.token,
    )


@bp.get("/<int:traject_id>/kijkwijzer")
def edit_template(traject_id: int) -> str:
    viewer = require_viewer()
    traject = require(viewer.user_id, traject_id, "coach_step")
    state = FormState(key="template", data=_template_form(template_for(traject)))
    return _template_page(viewer, traject, state)


@bp.post("/<int:traject_id>/kijkwijzer")
def save_template(traject_id: int) -> Response | tuple[str, int]:
    viewer = require_viewer()
    require(viewer.user_id, traject_id, "coach_step")
    form = request.form
    rows = _template_rows(form)
    try:
        save_traject_template(viewer.user_id, traject_id, [row for _, row in rows])
    except AnswerRefused as exc:
        db.session.rollback()
        # The refusal names a question by its key, or by its place in the list: find its row.
        where = {row["key"]: str(i) for i, row in rows}.get(exc.key)
        if where is None and _ASCII_DIGITS.fullmatch(exc.key) and int(exc.key) < len(rows):
            where = str(rows[int(exc.key)][0])
        state = FormState(
            key="template",
            data=MultiDict(form.items(multi=True)),
            error_field=where,
            message=exc.message,
        )
        traject = require(viewer.user_id, traject_id, "coach_step")
        return _template_page(viewer, traject, state), 422
    db.session.commit()
    return _back(traject_id, "cycles")


# --- the final conversation -------------------------------------------------------------------


@bp.post("/<int:traject_id>/final/preparation")
def prepare_final(traject_id: int) -> Response | tuple[str, int]:
    def work(viewer: Viewer, form: MultiDict[str, str]) -> object:
        done = form.get("action") == "done"
        text = form.get("preparation", "")
        return services.prepare_final(viewer.user_id, traject_id, text, done)

    return _step(traject_id, "preparation", ("preparation",), work, "final")


CONCLUSION_FIELDS = (
    "goal_reached",
    "how_it_came_about",
    *(f"yield_{d}" for d in DOMAINS),
    "visible_in_marker_ids",
    "teacher_evaluation",
    "coach_reflection",
    "follow_up",
)


@bp.post("/<int:traject_id>/final/conclusions")
def conclude_final(traject_id: int) -> Response | tuple[str, int]:
    def work(viewer: Viewer, form: MultiDict[str, str]) -> object:
        data = {
            "goal_reached": form.get("goal_reached"),
            "how_it_came_about": form.get("how_it_came_about", ""),
            "yield_per_domain": {d: form.get(f"yield_{d}", "") for d in DOMAINS},
            "visible_in_marker_ids": form.getlist("visible_in_marker_ids"),
            "teacher_evaluation": form.get("teacher_evaluation", ""),
            "coach_reflection": form.get("coach_reflection", ""),
            "follow_up": form.get("follow_up", ""),
        }
        return services.conclude_final(viewer.user_id, traject_id, data)

    return _step(traject_id, "conclusions", CONCLUSION_FIELDS, work, "final")


# --- where a launch lands ---------------------------------------------------------------------


def render_start(viewer: Viewer, role: str) -> str:
    """The page after a launch: the traject a coach placed in the course (custom parameter
    `beeldcoach_traject`), when the person takes part in it; otherwise the overview."""
    custom = (viewer.launch.claims or {}).get("https://purl.imsglobal.org/spec/lti/claim/custom")
    placed = parse_int(custom.get("beeldcoach_traject")) if isinstance(custom, dict) else None
    if placed is not None:
        traject = db.session.get(Traject, placed)
        if traject is not None and can(viewer.user_id, traject, "view"):
            return render_template(
                "trajects/show.html",
                fs=FormState(),
                on_start=True,
                api_token=viewer.token,
                **traject_context(viewer, traject),
            )
    return render_overview(viewer, role=role)


def viewer_for_start(launch: Any) -> Viewer:
    """The viewer of the launch that /start just took over (its session is set now)."""
    from lti_tool.web.auth import current_viewer

    g.launch = launch
    viewer = current_viewer()
    assert viewer is not None
    return viewer
