"""Who is asking, for pages and the JSON API alike, and how refusals are answered."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, jsonify, render_template, request

from lti_tool.cycles.services import StepRefused
from lti_tool.db import MAX_ID, db
from lti_tool.launch.errors import REASONS, LaunchRefused
from lti_tool.launch.models import Launch
from lti_tool.launch.session import api_token, current_launch
from lti_tool.people.models import ROLE_COACH, Course, Membership, User
from lti_tool.privacy.access import Forbidden


@dataclass(frozen=True)
class Viewer:
    """The person behind this request, from their launch: user, course and course roles."""

    launch: Launch
    user: User
    course: Course | None
    course_roles: tuple[str, ...]

    @property
    def user_id(self) -> int:
        return self.user.id

    @property
    def is_course_coach(self) -> bool:
        return ROLE_COACH in self.course_roles

    @property
    def token(self) -> str:
        """The API token for the page's own scripts and forms (see launch/session.py)."""
        return api_token(self.launch)


def is_api_request() -> bool:
    return request.path.startswith("/api/")


def current_viewer() -> Viewer | None:
    launch = current_launch()
    if launch is None:
        return None
    user = db.session.get(User, launch.user_id)
    if user is None:
        return None
    course = db.session.get(Course, launch.course_id) if launch.course_id else None
    roles: tuple[str, ...] = tuple(launch.roles or ())
    if course is not None:
        membership = (
            db.session.query(Membership)
            .filter_by(user_id=user.id, course_id=course.id)
            .one_or_none()
        )
        if membership is not None:
            roles = tuple(membership.roles or ())
    return Viewer(launch=launch, user=user, course=course, course_roles=roles)


class NotSignedIn(Exception):
    pass


def require_viewer() -> Viewer:
    viewer = current_viewer()
    if viewer is None:
        raise NotSignedIn()
    return viewer


def register_error_handlers(app: Flask) -> None:
    """Refusals become a page in the person's language, or JSON under /api/."""

    @app.url_value_preprocessor
    def ids_fit_the_database(endpoint: str | None, values: dict[str, Any] | None) -> None:
        """An id beyond a database integer names nothing: refuse it like any unknown id
        (PostgreSQL would otherwise fail on it with a 500)."""
        for value in (values or {}).values():
            if isinstance(value, int) and not 0 <= value <= MAX_ID:
                raise Forbidden("view")

    @app.errorhandler(NotSignedIn)
    def not_signed_in(exc: NotSignedIn) -> tuple[Response | str, int]:
        if is_api_request():
            return jsonify(
                error="not_authenticated", message=str(REASONS["session_expired"].explanation)
            ), 401
        return _refusal_page("session_expired")

    @app.errorhandler(Forbidden)
    def forbidden(exc: Forbidden) -> tuple[Response | str, int]:
        db.session.rollback()
        if is_api_request():
            return jsonify(error="forbidden", message=str(REASONS["forbidden"].explanation)), 403
        return _refusal_page("forbidden")

    @app.errorhandler(StepRefused)
    def step_refused(exc: StepRefused) -> tuple[Response | str, int]:
        """Views handle StepRefused themselves to re-render forms with what was typed; this is
        the fallback (and the API's answer)."""
        db.session.rollback()
        status = 422 if exc.code not in ("order", "forbidden") else 409
        if exc.code == "forbidden":
            status = 403
        if is_api_request():
            return jsonify(error=exc.code, message=str(exc.message), field=exc.field), status
        return render_template("web/step_refused.html", message=exc.message), status


def _refusal_page(code: str) -> tuple[str, int]:
    reason = REASONS[code]
    return (
        render_template("lti/refused.html", code=code, reason=reason, retry_url=None),
        reason.status,
    )


__all__ = [
    "LaunchRefused",
    "NotSignedIn",
    "Viewer",
    "current_viewer",
    "is_api_request",
    "register_error_handlers",
    "require_viewer",
]
