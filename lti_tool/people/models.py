"""Users keyed by (issuer, sub); courses by (platform, deployment, context); memberships."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lti_tool.db import Base, TimestampMixin, utcnow

#: Beeldcoach roles, in order of precedence when one is shown.
ROLE_ADMIN = "admin"
ROLE_COACH = "coach"
ROLE_TEACHER = "teacher"
ROLES = (ROLE_ADMIN, ROLE_COACH, ROLE_TEACHER)


class User(TimestampMixin, Base):
    __tablename__ = "users"
    __table_args__ = (sa.UniqueConstraint("issuer", "sub"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    issuer: Mapped[str] = mapped_column(sa.String(255))
    sub: Mapped[str] = mapped_column(sa.String(255))
    # Name and email are optional: Moodle sends them only when the admin shares them.
    name: Mapped[str | None] = mapped_column(sa.String(255))
    given_name: Mapped[str | None] = mapped_column(sa.String(255))
    family_name: Mapped[str | None] = mapped_column(sa.String(255))
    email: Mapped[str | None] = mapped_column(sa.String(255))
    locale: Mapped[str | None] = mapped_column(sa.String(16))
    last_launch_at: Mapped[datetime | None]

    memberships: Mapped[list[Membership]] = relationship(back_populates="user")

    @property
    def display_name(self) -> str:
        if self.name:
            return self.name
        full = " ".join(p for p in (self.given_name, self.family_name) if p)
        return full or f"#{self.id}"


class Course(TimestampMixin, Base):
    __tablename__ = "courses"
    __table_args__ = (sa.UniqueConstraint("deployment_pk", "context_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(sa.ForeignKey("platforms.id", ondelete="CASCADE"))
    deployment_pk: Mapped[int] = mapped_column(
        sa.ForeignKey("deployments.id", ondelete="CASCADE"), index=True
    )
    context_id: Mapped[str] = mapped_column(sa.String(255))
    # Moodle allows course full names of 1333 characters.
    title: Mapped[str | None] = mapped_column(sa.Text)
    label: Mapped[str | None] = mapped_column(sa.Text)

    memberships: Mapped[list[Membership]] = relationship(back_populates="course")


class Membership(TimestampMixin, Base):
    __tablename__ = "memberships"
    __table_args__ = (sa.UniqueConstraint("user_id", "course_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    course_id: Mapped[int] = mapped_column(
        sa.ForeignKey("courses.id", ondelete="CASCADE"), index=True
    )
    roles: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    lti_roles: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    last_launch_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship(back_populates="memberships")
    course: Mapped[Course] = relationship(back_populates="memberships")

    def has_role(self, role: str) -> bool:
        return role in (self.roles or [])


def as_dict(user: User) -> dict[str, Any]:
    return {"id": user.id, "name": user.display_name, "email": user.email}
