"""Sign-in after a validated launch: upsert the person, the course and the membership."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from lti_tool.db import db, insert_or_ignore, utcnow
from lti_tool.launch.claims import LaunchClaims
from lti_tool.launch.models import Deployment, Launch, Platform
from lti_tool.people.models import Course, Membership, User


def sign_in(
    platform: Platform,
    deployment: Deployment,
    claims: LaunchClaims,
    body: dict[str, Any],
    launch_ttl: int,
) -> Launch:
    """Record who launched, from which course, with which roles (flushes, no commit)."""
    now = utcnow()
    insert_or_ignore(User, issuer=claims.issuer, sub=claims.sub, created_at=now)
    user = db.session.scalars(
        sa.select(User).where(User.issuer == claims.issuer, User.sub == claims.sub)
    ).one()
    # Only overwrite what the platform sent: name and email may be withheld by the admin.
    for attr in ("name", "given_name", "family_name", "email", "locale"):
        value = getattr(claims, attr)
        if value:
            setattr(user, attr, str(value)[:255])
    user.last_launch_at = now

    course = None
    if claims.context_id is not None:
        insert_or_ignore(
            Course,
            platform_id=platform.id,
            deployment_pk=deployment.id,
            context_id=claims.context_id[:255],
            created_at=now,
        )
        course = db.session.scalars(
            sa.select(Course).where(
                Course.deployment_pk == deployment.id,
                Course.context_id == claims.context_id[:255],
            )
        ).one()
        course.title = claims.context_title or course.title
        course.label = claims.context_label or course.label
        insert_or_ignore(
            Membership,
            user_id=user.id,
            course_id=course.id,
            roles=[],
            lti_roles=[],
            last_launch_at=now,
            created_at=now,
        )
        membership = db.session.scalars(
            sa.select(Membership).where(
                Membership.user_id == user.id, Membership.course_id == course.id
            )
        ).one()
        membership.roles = list(claims.roles)
        membership.lti_roles = list(claims.lti_roles)
        membership.last_launch_at = now

    launch = Launch(
        id=secrets.token_urlsafe(24),
        platform_id=platform.id,
        deployment_pk=deployment.id,
        user_id=user.id,
        course_id=course.id if course else None,
        message_type=claims.message_type,
        roles=list(claims.roles),
        claims=body,
        created_at=now,
        expires_at=now + timedelta(seconds=launch_ttl),
    )
    db.session.add(launch)
    db.session.flush()
    if course is not None:
        # Outcomes hook: keep the AGS/NRPS endpoints of this course and resource link, and
        # refresh a stale roster (lti_tool.outcomes.services.remember_launch).
        from lti_tool.outcomes.services import remember_launch

        remember_launch(course.id, user.id, body)
    return launch
