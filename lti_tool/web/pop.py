"""The teacher's POP pages and exports (PDF, JSON, CSV), the teacher's removal of a contribution
kept after its traject (page and API), the manager's read-only view, and the coach's dashboard:
what the learning platform received, "send again", and the course roster."""

from __future__ import annotations

from datetime import date
from io import BytesIO
from typing import Any

from flask import Blueprint, jsonify, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from lti_tool.cycles.access import can
from lti_tool.cycles.models import DOMAINS, Marker, Traject
from lti_tool.cycles.services import StepRefused
from lti_tool.db import db
from lti_tool.launch.session import external_url
from lti_tool.outcomes import pop, services
from lti_tool.outcomes.models import (
    COMPETENCE_DOMAINS,
    METHOD_DOMAINS,
    SCORE_FAILED,
    SCORE_PENDING,
    PopContribution,
    PopVersion,
)
from lti_tool.people.models import User
from lti_tool.privacy.access import Forbidden
from lti_tool.web.auth import Viewer, require_viewer
from lti_tool.web.report import html_to_pdf
from lti_tool.web.trajects import (
    DOMAIN_LABELS,
    GOAL_LABELS,
    KIND_LABELS,
    STATUS_LABELS,
    FormState,
    parse_int,
    refusal_status,
    refused_state,
)

bp = Blueprint("pop", __name__, template_folder="templates")

# The sections of a POP contribution, in order (DOMAIN.md, "The POP contribution"). The tests
# look for each of them in the page and in the PDF's text.
HEADINGS = {
    "goal": _l("POP goal"),
    "domains": _l("Competence domains"),
    "activities": _l("Activities"),
    "evidence": _l("Evidence"),
    "reflection": _l("Reflection"),
    "result": _l("Result"),
    "follow_up": _l("Follow-up"),
}
COMPETENCE_LABELS = {
    "pedagogisch": _l("Pedagogically competent (pedagogisch)"),
    "vakdidactisch": _l("Competent in subject didactics (vakdidactisch)"),
    "vakinhoudelijk": _l("Competent in the subject (vakinhoudelijk)"),
}
ACTIVITY_LABELS = {
    "intake": _l("Intake conversation"),
    "recording": _l("Classroom recording"),
    "coaching_conversation": _l("Coaching conversation"),
    "final_conversation": _l("Final conversation"),
}
POINT_STATUS_LABELS = {
    "planned": _l("Not tried yet"),
    "tried": _l("Tried"),
    "established": _l("Tried and established"),
}
RESULT_LABELS = {"yes": _l("Reached"), "partly": _l("Partly reached"), "no": _l("Not reached")}
MEDIA_LABELS = {"montage": _l("montage"), "recording": _l("recording")}
EVENT_LABELS = {
    "started": _l("Traject started"),
    "completed": _l("Traject completed"),
}
SEND_STATES = {
    "sent": _l("Received by the platform"),
    "pending": _l("Waiting to be sent"),
    "failed": _l("Not sent"),
}
ROSTER_STATES = {
    "queued": _l("Refresh requested"),
    "running": _l("Refreshing…"),
    "ready": _l("Up to date"),
    "failed": _l("Refresh failed"),
}
FORM_FIELDS = (
    "goal",
    "competence_domains",
    "method_domains",
    "teacher_reflection",
    "include_coach_reflection",
    "yielded",
    "follow_up",
)


@bp.app_template_filter("isodate")
def isodate_filter(value: object) -> date | None:
    """An ISO date from a contribution's content (stored as text) as a date, for dateformat."""
    try:
        return date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def labels() -> dict[str, Any]:
    return {
        "competence": COMPETENCE_LABELS,
        "method": {d: DOMAIN_LABELS[d] for d in DOMAINS},
        "activity": ACTIVITY_LABELS,
        "point": POINT_STATUS_LABELS,
        "result": RESULT_LABELS,
        "media": MEDIA_LABELS,
        "kind": KIND_LABELS,
    }


def event_label(event: str) -> str:
    if event.startswith("cycle-"):
        return _("Cycle %(n)s closed", n=event[6:])
    if event.startswith("pop-v"):
        return _("POP contribution approved (version %(n)s)", n=event[5:])
    return str(EVENT_LABELS.get(event, event))


# --- where a placed link lands --------------------------------------------------------------------


def render_placed_page(viewer: Viewer) -> str | None:
    """The page a placed link asks for (custom parameter `beeldcoach_page`), or None."""
    custom = (viewer.launch.claims or {}).get("https://purl.imsglobal.org/spec/lti/claim/custom")
    page = custom.get("beeldcoach_page") if isinstance(custom, dict) else None
    if page == "my_pop":
        return render_index(viewer)
    if page == "coach_dashboard" and viewer.course is not None and viewer.is_course_coach:
        return render_dashboard(viewer)
    return None


# --- the teacher's POP page -----------------------------------------------------------------------


def render_index(viewer: Viewer) -> str:
    contributions = services.contributions_of(viewer.user_id)
    return render_template(
        "pop/index.html",
        viewer=viewer,
        launch_token=viewer.token,
        api_token=viewer.token,
        rows=[_summary(c) for c in contributions],
        startable=services.trajects_without_contribution(viewer.user_id),
        shared=[_summary(c) for c in services.shared_with(viewer.user_id)],
        people=_names([c.teacher_id for c in services.shared_with(viewer.user_id)]),
    )


def _summary(contribution: PopContribution) -> dict[str, Any]:
    traject = db.session.get(Traject, contribution.traject_id) if contribution.traject_id else None
    return {
        "contribution": contribution,
        "traject": traject,
        "approved": contribution.approved,
        "latest": contribution.latest,
        "status": STATUS_LABELS.get(traject.status) if traject is not None else None,
    }


def _names(ids: list[int]) -> dict[int, str]:
    if not ids:
        return {}
    return {u.id: u.display_name for u in db.session.query(User).filter(User.id.in_(ids))}


@bp.get("/pop/")
def index() -> str:
    return render_index(require_viewer())


@bp.post("/pop/trajects/<int:traject_id>/start")
def start(traject_id: int) -> Response:
    viewer = require_viewer()
    contribution = services.start_contribution(viewer.user_id, traject_id)
    db.session.commit()
    return redirect(url_for("pop.show", contribution_id=contribution.id), code=303)


# --- one contribution -----------------------------------------------------------------------------


def _version_arg() -> int | None:
    return parse_int(request.args.get("v"))


def _resolvable(contribution: PopContribution, viewer: Viewer) -> dict[str, str]:
    """ref -> a link inside the tool, for moments whose marker and footage still exist and
    that this person may watch. Outside the tool (PDF, JSON, CSV) a reference is only text."""
    from lti_tool.cycles.footage import media_exists_in_cycle

    traject = db.session.get(Traject, contribution.traject_id) if contribution.traject_id else None
    if traject is None or not can(viewer.user_id, traject, "view_footage"):
        return {}
    links = {}
    for cycle in traject.cycles:
        markers = db.session.query(Marker).filter(Marker.cycle_id == cycle.id)
        for marker in markers:
            if marker.media_kind and media_exists_in_cycle(
                cycle, marker.media_kind, marker.media_id
            ):
                links[f"M{marker.id}"] = url_for(
                    "trajects.show", traject_id=traject.id, _anchor=f"cycle-{cycle.number}"
                )
    return links


def _page(
    viewer: Viewer, contribution: PopContribution, version: PopVersion, state: FormState
) -> str:
    content = services.content_of(contribution, version)
    is_owner = contribution.teacher_id == viewer.user_id
    traject = db.session.get(Traject, contribution.traject_id) if contribution.traject_id else None
    editable = is_owner and version.approved_at is None and version is contribution.latest
    evidence_rows = _evidence_rows(contribution, version) if editable else []
    teacher = db.session.get(User, contribution.teacher_id)
    manager = db.session.get(User, contribution.manager_id) if contribution.manager_id else None
    edits = version.edits or {}
    return render_template(
        "pop/show.html",
        viewer=viewer,
        launch_token=viewer.token,
        fs=state,
        contribution=contribution,
        version=version,
        versions=[v for v in contribution.versions if is_owner or v.approved_at is not None],
        content=content,
        headings=HEADINGS,
        labels=labels(),
        links=_resolvable(contribution, viewer) if is_owner else {},
        is_owner=is_owner,
        editable=editable,
        may_approve=editable and traject is not None and traject.status == "completed",
        traject=traject,
        teacher=teacher,
        manager=manager,
        manager_options=(
            [(u.id, u.display_name) for u in services.manager_choices(contribution)]
            if is_owner
            else []
        ),
        evidence_rows=evidence_rows,
        competence_options=[(c, COMPETENCE_LABELS[c]) for c in COMPETENCE_DOMAINS],
        method_options=[(d, DOMAIN_LABELS[d]) for d in METHOD_DOMAINS],
        include_coach=edits.get("include_coach_reflection", True) is not False,
    )


def _evidence_rows(contribution: PopContribution, version: PopVersion) -> list[dict[str, Any]]:
    """Every evidence item the traject offers, with the teacher's wording (empty: left out)."""
    traject = db.session.get(Traject, contribution.traject_id) if contribution.traject_id else None
    teacher = db.session.get(User, contribution.teacher_id)
    if traject is None or teacher is None:
        return []
    full = pop.build_content(traject, teacher, {})["evidence"]
    texts = (version.edits or {}).get("evidence") or {}
    rows = []
    for kind, items in (("strength", full["strengths"]), ("action_point", full["action_points"])):
        for item in items:
            rows.append({"kind": kind, "item": item, "text": texts.get(item["ref"], item["text"])})
    return rows


@bp.get("/pop/<int:contribution_id>")
def show(contribution_id: int) -> str:
    viewer = require_viewer()
    contribution, version = services.readable_version(
        viewer.user_id, contribution_id, _version_arg()
    )
    return _page(viewer, contribution, version, FormState())


def _form_edits(form: MultiDict[str, str]) -> dict[str, Any]:
    evidence = {
        key[len("evidence-") :]: value for key, value in form.items() if key.startswith("evidence-")
    }
    # Texts only when sent (a text left out keeps its default); an unticked box is not sent.
    names = ("goal", "teacher_reflection", "yielded", "follow_up")
    texts = {k: form[k] for k in names if k in form}
    return {
        **texts,
        "competence_domains": form.getlist("competence_domains"),
        "method_domains": form.getlist("method_domains"),
        "include_coach_reflection": form.get("include_coach_reflection") == "1",
        "evidence": evidence,
    }


@bp.post("/pop/<int:contribution_id>")
def save(contribution_id: int) -> Response | tuple[str, int]:
    """Save the draft; with action=approve, approve it as well (one form, two buttons)."""
    viewer = require_viewer()
    approve = request.form.get("action") == "approve"
    try:
        services.save_draft(viewer.user_id, contribution_id, _form_edits(request.form))
        if approve:
            pop_url = external_url("pop.show", contribution_id=contribution_id)
            services.approve(viewer.user_id, contribution_id, pop_url)
    except StepRefused as exc:
        db.session.rollback()
        contribution, version = services.readable_version(viewer.user_id, contribution_id)
        state = refused_state("pop", FORM_FIELDS, exc)
        # Not in this state (an approved version, a traject still running): 409, as the API.
        status = 409 if exc.code == "order" else refusal_status(exc)
        return _page(viewer, contribution, version, state), status
    db.session.commit()
    return redirect(url_for("pop.show", contribution_id=contribution_id, saved=1), code=303)


@bp.post("/pop/<int:contribution_id>/revise")
def revise(contribution_id: int) -> Response:
    viewer = require_viewer()
    services.revise(viewer.user_id, contribution_id)
    db.session.commit()
    return redirect(url_for("pop.show", contribution_id=contribution_id), code=303)


@bp.post("/pop/<int:contribution_id>/manager")
def manager(contribution_id: int) -> Response | tuple[str, int]:
    viewer = require_viewer()
    raw = request.form.get("manager_id", "")
    manager_id = parse_int(raw) if raw else None
    try:
        if raw and manager_id is None:
            raise StepRefused("person", _l("Choose someone from this course."), "manager_id")
        services.set_manager(viewer.user_id, contribution_id, manager_id)
    except StepRefused as exc:
        db.session.rollback()
        contribution, version = services.readable_version(viewer.user_id, contribution_id)
        state = refused_state("manager", ("manager_id",), exc)
        return _page(viewer, contribution, version, state), refusal_status(exc)
    db.session.commit()
    return redirect(url_for("pop.show", contribution_id=contribution_id), code=303)


# --- the teacher removes a contribution kept after its traject ------------------------------------


def _removal_page(viewer: Viewer, contribution: PopContribution, state: FormState) -> str:
    return render_template(
        "pop/remove.html",
        viewer=viewer,
        launch_token=viewer.token,
        fs=state,
        contribution=contribution,
        # Still part of a traject: it goes with the traject's removal, not on its own.
        attached=contribution.traject_id is not None,
    )


def _remove(viewer: Viewer, contribution_id: int, confirmed: bool) -> int:
    """Remove it (the number of versions removed), or refuse: Forbidden / StepRefused."""
    contribution = services.removable_contribution(viewer.user_id, contribution_id)
    # A contribution that still belongs to a traject is refused by the service (409) whether
    # or not the removal was confirmed.
    if contribution.traject_id is None and not confirmed:
        raise StepRefused("confirm", _l("Confirm the removal."), "confirm")
    return services.remove_contribution(
        viewer.user_id,
        contribution_id,
        launch_id=viewer.launch.id,
        platform_id=viewer.course.platform_id if viewer.course is not None else None,
    )


@bp.get("/pop/<int:contribution_id>/remove")
def remove_page(contribution_id: int) -> str:
    """The confirmation: what goes (the contribution and all its versions) and what stays."""
    viewer = require_viewer()
    contribution = services.removable_contribution(viewer.user_id, contribution_id)
    return _removal_page(viewer, contribution, FormState())


@bp.post("/pop/<int:contribution_id>/remove")
def remove(contribution_id: int) -> Response | tuple[str, int]:
    viewer = require_viewer()
    try:
        _remove(viewer, contribution_id, request.form.get("confirm") == "1")
    except StepRefused as exc:
        db.session.rollback()
        if exc.code == "forbidden":
            raise
        contribution = services.removable_contribution(viewer.user_id, contribution_id)
        state = refused_state("remove", ("confirm",), exc)
        status = 409 if exc.code == "order" else refusal_status(exc)
        return _removal_page(viewer, contribution, state), status
    db.session.commit()
    return redirect(url_for("pop.index", removed=1), code=303)


@bp.post("/api/pop/<int:contribution_id>/remove")
def api_remove(contribution_id: int) -> Response:
    """As the form; the body is {"confirm": true}. Refusals answer as the rest of the API."""
    viewer = require_viewer()
    body = request.get_json(silent=True)
    confirmed = isinstance(body, dict) and body.get("confirm") is True
    versions = _remove(viewer, contribution_id, confirmed)
    db.session.commit()
    return jsonify(
        contribution_id=contribution_id,
        removed={"pop_contributions": 1, "pop_versions": versions},
    )


# --- exports --------------------------------------------------------------------------------------


def _export(contribution_id: int) -> tuple[PopContribution, PopVersion, dict[str, Any]]:
    viewer = require_viewer()
    contribution, version = services.readable_version(
        viewer.user_id, contribution_id, _version_arg()
    )
    return contribution, version, services.content_of(contribution, version)


def _meta(contribution: PopContribution, version: PopVersion) -> dict[str, Any]:
    return {
        "contribution_id": contribution.id,
        "version": version.number,
        "status": "approved" if version.approved_at is not None else "draft",
        "approved_at": version.approved_at.isoformat() if version.approved_at else None,
    }


def _file(data: bytes, mimetype: str, contribution: PopContribution, version: PopVersion,
          ext: str) -> Response:  # fmt: skip
    response = send_file(
        BytesIO(data),
        mimetype=mimetype,
        as_attachment=True,
        # Outside the f-string: the catalogue extractor does not look inside f-strings.
        download_name=_("pop-contribution") + f"-{contribution.id}-v{version.number}.{ext}",
    )
    # Personal data: no copies in shared caches or the browser's cache.
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/pop/<int:contribution_id>/export.pdf")
def export_pdf(contribution_id: int) -> Response:
    contribution, version, content = _export(contribution_id)
    teacher = db.session.get(User, contribution.teacher_id)
    html = render_template(
        "pop/print.html",
        content=content,
        contribution=contribution,
        version=version,
        headings=HEADINGS,
        labels=labels(),
        links={},
        teacher=teacher,
    )
    return _file(html_to_pdf(html), "application/pdf", contribution, version, "pdf")


@bp.get("/pop/<int:contribution_id>/export.json")
def export_json(contribution_id: int) -> Response:
    contribution, version, content = _export(contribution_id)
    data = pop.as_json(content, _meta(contribution, version)).encode()
    return _file(data, "application/json", contribution, version, "json")


@bp.get("/pop/<int:contribution_id>/export.csv")
def export_csv(contribution_id: int) -> Response:
    contribution, version, content = _export(contribution_id)
    flat = {k: str(v) for group in labels().values() for k, v in group.items()}
    data = pop.as_csv(content, _meta(contribution, version), flat).encode()
    return _file(data, "text/csv; charset=utf-8", contribution, version, "csv")


# --- the coach's dashboard ------------------------------------------------------------------------


def render_dashboard(viewer: Viewer) -> str:
    course = viewer.course
    if course is None or not viewer.is_course_coach:
        raise Forbidden("coach_dashboard")
    trajects = services.coached_trajects(viewer.user_id, course.id)
    rows: list[dict[str, Any]] = []
    people: set[int] = set()
    for traject in trajects:
        sends = services.sends_of(traject.id)
        people.update(s.user_id for s in sends)
        contributions = db.session.query(PopContribution).filter(
            PopContribution.traject_id == traject.id
        )
        rows.append(
            {
                "traject": traject,
                "sends": sends,
                "line_item": services.line_item_of(traject.id),
                "troubled": any(
                    s.status == SCORE_FAILED or (s.status == SCORE_PENDING and s.error)
                    for s in sends
                ),
                "pops": [
                    {"teacher_id": c.teacher_id, "approved": c.approved} for c in contributions
                ],
            }
        )
        people.update(p["teacher_id"] for p in rows[-1]["pops"])
    return render_template(
        "pop/dashboard.html",
        viewer=viewer,
        launch_token=viewer.token,
        course=course,
        rows=rows,
        names=_names(sorted(people)),
        roster=services.roster_of(course.id),
        roster_available=services.memberships_url(course.id) is not None,
        members=services.course_roster(course.id),
        event_label=event_label,
        send_states=SEND_STATES,
        roster_states=ROSTER_STATES,
        error_text=services.error_text,
        kind_labels=KIND_LABELS,
        status_labels=STATUS_LABELS,
        goal_labels=GOAL_LABELS,
    )


@bp.get("/coach/dashboard")
def dashboard() -> str:
    return render_dashboard(require_viewer())


@bp.post("/coach/trajects/<int:traject_id>/send-again")
def send_again(traject_id: int) -> Response:
    viewer = require_viewer()
    services.send_again(viewer.user_id, traject_id)
    db.session.commit()
    return redirect(url_for("pop.dashboard", _anchor=f"traject-{traject_id}"), code=303)


@bp.post("/coach/roster/refresh")
def refresh_roster() -> Response:
    viewer = require_viewer()
    if viewer.course is None or not viewer.is_course_coach:
        raise Forbidden("coach_dashboard")
    services.request_roster_refresh(viewer.course.id)
    db.session.commit()
    return redirect(url_for("pop.dashboard", _anchor="roster"), code=303)
