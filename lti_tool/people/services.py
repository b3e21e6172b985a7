"""Looking people up within a course (the roster issue later adds NRPS as a source)."""

from __future__ import annotations

import sqlalchemy as sa

from lti_tool.db import db
from lti_tool.people.models import Membership, User


def course_members(course_id: int, role: str | None = None) -> list[User]:
    """People who launched the course, optionally only those holding a Beeldcoach role."""
    rows = db.session.execute(
        sa.select(User, Membership.roles)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.course_id == course_id)
        .order_by(User.name, User.id)
    ).all()
    return [user for user, roles in rows if role is None or role in (roles or [])]
