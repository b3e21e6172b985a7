"""The review player's JSON API: what the player shows for one recording or montage in the mode
the viewer is in (analysis, preparation, conversation, review), and changing or removing one's
own markers. Thin views over the cycles services and the footage rules; one commit per request.
Described in web/openapi_player.py."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Response, jsonify, request, url_for

from lti_tool.cycles import footage, services
from lti_tool.cycles.access import roles_in
from lti_tool.cycles.models import (
    DOMAINS,
    MARKER_KINDS,
    P_COACH,
    STATUS_CYCLES,
    ActionPoint,
    Cycle,
    Marker,
    Traject,
)
from lti_tool.cycles.services import StepRefused
from lti_tool.cycles.tags import active_tags
from lti_tool.db import MAX_ID, db
from lti_tool.media.models import MONTAGE_READY, REC_READY, Montage, Recording
from lti_tool.people.models import Course, User
from lti_tool.privacy.access import ACTIONS, Forbidden, is_allowed
from lti_tool.web.api import (
    MEDIA_KINDS,
    BadInput,
    _action_point_json,
    _body,
    _guide_json,
    _int,
    _iso,
    _list,
    _text,
    fields_named,
)
from lti_tool.web.auth import Viewer, require_viewer

bp = Blueprint("player_api", __name__, url_prefix="/api")

#: The player's modes (whose markers each shows: services.MARKER_MODES). analysis: the coach
#: before the conversation (the montage); preparation: the teacher alone (the kijkwijzer);
#: conversation: coach and teacher together (the coach's notes, action points); review: a closed
#: cycle, read only.
MODES = services.MARKER_MODES
PATH_KINDS = {"recordings": "recording", "montages": "montage"}


@bp.errorhandler(StepRefused)
def step_refused(exc: StepRefused) -> tuple[Response, int]:
    db.session.rollback()
    status = {"order": 409, "forbidden": 403, "not_found": 404}.get(exc.code, 422)
    return jsonify(error=exc.code, message=str(exc.message), field=exc.field), status


@bp.errorhandler(BadInput)
def bad_input(exc: BadInput) -> tuple[Response, int]:
    db.session.rollback()
    return jsonify(error="invalid", message=exc.message, field=exc.field), 422


# --- who is in which mode ---------------------------------------------------------------------


def modes_for(roles: set[str], traject: Traject, cycle: Cycle) -> list[str]:
    """The modes open to someone with these roles, the default first: the way the traject
    page and the API show the cycle's markers (services.marker_mode). The footage rules
    (lti_tool.cycles.footage) decide whether they see the footage at all."""
    mode = services.marker_mode(roles, traject, cycle)
    if mode == "conversation" and P_COACH not in roles and cycle.step == "prepared":
        # Kijkwijzer submitted, conversation not yet held: the teacher may still look alone.
        return ["conversation", "preparation"]
    return [mode]


def _visible_markers(
    mode: str,
    viewer_id: int,
    roles: set[str],
    traject: Traject,
    cycle: Cycle,
    kind: str,
    item_id: int,
) -> list[Marker]:
    """Markers of this cycle on this video (or on no video), as the mode shows them
    (whose: services.markers_visible_to)."""
    query = services.markers_visible_to(viewer_id, traject, [cycle], roles, mode).where(
        sa.or_(
            sa.and_(Marker.media_kind == kind, Marker.media_id == item_id),
            Marker.media_kind.is_(None),
        )
    )
    return list(db.session.scalars(query))


def _frame_of(ms: int | None, fps: Fraction | None) -> int | None:
    if ms is None or fps is None:
        return None
    return int(Fraction(ms, 1000) * fps)


def _marker_json(
    marker: Marker, number: int, viewer_id: int, names: dict[int, str], fps: Fraction | None
) -> dict[str, Any]:
    return {
        "id": marker.id,
        "cycle": number,
        "kind": marker.kind,
        "text": marker.text,
        "teacher_words": marker.teacher_words,
        "tags": list(marker.tags or []),
        "domain": marker.domain,
        "start_ms": marker.start_ms,
        "end_ms": marker.end_ms,
        "start_frame": _frame_of(marker.start_ms, fps),
        "end_frame": _frame_of(marker.end_ms, fps),
        "media_kind": marker.media_kind,
        "media_id": marker.media_id,
        "author_id": marker.author_id,
        "author_name": names.get(marker.author_id, ""),
        "mine": marker.author_id == viewer_id,
        "created_at": _iso(marker.created_at),
    }


def _montage_json(
    traject: Traject, cycle: Cycle, montage: Montage, recording_names: dict[int, str]
) -> dict[str, Any]:
    """The coach's montage as notes: its clips with captions, each with where it starts in the
    rendered montage (clips follow each other; a fade overlaps them a little)."""
    clips, at = [], 0
    for clip in montage.clips or []:
        name = recording_names.get(clip["recording_id"], "")
        clips.append({**clip, "montage_start_ms": at, "recording_name": name})
        at += clip["out_ms"] - clip["in_ms"]
    return {
        "id": montage.id,
        "title": montage.title,
        "status": montage.status,
        "shared": montage.shared_at is not None,
        "clips": clips,
        "fade": montage.fade,
        "player_url": (
            url_for(
                "footage.player",
                traject_id=traject.id,
                number=cycle.number,
                kind="montage",
                item_id=montage.id,
            )  # fmt: skip
            if montage.rendition_key is not None
            else None
        ),
    }


def _item(
    viewer: Viewer, traject_id: int, number: int, path_kind: str, item_id: int
) -> tuple[Traject, Cycle, str, Recording | Montage]:
    """The recording or montage, if the footage rules let the viewer see it (403 otherwise,
    also when it does not exist)."""
    kind = PATH_KINDS.get(path_kind)
    if kind is None:
        raise Forbidden("view_footage")
    traject, cycle = footage.require_footage(viewer.user_id, traject_id, number)
    item: Recording | Montage | None = (
        db.session.get(Recording, item_id)
        if kind == "recording"
        else db.session.get(Montage, item_id)
    )
    if (
        item is None
        or item.cycle_id != cycle.id
        or not footage.may_view(viewer.user_id, kind, item_id)
    ):
        raise Forbidden("view_footage")
    return traject, cycle, kind, item


@bp.get("/trajects/<int:traject_id>/cycles/<int:number>/<path_kind>/<int:item_id>/player")
def player_state(traject_id: int, number: int, path_kind: str, item_id: int) -> Response:
    viewer = require_viewer()
    traject, cycle, kind, item = _item(viewer, traject_id, number, path_kind, item_id)
    uid = viewer.user_id
    roles = roles_in(traject.id, uid)
    allowed = {action: is_allowed(roles, traject.kind, action) for action in ACTIONS}
    modes = modes_for(roles, traject, cycle)
    asked = request.args.get("mode")
    mode = asked if asked in modes else modes[0]
    together = mode in ("conversation", "review")
    is_coach = P_COACH in roles
    running = traject.status == STATUS_CYCLES and cycle.step != "closed"
    detail = services.cycle_detail_for(roles, traject, cycle)

    markers = _visible_markers(mode, uid, roles, traject, cycle, kind, item.id)
    montages = footage.montages_of(uid, traject, cycle)
    recordings = [r for r in footage.recordings_of(uid, traject, cycle) if r.status == REC_READY]
    user_ids = {m.author_id for m in markers} | {uid}
    names = {
        u.id: u.display_name
        for u in db.session.scalars(sa.select(User).where(User.id.in_(user_ids)))
    }
    recording_names = {r.id: r.original_name for r in recordings}
    fps = item.fps
    points = db.session.scalars(
        sa.select(ActionPoint).where(ActionPoint.traject_id == traject.id).order_by(ActionPoint.id)
    ).all()
    numbers = {c.id: c.number for c in traject.cycles}
    course = db.session.get(Course, traject.course_id)
    editable_montage = is_coach and cycle.step in footage.UPLOAD_STEPS and kind == "recording"
    may = {
        "add_marker": allowed["conversation"]
        and running
        and cycle.step != "planned"
        and mode != "review",
        "edit_guide": mode == "preparation"
        and cycle.step == "shared"
        and allowed["fill_viewing_guide"],
        "conversation_notes": mode == "conversation" and running and allowed["conversation"],
        "add_action_point": mode == "conversation"
        and cycle.step == "discussed"
        and allowed["conversation"],
        "edit_montage": editable_montage,
        "share": is_coach and running and cycle.step == "analysed",
    }
    data = {
        "mode": mode,
        "modes": modes,
        "step": cycle.step,
        "cycle": cycle.number,
        "is_coach": is_coach,
        "viewer_id": uid,
        "may": may,
        "item": {
            "kind": kind,
            "id": item.id,
            "title": item.title if isinstance(item, Montage) else item.original_name,
            "duration_ms": item.duration_ms,
            "fps": f"{item.fps_num}/{item.fps_den}" if fps is not None else None,
            "frame_count": item.frame_count,
        },
        "markers": [_marker_json(m, number, uid, names, fps) for m in markers],
        "marker_kinds": list(MARKER_KINDS),
        "tags": active_tags(course.platform_id) if course is not None else [],
        "domains": list(DOMAINS),
        "guide": (
            _guide_json(traject, cycle.viewing_guide, allowed)
            if mode in ("preparation", "conversation", "review")
            else None
        ),
        "conversation_notes": cycle.conversation_notes if together and detail.notes else None,
        # The coach's analysis, once shared, in the conversation; not while preparing alone.
        "analysis_notes": (
            cycle.analysis_notes if detail.analysis and (is_coach or together) else None
        ),
        "action_points": [
            _action_point_json(p, numbers[p.cycle_id])
            for p in points
            if together and (p.cycle_id == cycle.id or numbers[p.cycle_id] < cycle.number)
        ],
        "montages": [
            _montage_json(traject, cycle, m, recording_names)
            for m in montages
            if mode != "preparation" or m.status == MONTAGE_READY
        ],
        "recordings": [
            {"id": r.id, "name": r.original_name, "duration_ms": r.duration_ms} for r in recordings
        ]
        if editable_montage
        else [],
    }
    db.session.commit()
    return jsonify(data)


# --- one's own markers ------------------------------------------------------------------------


@bp.patch("/trajects/<int:traject_id>/cycles/<int:number>/markers/<int:marker_id>")
def update_marker(traject_id: int, number: int, marker_id: int) -> Response:
    viewer = require_viewer()
    body = _body()
    form: dict[str, Any] = {}
    for key in ("kind", "text", "teacher_words", "domain"):
        if key in body:
            form[key] = _text(body, key)
    for key in ("start_ms", "end_ms"):
        if key in body:
            # Negative time codes are the service's to refuse, in the person's language.
            form[key] = _int(body, key, low=-MAX_ID)
    if "tags" in body:
        form["tags"] = _list(body, "tags")
    if "media_kind" in body or "media_id" in body:
        raise BadInput("media_kind", "A marker stays on the video it was made on.")
    with fields_named(lambda f: f):
        marker = services.update_marker(viewer.user_id, traject_id, number, marker_id, form)
    db.session.commit()
    item = _media_of(marker)
    names = {viewer.user_id: viewer.user.display_name}
    return jsonify(_marker_json(marker, number, viewer.user_id, names, item.fps if item else None))


@bp.delete("/trajects/<int:traject_id>/cycles/<int:number>/markers/<int:marker_id>")
def delete_marker(traject_id: int, number: int, marker_id: int) -> tuple[str, int]:
    viewer = require_viewer()
    services.delete_marker(viewer.user_id, traject_id, number, marker_id)
    db.session.commit()
    return "", 204


def _media_of(marker: Marker) -> Recording | Montage | None:
    if marker.media_kind not in MEDIA_KINDS or marker.media_id is None:
        return None
    if marker.media_kind == "recording":
        return db.session.get(Recording, marker.media_id)
    return db.session.get(Montage, marker.media_id)
