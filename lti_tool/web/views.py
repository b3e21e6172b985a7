"""The tool's own pages after a launch, health, and the JSON API with its OpenAPI description."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Response, current_app, jsonify, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _

from lti_tool.db import db
from lti_tool.launch.errors import LaunchRefused
from lti_tool.launch.models import Launch
from lti_tool.launch.session import (
    api_token,
    current_launch,
    launch_from_start_token,
    remember_in_session,
)
from lti_tool.people.models import ROLE_ADMIN, ROLE_COACH, Course, User
from lti_tool.web.trajects import render_start, viewer_for_start

bp = Blueprint(
    "web", __name__, template_folder="templates", static_folder="static", static_url_path="/static"
)


@bp.get("/")
def index() -> str:
    settings = current_app.config["BEELDCOACH"]
    return render_template("web/index.html", demo=settings.demo_enabled)


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    try:
        db.session.execute(sa.text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - report any database failure as unhealthy
        return jsonify(status="error", database=type(exc).__name__), 503
    return jsonify(status="ok", database="ok"), 200


@bp.get("/start")
def start() -> str:
    """Where every launch lands: the start token becomes a session and an API token."""
    token = request.args.get("launch")
    launch = launch_from_start_token(token) if token else None
    if launch is not None:
        remember_in_session(launch)
        db.session.commit()
    else:
        # A reload after the one-time link was used: the session cookie, where it works.
        launch = current_launch()
    if launch is None:
        raise LaunchRefused("session_expired", "start without a valid launch")
    user = db.session.get(User, launch.user_id)
    course = db.session.get(Course, launch.course_id) if launch.course_id else None
    if launch.message_type == "LtiDeepLinkingRequest":
        if ROLE_COACH not in launch.roles:
            raise LaunchRefused("forbidden", "deep linking needs a coach")
        from lti_tool.launch.views import placeable_items

        return render_template(
            "lti/deep_link.html",
            launch=launch,
            user=user,
            course=course,
            items=placeable_items(launch),
            api_token=api_token(launch),
        )
    viewer = viewer_for_start(launch)
    # Outcomes issue: a placed "my POP" page or coach dashboard opens there.
    from lti_tool.web.pop import render_placed_page

    placed = render_placed_page(viewer)
    if placed is not None:
        return placed
    # The overview of the person's trajects (or the traject a coach placed in the course).
    return render_start(viewer, role=primary_role(launch))


def primary_role(launch: Launch) -> str:
    for role in (ROLE_COACH, "teacher", ROLE_ADMIN):
        if role in (launch.roles or []):
            return role
    return "guest"


def role_label(role: str) -> str:
    return {
        "coach": _("video coach"),
        "teacher": _("teacher"),
        "admin": _("administrator"),
        "guest": _("guest"),
    }.get(role, role)


def lang_url(code: str) -> str:
    """This page again in another language (GET pages only)."""
    args = {**(request.view_args or {}), **request.args.to_dict(), "lang": code}
    args.pop("launch", None)  # a one-time start link is never repeated in a link
    return url_for(request.endpoint or "web.index", **args)


@bp.app_context_processor
def inject_helpers() -> dict[str, Any]:
    return {"role_label": role_label, "lang_url": lang_url, "get_locale": get_locale}


# --- JSON API -----------------------------------------------------------------------------


def _require_launch() -> Launch:
    launch = current_launch()
    if launch is None:
        raise ApiError(401, "not_authenticated", _("Open Beeldcoach from your course first."))
    return launch


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@bp.app_errorhandler(ApiError)
def api_error(exc: ApiError) -> tuple[Response, int]:
    return jsonify(error=exc.code, message=exc.message), exc.status


@bp.get("/api/me")
def api_me() -> Response:
    launch = _require_launch()
    user = db.session.get(User, launch.user_id)
    course = db.session.get(Course, launch.course_id) if launch.course_id else None
    assert user is not None
    return jsonify(
        user={"id": user.id, "name": user.display_name, "email": user.email},
        roles=list(launch.roles or []),
        course=(
            {"id": course.id, "title": course.title, "label": course.label} if course else None
        ),
        expires_at=launch.expires_at.isoformat(),
    )


@bp.get("/api/openapi.json")
def openapi() -> Response:
    from lti_tool.web.openapi import spec

    return jsonify(spec())
