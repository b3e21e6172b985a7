"""Privacy pages and JSON API: consent, "niet filmen", releases, who watched my footage, my data
(export, and the teacher's removal of an ended traject about them), the administrator's
retention policy, legal holds, audit log and erasure, and the page for the school's privacy
officer.

Forms carry the launch token (the session cookie authenticates reads only: launch/session.py).
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

import sqlalchemy as sa
from flask import (
    Blueprint,
    Response,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response as WerkzeugResponse

from lti_tool.cycles import footage
from lti_tool.cycles.access import can, require, roles_in
from lti_tool.cycles.models import P_COACH, Traject
from lti_tool.db import MAX_ID, db, utcnow
from lti_tool.media.models import Montage, Recording
from lti_tool.media.storage import get_storage
from lti_tool.media.streaming import media_url
from lti_tool.people.models import ROLE_ADMIN, ROLE_COACH, Course, Membership, User
from lti_tool.privacy import audit, removal, retention, subject
from lti_tool.privacy import services as privacy
from lti_tool.privacy.access import (
    AUDIENCE_ROLE,
    AUDIENCES_BY_KIND,
    CONSENT_SCOPES,
    MAX_RELEASE_DAYS,
    Forbidden,
)
from lti_tool.privacy.models import (
    CHECKS,
    EXPORT_READY,
    Consent,
    DataExport,
    LegalHold,
    Release,
)
from lti_tool.web.auth import Viewer, current_viewer, is_api_request, require_viewer
from lti_tool.web.trajects import STATUS_LABELS

bp = Blueprint("privacy", __name__, template_folder="templates")

SCOPE_LABELS = {
    "filming": _l("filming"),
    "teacher": _l("sharing with the teacher"),
    "parents": _l("sharing with the parents"),
    "team": _l("sharing with the team"),
    "external": _l("sharing with external professionals"),
}
AUDIENCE_LABELS = {
    "team": _l("the team"),
    "management": _l("school management"),
    "parents": _l("the parents of the child"),
    "external": _l("an external professional"),
}
CHECK_LABELS = {
    "clear": _l("No pupil who may not be filmed is recognisable"),
    "redact": _l("Needs blurring before sharing beyond teacher and coach"),
}
#: What a traject's removal counts, as the teacher reads it (privacy/removal.py names them).
REMOVAL_LABELS = {
    "intake": _l("Intake"),
    "development_questions": _l("Wordings of the development question"),
    "cycles": _l("Video cycles, with their notes"),
    "viewing_guides": _l("Kijkwijzers filled in"),
    "markers": _l("Markers (moments of strength and others)"),
    "action_points": _l("Action points"),
    "final_review": _l("Final conversation"),
    "recordings": _l("Recordings, with everything made from them"),
    "montages": _l("Montages"),
    "uploads": _l("Unfinished uploads"),
    "consents": _l("Consent records, with their forms"),
    "releases": _l("Releases"),
    "participants": _l("Participants"),
    "lifted_holds": _l("Lifted legal holds"),
    "pop_contributions": _l("POP contributions"),
    "pop_drafts": _l("POP draft versions not approved"),
    "audit_events": _l("Audit log entries (ids only, no text)"),
    "deletion_records": _l("Deletion records (ids only)"),
}
REMOVAL_REFUSALS = {
    "running": _l(
        "This traject is still running. You can remove it once it has ended, after the final "
        "conversation."
    ),
    "legal_hold": _l(
        "A legal hold applies to this traject, so it cannot be removed now. Your school's "
        "administrator can tell you more."
    ),
    "busy": _l(
        "This traject's progress is being sent to the learning platform right now. Try again "
        "in a minute."
    ),
}
EVIDENCE_TYPES = {".pdf", ".jpg", ".jpeg", ".png"}
EVIDENCE_MAX = 10 * 1024 * 1024


@bp.errorhandler(privacy.PrivacyRefused)
def privacy_refused(exc: privacy.PrivacyRefused) -> tuple[Response | str, int]:
    db.session.rollback()
    status = 409 if exc.code in ("order", *REMOVAL_REFUSALS) else 422
    if exc.code == "forbidden":
        status = 403
    if is_api_request():
        return jsonify(error=exc.code, message=str(exc.message), field=exc.field), status
    return render_template("web/step_refused.html", message=exc.message), status


def _form() -> dict[str, Any]:
    if request.is_json:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise privacy.PrivacyRefused("body", _l("Send a JSON object."))
        return body
    data: dict[str, Any] = request.form.to_dict(flat=True)
    data.pop("launch_token", None)
    if "scopes" in request.form:
        data["scopes"] = request.form.getlist("scopes")
    return data


def _platform(viewer: Viewer) -> int | None:
    return viewer.course.platform_id if viewer.course is not None else None


def _id(value: object) -> int:
    text = str(value or "")
    if not text.isdigit() or int(text) > MAX_ID:
        raise Forbidden("view")
    return int(text)


def _back(endpoint: str, **values: Any) -> WerkzeugResponse:
    return redirect(url_for(endpoint, **values), code=303)


# --- JSON views of privacy records ------------------------------------------------------------


def consent_json(consent: Consent) -> dict[str, Any]:
    return {
        "id": consent.id,
        "given_by": consent.given_by,
        "given_by_name": consent.given_by_name,
        "pupil_is_16_or_older": consent.pupil_is_16_or_older,
        "given_on": consent.given_on.isoformat(),
        "scopes": list(consent.scopes or []),
        "evidence_note": consent.evidence_note,
        "has_evidence_file": consent.evidence_key is not None,
        "recorded_at": consent.created_at.isoformat(),
        "withdrawn_at": consent.withdrawn_at.isoformat() if consent.withdrawn_at else None,
    }


def release_json(release: Release) -> dict[str, Any]:
    now = utcnow()
    return {
        "id": release.id,
        "item_kind": release.item_kind,
        "item_id": release.item_id,
        "audience": release.audience,
        "participant_id": release.participant_id,
        "released_at": release.created_at.isoformat(),
        "expires_at": release.expires_at.isoformat(),
        "revoked_at": release.revoked_at.isoformat() if release.revoked_at else None,
        "active": release.revoked_at is None and release.expires_at > now,
    }


def _names(user_ids: set[int]) -> dict[int, str]:
    return {
        u.id: u.display_name
        for u in db.session.scalars(sa.select(User).where(User.id.in_(user_ids or {0})))
    }


def traject_privacy(viewer: Viewer, traject: Traject) -> dict[str, Any]:
    """What this person may see and do about the traject's privacy."""
    uid = viewer.user_id
    roles = roles_in(traject.id, uid)
    is_coach = P_COACH in roles
    items: list[dict[str, Any]] = []
    owned: set[tuple[str, int]] = set()
    for cycle in traject.cycles:
        listed: list[tuple[str, Recording | Montage]] = [
            ("recording", r) for r in footage.recordings_of(uid, traject, cycle)
        ] + [("montage", m) for m in footage.montages_of(uid, traject, cycle)]
        for kind, item in listed:
            row = privacy.footage_privacy(kind, item.id)
            owner = footage.owner_of(traject, kind, item)
            if owner == uid:
                owned.add((kind, item.id))
            items.append(
                {
                    "kind": kind,
                    "id": item.id,
                    "cycle": cycle.number,
                    "title": (item.title if isinstance(item, Montage) else item.original_name)
                    or f"{kind} {item.id}",
                    "owner_id": owner,
                    "check": row.check_status if row else None,
                    "checked_at": row.checked_at.isoformat() if row and row.checked_at else None,
                    "cleared": privacy.is_cleared(traject.course_id, kind, item.id),
                    "may_release": owner == uid and footage.may_release(uid, traject, kind, item),
                }
            )
    releases = [
        release_json(r)
        for r in privacy.releases_of(traject.id)
        if is_coach or (r.item_kind, r.item_id) in owned or r.released_by_id == uid
    ]
    views: list[dict[str, Any]] = []
    if owned:
        rows = [
            e
            for e in audit.events_for(owner_id=uid, events=audit.VIEW_EVENTS, limit=500)
            if e.traject_id == traject.id
        ]
        names = _names({e.actor_id for e in rows if e.actor_id})
        views = [
            {**audit.as_json(e), "viewer": names.get(e.actor_id or 0, f"#{e.actor_id}")}
            for e in rows
        ]
    audiences = [
        {
            "audience": a,
            "participants": [
                {"id": p.id, "name": p.display_name or _names({p.user_id or 0}).get(p.user_id or 0)}
                for p in traject.participants
                if p.role == AUDIENCE_ROLE[a]
            ],
        }
        for a in AUDIENCES_BY_KIND.get(traject.kind, ())
    ]
    return {
        "traject_id": traject.id,
        "kind": traject.kind,
        "is_coach": is_coach,
        "consent_required": traject.kind == "child",
        "consent_scopes": sorted(footage._consent(traject)) if traject.kind == "child" else None,
        "consents": [consent_json(c) for c in privacy.consents_of(traject.id)]
        if can(uid, traject, "view_consent")
        else [],
        "objections": [
            {"id": o.id, "pupil_code": o.pupil_code, "flagged_at": o.flagged_at.isoformat()}
            for o in privacy.active_objections(traject.course_id)
        ]
        if is_coach
        else [],
        "items": items,
        "releases": releases,
        "audiences": audiences,
        "views_of_my_footage": views,
    }


def _traject(viewer: Viewer, traject_id: int) -> Traject:
    return require(viewer.user_id, traject_id, "view")


# --- traject: page and API --------------------------------------------------------------------


@bp.get("/privacy/trajects/<int:traject_id>")
def traject_page(traject_id: int) -> str:
    viewer = require_viewer()
    traject = _traject(viewer, traject_id)
    data = traject_privacy(viewer, traject)
    db.session.commit()
    return render_template(
        "privacy/traject.html",
        traject=traject,
        data=data,
        scopes=CONSENT_SCOPES,
        scope_labels=SCOPE_LABELS,
        audience_labels=AUDIENCE_LABELS,
        check_labels=CHECK_LABELS,
        checks=CHECKS,
        max_days=MAX_RELEASE_DAYS,
        team_members=[p for p in traject.participants if p.role == "team_member" and p.user_id],
        names=_names({p.user_id for p in traject.participants if p.user_id}),
        launch_token=viewer.token,
        today=utcnow().date().isoformat(),
    )


@bp.get("/api/trajects/<int:traject_id>/privacy")
def api_traject(traject_id: int) -> Response:
    viewer = require_viewer()
    traject = _traject(viewer, traject_id)
    data = traject_privacy(viewer, traject)
    db.session.commit()
    return jsonify(data)


def _evidence(consent: Consent) -> None:
    upload = request.files.get("evidence_file")
    if upload is None or not upload.filename:
        return
    suffix = PurePosixPath(upload.filename).suffix.lower()
    if suffix not in EVIDENCE_TYPES:
        raise privacy.PrivacyRefused(
            "file", _l("Upload the form as PDF, JPG or PNG."), "evidence_file"
        )
    import tempfile

    with tempfile.TemporaryDirectory(prefix="beeldcoach-consent-") as tmp:
        path = Path(tmp) / f"form{suffix}"
        upload.save(path)
        if path.stat().st_size > EVIDENCE_MAX or path.stat().st_size == 0:
            raise privacy.PrivacyRefused(
                "file", _l("The form is empty or larger than 10 MB."), "evidence_file"
            )
        key = f"consents/{consent.id}/form{suffix}"
        get_storage().put_file(key, path, move=True)
    privacy.attach_evidence(consent, key, upload.filename)


@bp.post("/api/trajects/<int:traject_id>/consents")
@bp.post("/privacy/trajects/<int:traject_id>/consents", endpoint="record_consent_form")
def record_consent(traject_id: int) -> Any:
    viewer = require_viewer()
    traject = require(viewer.user_id, traject_id, "manage_consent")
    if traject.kind != "child":
        raise privacy.PrivacyRefused("kind", _l("Consent is recorded in a child traject."))
    consent = privacy.record_consent(
        traject.id, viewer.user_id, _form(), launch_id=viewer.launch.id,
        platform_id=footage.platform_of(traject),
    )  # fmt: skip
    _evidence(consent)
    db.session.commit()
    if is_api_request():
        return jsonify(consent_json(consent)), 201
    return _back("privacy.traject_page", traject_id=traject.id)


@bp.post("/api/trajects/<int:traject_id>/consents/<int:consent_id>/withdraw")
@bp.post(
    "/privacy/trajects/<int:traject_id>/consents/<int:consent_id>/withdraw",
    endpoint="withdraw_consent_form",
)
def withdraw_consent(traject_id: int, consent_id: int) -> Any:
    """Withdrawal ends access with this commit; footage goes at once when filming is withdrawn
    (a retention run for this traject is queued after the commit)."""
    viewer = require_viewer()
    traject = require(viewer.user_id, traject_id, "manage_consent")
    consent, lost = privacy.withdraw_consent(
        traject.id, consent_id, viewer.user_id, _form().get("note", ""),
        launch_id=viewer.launch.id, platform_id=footage.platform_of(traject),
    )  # fmt: skip
    if "filming" in lost:
        from lti_tool.privacy import tasks
        from lti_tool.worker import enqueue_after_commit

        enqueue_after_commit(tasks.apply_retention, traject.id)
    db.session.commit()
    if is_api_request():
        return jsonify({**consent_json(consent), "lost_scopes": sorted(lost)})
    return _back("privacy.traject_page", traject_id=traject.id)


@bp.get("/privacy/trajects/<int:traject_id>/consents/<int:consent_id>/evidence")
def consent_evidence(traject_id: int, consent_id: int) -> WerkzeugResponse:
    viewer = require_viewer()
    traject = require(viewer.user_id, traject_id, "manage_consent")
    consent = db.session.get(Consent, consent_id)
    if consent is None or consent.traject_id != traject.id or consent.evidence_key is None:
        raise Forbidden("manage_consent")
    audit.record(
        audit.CONSENT_EVIDENCE_VIEW, actor_id=viewer.user_id, launch_id=viewer.launch.id,
        platform_id=footage.platform_of(traject), traject_id=traject.id,
        item=("consent", consent.id),
    )  # fmt: skip
    url = media_url(
        consent.evidence_key, user_id=viewer.user_id, subject=("consent", consent.id), ttl=120,
        download_name=consent.evidence_name or None,
    )  # fmt: skip
    db.session.commit()
    return redirect(url, code=303)


@bp.put("/api/trajects/<int:traject_id>/footage/<kind>/<int:item_id>")
@bp.post(
    "/privacy/trajects/<int:traject_id>/footage/<kind>/<int:item_id>",
    endpoint="item_privacy_form",
)
def item_privacy(traject_id: int, kind: str, item_id: int) -> Any:
    viewer = require_viewer()
    if kind not in footage.ITEM_KINDS:
        raise Forbidden("manage_consent")
    form = _form()
    if not is_api_request():
        form = {k: v for k, v in form.items() if k in ("check", "note", "filmed_user_id")}
    footage.set_item_privacy(viewer.user_id, traject_id, kind, item_id, form, viewer.launch.id)
    db.session.commit()
    if is_api_request():
        row = privacy.footage_privacy(kind, item_id)
        return jsonify(
            kind=kind,
            id=item_id,
            filmed_user_id=row.filmed_user_id if row else None,
            check=row.check_status if row else None,
        )
    return _back("privacy.traject_page", traject_id=traject_id)


@bp.post("/api/trajects/<int:traject_id>/releases")
@bp.post("/privacy/trajects/<int:traject_id>/releases", endpoint="release_form")
def release(traject_id: int) -> Any:
    viewer = require_viewer()
    made = footage.release_footage(viewer.user_id, traject_id, _form(), viewer.launch.id)
    db.session.commit()
    if is_api_request():
        return jsonify(release_json(made)), 201
    return _back("privacy.traject_page", traject_id=traject_id)


@bp.post("/api/trajects/<int:traject_id>/releases/<int:release_id>/revoke")
@bp.post(
    "/privacy/trajects/<int:traject_id>/releases/<int:release_id>/revoke",
    endpoint="revoke_form",
)
def revoke(traject_id: int, release_id: int) -> Any:
    viewer = require_viewer()
    made = footage.revoke_release(viewer.user_id, traject_id, release_id, viewer.launch.id)
    db.session.commit()
    if is_api_request():
        return jsonify(release_json(made))
    return _back("privacy.traject_page", traject_id=traject_id)


# --- "niet filmen" in the viewer's course ----------------------------------------------------


def _course_coach(viewer: Viewer) -> Course:
    if viewer.course is None or ROLE_COACH not in viewer.course_roles:
        raise Forbidden("objections")
    return viewer.course


@bp.get("/api/objections")
def api_objections() -> Response:
    viewer = require_viewer()
    course = _course_coach(viewer)
    return jsonify(
        objections=[
            {"id": o.id, "pupil_code": o.pupil_code, "note": o.note,
             "flagged_at": o.flagged_at.isoformat()}
            for o in privacy.active_objections(course.id)
        ]
    )  # fmt: skip


@bp.post("/api/objections")
@bp.post("/privacy/objections", endpoint="flag_form")
def flag() -> Any:
    viewer = require_viewer()
    course = _course_coach(viewer)
    form = _form()
    objection = privacy.flag_objection(
        course.id, viewer.user_id, form.get("pupil_code"), form.get("note", ""),
        launch_id=viewer.launch.id, platform_id=course.platform_id,
    )  # fmt: skip
    db.session.commit()
    if is_api_request():
        return jsonify(id=objection.id, pupil_code=objection.pupil_code), 201
    return _back("privacy.objections_page")


@bp.post("/api/objections/<int:objection_id>/lift")
@bp.post("/privacy/objections/<int:objection_id>/lift", endpoint="lift_form")
def lift(objection_id: int) -> Any:
    viewer = require_viewer()
    course = _course_coach(viewer)
    privacy.lift_objection(
        course.id, objection_id, viewer.user_id, launch_id=viewer.launch.id,
        platform_id=course.platform_id,
    )  # fmt: skip
    db.session.commit()
    if is_api_request():
        return jsonify(id=objection_id, lifted=True)
    return _back("privacy.objections_page")


@bp.get("/privacy/objections")
def objections_page() -> str:
    viewer = require_viewer()
    course = _course_coach(viewer)
    return render_template(
        "privacy/objections.html",
        course=course,
        objections=privacy.active_objections(course.id),
        launch_token=viewer.token,
    )


# --- my data ----------------------------------------------------------------------------------


def _export_json(export: DataExport, viewer: Viewer) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": export.id,
        "status": export.status,
        "requested_at": export.created_at.isoformat(),
        "ready_at": export.ready_at.isoformat() if export.ready_at else None,
        "expires_at": export.expires_at.isoformat() if export.expires_at else None,
        "size": export.size,
        "files": export.files,
        "download_url": None,
    }
    if (
        export.status == EXPORT_READY
        and export.key
        and export.expires_at
        and export.expires_at > utcnow()
    ):
        data["download_url"] = url_for("privacy.download_export", export_id=export.id)
    return data


def _shared_json(viewer: Viewer) -> list[dict[str, Any]]:
    out = []
    for traject, cycle, item in footage.footage_shared_with(viewer.user_id):
        kind = "montage" if isinstance(item, Montage) else "recording"
        out.append(
            {
                "traject_id": traject.id,
                "cycle": cycle.number,
                "kind": kind,
                "id": item.id,
                "title": (item.title if isinstance(item, Montage) else "") or f"{kind} {item.id}",
                "player_url": url_for(
                    "footage.player",
                    traject_id=traject.id,
                    number=cycle.number,
                    kind=kind,
                    item_id=item.id,
                ),  # fmt: skip
            }
        )
    return out


def _my_views(viewer: Viewer) -> list[dict[str, Any]]:
    rows = audit.events_for(owner_id=viewer.user_id, events=audit.VIEW_EVENTS, limit=500)
    names = _names({e.actor_id for e in rows if e.actor_id})
    return [
        {**audit.as_json(e), "viewer": names.get(e.actor_id or 0, f"#{e.actor_id}")} for e in rows
    ]


@bp.get("/privacy/me")
def me_page() -> str:
    viewer = require_viewer()
    return render_template(
        "privacy/me.html",
        exports=[_export_json(e, viewer) for e in subject.exports_of(viewer.user_id)],
        shared=_shared_json(viewer),
        views=_my_views(viewer),
        trajects=[(t, removal.is_ended(t)) for t in removal.teacher_trajects(viewer.user_id)],
        status_labels=STATUS_LABELS,
        launch_token=viewer.token,
    )


@bp.get("/api/me/footage-views")
def api_my_views() -> Response:
    viewer = require_viewer()
    return jsonify(views=_my_views(viewer))


@bp.get("/api/me/shared-footage")
def api_shared() -> Response:
    viewer = require_viewer()
    data = _shared_json(viewer)
    return jsonify(items=data)


@bp.get("/api/me/exports")
def api_exports() -> Response:
    viewer = require_viewer()
    return jsonify(exports=[_export_json(e, viewer) for e in subject.exports_of(viewer.user_id)])


@bp.post("/api/me/exports")
@bp.post("/privacy/me/exports", endpoint="export_form")
def request_export() -> Any:
    viewer = require_viewer()
    export = subject.request_export(
        viewer.user_id, launch_id=viewer.launch.id, platform_id=_platform(viewer)
    )
    db.session.commit()
    if is_api_request():
        return jsonify(_export_json(export, viewer)), 202
    return _back("privacy.me_page")


@bp.get("/privacy/me/exports/<int:export_id>/download")
def download_export(export_id: int) -> WerkzeugResponse:
    """A short-lived signed link to the person's own export (audited)."""
    viewer = require_viewer()
    export = db.session.get(DataExport, export_id)
    if (
        export is None
        or export.user_id != viewer.user_id
        or export.key is None
        or not footage.may_view(viewer.user_id, "export", export.id)
    ):
        raise Forbidden("export")
    audit.record(
        audit.EXPORT_DOWNLOAD, actor_id=viewer.user_id, launch_id=viewer.launch.id,
        platform_id=_platform(viewer), item=("export", export.id), owner_id=viewer.user_id,
    )  # fmt: skip
    url = media_url(
        export.key, user_id=viewer.user_id, subject=("export", export.id), ttl=300,
        download_name=subject.EXPORT_NAME,
    )  # fmt: skip
    db.session.commit()
    return redirect(url, code=303)


# --- the teacher removes an ended traject about them -----------------------------------------


def _own_traject(viewer: Viewer, traject_id: int) -> Traject:
    """The traject if it is about the viewer (its coached teacher). Who may know that it exists
    (its participants, the school's administrators) is told why they cannot remove it; anyone
    else gets the refusal that does not tell an unknown id from a forbidden one."""
    traject = db.session.get(Traject, traject_id)
    if traject is None:
        raise Forbidden("remove_traject")
    if removal.is_coached_teacher(traject, viewer.user_id):
        return traject
    if can(viewer.user_id, traject, "view"):
        raise privacy.PrivacyRefused(
            "forbidden", _l("Only the teacher this traject is about can remove it.")
        )
    if ROLE_ADMIN in viewer.course_roles and footage.platform_of(traject) == _platform(viewer):
        raise privacy.PrivacyRefused(
            "forbidden",
            _l(
                "Only the teacher this traject is about can remove it. At a person's request, "
                "an administrator erases that person on the school's privacy page."
            ),
        )
    raise Forbidden("remove_traject")


def _keep_pop(form: dict[str, Any]) -> bool:
    """Keep the approved POP contribution unless the teacher chose to remove it too."""
    value = form.get("keep_pop", True)
    if value in (True, "1", "on", "yes", "true"):
        return True
    if value in (False, "0", "off", "no", "false"):
        return False
    raise privacy.PrivacyRefused(
        "keep_pop", _l("Choose whether to keep your POP contribution."), "keep_pop"
    )


def _removal_page(viewer: Viewer, traject: Traject, result: removal.Removal | None = None) -> str:
    preview = removal.preview(traject) if result is None else None
    return render_template(
        "privacy/remove.html",
        traject=traject,
        preview=preview,
        refusal=REMOVAL_REFUSALS.get(removal.refusal(traject) or "") if preview else None,
        result=result,
        labels=REMOVAL_LABELS,
        launch_token=viewer.token,
    )


@bp.get("/privacy/trajects/<int:traject_id>/remove")
def remove_page(traject_id: int) -> str:
    """The confirmation: what goes and what stays, in counts, and the POP choice."""
    viewer = require_viewer()
    return _removal_page(viewer, _own_traject(viewer, traject_id))


@bp.get("/api/trajects/<int:traject_id>/removal")
def api_removal(traject_id: int) -> Response:
    viewer = require_viewer()
    return jsonify(removal.preview(_own_traject(viewer, traject_id)).as_json())


@bp.post("/api/trajects/<int:traject_id>/remove")
@bp.post("/privacy/trajects/<int:traject_id>/remove", endpoint="remove_form")
def remove_traject(traject_id: int) -> Any:
    viewer = require_viewer()
    traject = _own_traject(viewer, traject_id)
    code = removal.refusal(traject)
    if code is not None:
        raise privacy.PrivacyRefused(code, REMOVAL_REFUSALS[code])
    form = _form()
    if form.get("confirm") not in (True, "1", "on", "yes", "true"):
        raise privacy.PrivacyRefused("confirm", _l("Confirm the removal."), "confirm")
    keep_pop = _keep_pop(form)
    try:
        result = removal.remove_traject(
            traject.id, viewer.user_id, keep_pop=keep_pop, launch_id=viewer.launch.id
        )
    except removal.RemovalRefused as exc:
        db.session.rollback()
        if exc.code not in REMOVAL_REFUSALS:
            raise Forbidden("remove_traject") from exc
        raise privacy.PrivacyRefused(exc.code, REMOVAL_REFUSALS[exc.code]) from exc
    db.session.commit()
    if is_api_request():
        return jsonify(result.as_json())
    return _removal_page(viewer, traject, result)


# --- the administrator ------------------------------------------------------------------------


def _admin() -> tuple[Viewer, int]:
    from lti_tool.web.admin import require_admin

    return require_admin()


def _school_people(platform_id: int) -> list[User]:
    return list(
        db.session.scalars(
            sa.select(User)
            .where(
                User.id.in_(
                    sa.select(Membership.user_id)
                    .join(Course, Course.id == Membership.course_id)
                    .where(Course.platform_id == platform_id)
                )
            )
            .order_by(User.id)
        )
    )


def _school_trajects(platform_id: int) -> list[Traject]:
    return list(
        db.session.scalars(
            sa.select(Traject)
            .join(Course, Course.id == Traject.course_id)
            .where(Course.platform_id == platform_id)
            .order_by(Traject.id)
        )
    )


def _policy_json(platform_id: int) -> dict[str, Any]:
    policy = privacy.policy_for(platform_id)
    return {
        "raw_days_after_share": policy.raw_days_after_share,
        "footage_days_after_final": policy.footage_days_after_final,
        "coach_downloads": policy.coach_downloads,
    }


def _plan_json(platform_id: int) -> list[dict[str, Any]]:
    now = utcnow()
    return [
        {**p.as_json(), "due_now": p.is_due(now)} for p in retention.plan(platform_id=platform_id)
    ]


def _audit_json(platform_id: int, before: int | None = None) -> list[dict[str, Any]]:
    """The log's metadata for the school: events, ids and times; never footage or names."""
    return [audit.as_json(e) for e in audit.events_for(platform_id=platform_id, before_id=before)]


@bp.get("/privacy/admin")
def admin_page() -> str:
    viewer, platform_id = _admin()
    trajects = _school_trajects(platform_id)
    return render_template(
        "privacy/admin.html",
        policy=_policy_json(platform_id),
        plan=_plan_json(platform_id),
        holds=privacy.holds_of([t.id for t in trajects]),
        trajects=trajects,
        events=_audit_json(platform_id)[:100],
        people=_school_people(platform_id),
        launch_token=viewer.token,
    )


@bp.get("/api/admin/privacy/policy")
def api_policy() -> Response:
    _viewer, platform_id = _admin()
    return jsonify(_policy_json(platform_id))


@bp.put("/api/admin/privacy/policy")
@bp.post("/privacy/admin/policy", endpoint="policy_form")
def save_policy() -> Any:
    viewer, platform_id = _admin()
    privacy.save_policy(platform_id, viewer.user_id, _form(), launch_id=viewer.launch.id)
    db.session.commit()
    if is_api_request():
        return jsonify(_policy_json(platform_id))
    return _back("privacy.admin_page")


@bp.get("/api/admin/privacy/retention-plan")
def api_plan() -> Response:
    _viewer, platform_id = _admin()
    return jsonify(items=_plan_json(platform_id))


@bp.get("/api/admin/privacy/audit")
def api_audit() -> Response:
    _viewer, platform_id = _admin()
    before = request.args.get("before")
    return jsonify(events=_audit_json(platform_id, _id(before) if before else None))


def _school_traject(platform_id: int, traject_id: object) -> Traject:
    tid = _id(traject_id)
    traject = db.session.get(Traject, tid)
    if traject is None or footage.platform_of(traject) != platform_id:
        raise Forbidden("administer")
    return traject


@bp.post("/api/admin/privacy/holds")
@bp.post("/privacy/admin/holds", endpoint="hold_form")
def place_hold() -> Any:
    viewer, platform_id = _admin()
    form = _form()
    traject = _school_traject(platform_id, form.get("traject_id"))
    hold = privacy.place_hold(
        traject.id, viewer.user_id, form.get("reason"), platform_id=platform_id,
        launch_id=viewer.launch.id,
    )  # fmt: skip
    db.session.commit()
    if is_api_request():
        return jsonify(id=hold.id, traject_id=traject.id), 201
    return _back("privacy.admin_page")


@bp.post("/api/admin/privacy/holds/<int:hold_id>/lift")
@bp.post("/privacy/admin/holds/<int:hold_id>/lift", endpoint="lift_hold_form")
def lift_hold(hold_id: int) -> Any:
    viewer, platform_id = _admin()
    hold = db.session.get(LegalHold, hold_id)
    if hold is None:
        raise Forbidden("administer")
    _school_traject(platform_id, hold.traject_id)
    privacy.lift_hold(hold, viewer.user_id, platform_id=platform_id, launch_id=viewer.launch.id)
    db.session.commit()
    if is_api_request():
        return jsonify(id=hold.id, lifted=True)
    return _back("privacy.admin_page")


def _school_person(platform_id: int, user_id: int) -> User:
    if user_id not in {u.id for u in _school_people(platform_id)}:
        raise Forbidden("administer")
    user = db.session.get(User, user_id)
    assert user is not None
    return user


@bp.get("/privacy/admin/people/<int:user_id>/erase")
def erase_page(user_id: int) -> str:
    viewer, platform_id = _admin()
    person = _school_person(platform_id, user_id)
    return render_template(
        "privacy/erase.html",
        person=person,
        preview=subject.erasure_preview(person.id),
        launch_token=viewer.token,
        result=None,
    )


@bp.post("/api/admin/privacy/people/<int:user_id>/erase")
@bp.post("/privacy/admin/people/<int:user_id>/erase", endpoint="erase_form")
def erase(user_id: int) -> Any:
    viewer, platform_id = _admin()
    person = _school_person(platform_id, user_id)
    if person.id == viewer.user_id:
        raise privacy.PrivacyRefused("self", _l("You cannot erase yourself."))
    if _form().get("confirm") not in (True, "1", "on", "yes", "true"):
        raise privacy.PrivacyRefused("confirm", _l("Confirm the erasure."), "confirm")
    try:
        result = subject.erase_person(
            person.id, viewer.user_id, launch_id=viewer.launch.id, platform_id=platform_id
        )
    except subject.ErasureRefused as exc:
        db.session.rollback()
        raise privacy.PrivacyRefused(
            "order", _l("A legal hold applies to this person's footage: lift it first.")
        ) from exc
    db.session.commit()
    if is_api_request():
        return jsonify(user_id=person.id, removed=result.removed, kept=result.kept)
    return render_template(
        "privacy/erase.html", person=person, preview=None, launch_token=viewer.token,
        result=result,
    )  # fmt: skip


# --- the privacy officer's page ---------------------------------------------------------------


@bp.get("/privacy")
def officer_page() -> str:
    """What the tool stores, where, how long, who sees it, and the processors: the input for
    the school's DPIA and processing agreement. Public: it names no person."""
    settings = current_app.config["BEELDCOACH"]
    viewer = current_viewer()
    policy = _policy_json(viewer.course.platform_id) if viewer and viewer.course else None
    return render_template(
        "privacy/officer.html",
        settings=settings,
        policy=policy or _policy_json(0),
        events=audit.EVENTS,
        is_admin=bool(viewer and ROLE_ADMIN in viewer.course_roles),
    )
