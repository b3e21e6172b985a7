"""Looking people up within a course: those who launched it, and those on its roster (NRPS)."""

from __future__ import annotations

import sqlalchemy as sa

from lti_tool.db import db
from lti_tool.people.models import Membership, User


def course_members(course_id: int, role: str | None = None) -> list[User]:
    """People of the course to choose from (from launches and from the platform's roster),
    optionally only those holding a Beeldcoach role. People the roster marks as having left
    the course are not offered (they stay in their trajects, marked on the roster page)."""
    # The roster lives in the outcomes package; imported here, not at the top, because
    # outcomes builds on people (lti_tool.outcomes.services.course_roster marks who left).
    from lti_tool.outcomes.models import CourseRoster, RosterMember

    left = (
        sa.select(RosterMember.user_id)
        .join(CourseRoster, CourseRoster.id == RosterMember.roster_id)
        .where(CourseRoster.course_id == course_id, RosterMember.left_at.is_not(None))
    )
    rows = db.session.execute(
        sa.select(User, Membership.roles)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.course_id == course_id, User.id.not_in(left))
        .order_by(User.name, User.id)
    ).all()
    return [user for user, roles in rows if role is None or role in (roles or [])]
