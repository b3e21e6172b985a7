"""Outcomes: POP contributions and their versions, LTI service endpoints, line items, the score
outbox, the course roster (NRPS) and cached service access tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lti_tool.db import Base, TimestampMixin, utcnow

# --- the POP contribution ------------------------------------------------------------------------

#: The competence domains of the Dutch teacher competence requirements (bekwaamheidseisen).
COMPETENCE_DOMAINS = ("pedagogisch", "vakdidactisch", "vakinhoudelijk")
#: The method's own domains (same as cycles.models.DOMAINS, named here for the POP's schema).
METHOD_DOMAINS = ("interactie", "klassenmanagement", "didactiek")


class PopContribution(TimestampMixin, Base):
    """A teacher's contribution to their POP from one traject: a series of versions.

    It outlives the traject (the content of every approved version is a frozen copy), so a
    deleted traject leaves the teacher's POP whole.
    """

    __tablename__ = "pop_contributions"
    __table_args__ = (sa.UniqueConstraint("traject_id", "teacher_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    traject_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("trajects.id", ondelete="SET NULL"), index=True
    )
    teacher_id: Mapped[int] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    # Kept for the POP page when the traject is gone.
    title: Mapped[str] = mapped_column(sa.String(200))
    # The teacher's manager, chosen by the teacher; None: nobody but the teacher sees it.
    manager_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    manager_changed_at: Mapped[datetime | None]

    versions: Mapped[list[PopVersion]] = relationship(
        back_populates="contribution",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="PopVersion.number",
    )

    @property
    def latest(self) -> PopVersion:
        return self.versions[-1]

    @property
    def approved(self) -> PopVersion | None:
        """The newest approved version: what the manager may see and the exports default to."""
        done = [v for v in self.versions if v.approved_at is not None]
        return done[-1] if done else None


class PopVersion(TimestampMixin, Base):
    """One version. A draft holds the teacher's edits and is shown merged with the traject as
    it stands; approval freezes the whole content. An approved version never changes again:
    a revision is a new version."""

    __tablename__ = "pop_versions"
    __table_args__ = (sa.UniqueConstraint("contribution_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    contribution_id: Mapped[int] = mapped_column(
        sa.ForeignKey("pop_contributions.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int]
    # What the teacher wrote or chose (goal, domains, reflection, evidence texts...).
    edits: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    # The frozen content, written once at approval (see outcomes/pop.py for its schema).
    content: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    approved_at: Mapped[datetime | None]
    approved_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    contribution: Mapped[PopContribution] = relationship(back_populates="versions")


# --- what launches tell about the platform's services --------------------------------------------


class ResourceLink(TimestampMixin, Base):
    """A resource link of a course as launches show it, with its service endpoints (AGS
    lineitems / lineitem / scopes, NRPS context_memberships_url) and what it opens."""

    __tablename__ = "resource_links"
    __table_args__ = (sa.UniqueConstraint("course_id", "resource_link_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(
        sa.ForeignKey("courses.id", ondelete="CASCADE"), index=True
    )
    resource_link_id: Mapped[str] = mapped_column(sa.String(255))
    title: Mapped[str | None] = mapped_column(sa.String(255))
    lineitems_url: Mapped[str | None] = mapped_column(sa.String(1024))
    lineitem_url: Mapped[str | None] = mapped_column(sa.String(1024))
    ags_scopes: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    memberships_url: Mapped[str | None] = mapped_column(sa.String(1024))
    # The traject a coach placed with this link (custom parameter beeldcoach_traject).
    traject_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("trajects.id", ondelete="SET NULL"), index=True
    )
    last_launch_at: Mapped[datetime] = mapped_column(default=utcnow)


class ServiceToken(TimestampMixin, Base):
    """An OAuth2 access token for a platform's services, shared by all processes until it
    expires (pylti1p3 caches tokens per connector object only)."""

    __tablename__ = "service_tokens"
    __table_args__ = (sa.Index("ix_service_tokens_platform_scopes", "platform_id", "scopes"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(sa.ForeignKey("platforms.id", ondelete="CASCADE"))
    scopes: Mapped[str] = mapped_column(sa.String(1024))  # sorted, space separated
    access_token: Mapped[str] = mapped_column(sa.Text)
    expires_at: Mapped[datetime]


# --- Assignment and Grade Services -------------------------------------------------------------


class LineItem(TimestampMixin, Base):
    """The traject's column in the platform's gradebook; also the per-traject send lock."""

    __tablename__ = "line_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    traject_id: Mapped[int] = mapped_column(
        sa.ForeignKey("trajects.id", ondelete="CASCADE"), unique=True
    )
    url: Mapped[str | None] = mapped_column(sa.String(1024))
    source: Mapped[str | None] = mapped_column(sa.String(16))  # deep_link | found | created
    # One sender per traject at a time: scores go out in order, the line item is made once.
    locked_until: Mapped[datetime | None]


# Outbox row states.
SCORE_PENDING = "pending"
SCORE_SENT = "sent"
SCORE_FAILED = "failed"


class ScoreSend(TimestampMixin, Base):
    """One score for the platform, written in the same transaction as the step that caused it
    and sent by a task after commit. `event` makes it unique: nothing is queued or sent twice."""

    __tablename__ = "score_sends"
    __table_args__ = (sa.UniqueConstraint("traject_id", "user_id", "event"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    traject_id: Mapped[int] = mapped_column(
        sa.ForeignKey("trajects.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(sa.String(32))  # started, cycle-2, completed, pop-v1
    # The score as sent (userId is filled from the user's platform id at send time).
    activity_progress: Mapped[str] = mapped_column(sa.String(16))
    grading_progress: Mapped[str] = mapped_column(sa.String(16))
    score_given: Mapped[float | None]
    score_maximum: Mapped[float | None]
    comment: Mapped[str | None] = mapped_column(sa.Text)
    # Strictly increasing per traject and user, whole seconds (Moodle compares seconds).
    timestamp: Mapped[datetime]
    status: Mapped[str] = mapped_column(sa.String(16), default=SCORE_PENDING, index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(sa.String(64))  # a reason code, shown translated
    error_detail: Mapped[str | None] = mapped_column(sa.Text)  # for the administrator's log
    sent_at: Mapped[datetime | None]
    http_status: Mapped[int | None]


# --- Names and Role Provisioning Services ------------------------------------------------------


class CourseRoster(TimestampMixin, Base):
    """The state of a course's roster refresh (a job row: queued, running, ready, failed)."""

    __tablename__ = "course_rosters"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(
        sa.ForeignKey("courses.id", ondelete="CASCADE"), unique=True
    )
    status: Mapped[str] = mapped_column(sa.String(16), default="queued")
    requested_at: Mapped[datetime | None]
    synced_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(sa.String(64))
    member_count: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]

    members: Mapped[list[RosterMember]] = relationship(
        back_populates="roster", cascade="all, delete-orphan", passive_deletes=True
    )


class RosterMember(TimestampMixin, Base):
    """Someone on a course's roster. People who left are marked (left_at), never deleted:
    trajects and POPs still name them."""

    __tablename__ = "roster_members"
    __table_args__ = (sa.UniqueConstraint("roster_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    roster_id: Mapped[int] = mapped_column(
        sa.ForeignKey("course_rosters.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    lti_roles: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    roles: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    left_at: Mapped[datetime | None]

    roster: Mapped[CourseRoster] = relationship(back_populates="members")
