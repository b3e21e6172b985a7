"""The coaching traject: participants, intake, development question history, cycles, viewing
guides (kijkwijzers), markers, action points and the final review."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lti_tool.db import Base, TimestampMixin
from lti_tool.privacy.access import (  # noqa: F401 - re-exported for the cycles package
    KIND_CHILD,
    KIND_TEACHER,
    KIND_TEAM,
    KINDS,
    P_COACH,
    P_EXTERNAL,
    P_MANAGEMENT,
    P_PARENT,
    P_TEACHER,
    P_TEAM_MEMBER,
    PARTICIPANT_ROLES,
)

# Traject status: intake -> cycles -> final -> completed.
STATUS_INTAKE = "intake"
STATUS_CYCLES = "cycles"
STATUS_FINAL = "final"
STATUS_COMPLETED = "completed"

SECTIONS = ("onderbouw", "middenbouw", "bovenbouw")
DOMAINS = ("interactie", "klassenmanagement", "didactiek")

# Cycle steps, in order.
CYCLE_STEPS = ("planned", "recorded", "analysed", "shared", "prepared", "discussed", "closed")

MARKER_KINDS = ("strength", "opportunity", "question")
ACTION_POINT_STATUSES = ("planned", "tried", "established")
GOAL_REACHED = ("yes", "partly", "no")


class Traject(TimestampMixin, Base):
    __tablename__ = "trajects"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(
        sa.ForeignKey("courses.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(sa.String(16))
    title: Mapped[str] = mapped_column(sa.String(200))
    status: Mapped[str] = mapped_column(sa.String(16), default=STATUS_INTAKE)
    section: Mapped[str | None] = mapped_column(sa.String(16))  # team traject, optional
    # Child traject: the pupil by pseudonym or code, never required by full name.
    pupil_code: Mapped[str | None] = mapped_column(sa.String(64))
    planned_cycles: Mapped[int] = mapped_column(default=3)
    created_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    closed_early_reason: Mapped[str | None] = mapped_column(sa.Text)
    completed_at: Mapped[datetime | None]

    participants: Mapped[list[Participant]] = relationship(
        back_populates="traject", cascade="all, delete-orphan", passive_deletes=True
    )
    intake: Mapped[Intake | None] = relationship(
        back_populates="traject", cascade="all, delete-orphan", passive_deletes=True
    )
    cycles: Mapped[list[Cycle]] = relationship(
        back_populates="traject",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="Cycle.number",
    )
    questions: Mapped[list[DevelopmentQuestion]] = relationship(
        back_populates="traject",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="DevelopmentQuestion.version",
    )
    final_review: Mapped[FinalReview | None] = relationship(
        back_populates="traject", cascade="all, delete-orphan", passive_deletes=True
    )


class Participant(TimestampMixin, Base):
    __tablename__ = "participants"
    __table_args__ = (sa.UniqueConstraint("traject_id", "user_id", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    traject_id: Mapped[int] = mapped_column(
        sa.ForeignKey("trajects.id", ondelete="CASCADE"), index=True
    )
    # Parents and externals may have no account in the platform: then only a name is kept.
    user_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    display_name: Mapped[str | None] = mapped_column(sa.String(200))
    role: Mapped[str] = mapped_column(sa.String(16))
    added_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    traject: Mapped[Traject] = relationship(back_populates="participants")


class Intake(TimestampMixin, Base):
    __tablename__ = "intakes"

    id: Mapped[int] = mapped_column(primary_key=True)
    traject_id: Mapped[int] = mapped_column(
        sa.ForeignKey("trajects.id", ondelete="CASCADE"), unique=True
    )
    help_question: Mapped[str] = mapped_column(sa.Text, default="")
    arrangements: Mapped[str] = mapped_column(sa.Text, default="")
    conditions: Mapped[str] = mapped_column(sa.Text, default="")
    planned_dates: Mapped[str] = mapped_column(sa.Text, default="")
    intake_on: Mapped[date | None]
    completed_at: Mapped[datetime | None]

    traject: Mapped[Traject] = relationship(back_populates="intake")


class DevelopmentQuestion(TimestampMixin, Base):
    """Every wording of the development question, kept: refined after conversations."""

    __tablename__ = "development_questions"
    __table_args__ = (sa.UniqueConstraint("traject_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    traject_id: Mapped[int] = mapped_column(
        sa.ForeignKey("trajects.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int]
    text: Mapped[str] = mapped_column(sa.Text)
    author_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    # The teacher leads: a coach's wording counts once the teacher approves it.
    approved_at: Mapped[datetime | None]
    approved_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    after_cycle: Mapped[int | None]  # refined after the conversation of this cycle number

    traject: Mapped[Traject] = relationship(back_populates="questions")


class Cycle(TimestampMixin, Base):
    __tablename__ = "cycles"
    __table_args__ = (sa.UniqueConstraint("traject_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    traject_id: Mapped[int] = mapped_column(
        sa.ForeignKey("trajects.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int]
    step: Mapped[str] = mapped_column(sa.String(16), default="planned")
    focus: Mapped[str] = mapped_column(sa.Text, default="")
    filming_on: Mapped[date | None]
    recorded_at: Mapped[datetime | None]
    analysis_notes: Mapped[str] = mapped_column(sa.Text, default="")
    analysed_at: Mapped[datetime | None]
    shared_at: Mapped[datetime | None]
    prepared_at: Mapped[datetime | None]
    conversation_on: Mapped[date | None]
    conversation_notes: Mapped[str] = mapped_column(sa.Text, default="")
    discussed_at: Mapped[datetime | None]
    next_filming_on: Mapped[date | None]
    closed_at: Mapped[datetime | None]

    traject: Mapped[Traject] = relationship(back_populates="cycles")
    viewing_guide: Mapped[ViewingGuide | None] = relationship(
        back_populates="cycle", cascade="all, delete-orphan", passive_deletes=True
    )


class ViewingGuideTemplate(TimestampMixin, Base):
    """A kijkwijzer template: per school (course's platform) or copied per traject."""

    __tablename__ = "viewing_guide_templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("platforms.id", ondelete="CASCADE"), index=True
    )
    traject_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("trajects.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(sa.String(200))
    # [{"key": "q1", "kind": "text|scale|checklist|timecode|readonly_question",
    #   "label": "...", "options": [...], "scale": [1, 5]}]
    questions: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON)


class ViewingGuide(TimestampMixin, Base):
    """The teacher's answers for one cycle, against a frozen copy of the questions."""

    __tablename__ = "viewing_guides"

    id: Mapped[int] = mapped_column(primary_key=True)
    cycle_id: Mapped[int] = mapped_column(
        sa.ForeignKey("cycles.id", ondelete="CASCADE"), unique=True
    )
    author_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    questions: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON)
    answers: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    submitted_at: Mapped[datetime | None]

    cycle: Mapped[Cycle] = relationship(back_populates="viewing_guide")


class MarkerTag(TimestampMixin, Base):
    """The editable set of interaction principles (per platform = school)."""

    __tablename__ = "marker_tags"
    __table_args__ = (sa.UniqueConstraint("platform_id", "label"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(
        sa.ForeignKey("platforms.id", ondelete="CASCADE"), index=True
    )
    label: Mapped[str] = mapped_column(sa.String(120))
    is_active: Mapped[bool] = mapped_column(default=True)


class Marker(TimestampMixin, Base):
    """A moment of strength, an opportunity or a question, at a time code or segment."""

    __tablename__ = "markers"

    id: Mapped[int] = mapped_column(primary_key=True)
    cycle_id: Mapped[int] = mapped_column(
        sa.ForeignKey("cycles.id", ondelete="CASCADE"), index=True
    )
    # What it points at: a recording or a montage (media issue); kept as kind + id.
    media_kind: Mapped[str | None] = mapped_column(sa.String(16))
    media_id: Mapped[int | None]
    start_ms: Mapped[int | None]
    end_ms: Mapped[int | None]
    kind: Mapped[str] = mapped_column(sa.String(16))
    text: Mapped[str] = mapped_column(sa.Text)
    teacher_words: Mapped[str] = mapped_column(sa.Text, default="")
    tags: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    domain: Mapped[str | None] = mapped_column(sa.String(32))
    author_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))


class ActionPoint(TimestampMixin, Base):
    """Agreed in a conversation; carried into the next cycle with its status."""

    __tablename__ = "action_points"

    id: Mapped[int] = mapped_column(primary_key=True)
    traject_id: Mapped[int] = mapped_column(
        sa.ForeignKey("trajects.id", ondelete="CASCADE"), index=True
    )
    cycle_id: Mapped[int] = mapped_column(sa.ForeignKey("cycles.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.String(16), default="planned")
    author_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    status_changed_at: Mapped[datetime | None]


class FinalReview(TimestampMixin, Base):
    """The final conversation: separate preparations, then joint conclusions."""

    __tablename__ = "final_reviews"

    id: Mapped[int] = mapped_column(primary_key=True)
    traject_id: Mapped[int] = mapped_column(
        sa.ForeignKey("trajects.id", ondelete="CASCADE"), unique=True
    )
    teacher_preparation: Mapped[str] = mapped_column(sa.Text, default="")
    teacher_prepared_at: Mapped[datetime | None]
    coach_preparation: Mapped[str] = mapped_column(sa.Text, default="")
    coach_prepared_at: Mapped[datetime | None]
    goal_reached: Mapped[str | None] = mapped_column(sa.String(8))
    how_it_came_about: Mapped[str] = mapped_column(sa.Text, default="")
    # {"interactie": "...", "klassenmanagement": "...", "didactiek": "..."}
    yield_per_domain: Mapped[dict[str, str]] = mapped_column(sa.JSON, default=dict)
    visible_in_marker_ids: Mapped[list[int]] = mapped_column(sa.JSON, default=list)
    teacher_evaluation: Mapped[str] = mapped_column(sa.Text, default="")
    coach_reflection: Mapped[str] = mapped_column(sa.Text, default="")
    follow_up: Mapped[str] = mapped_column(sa.Text, default="")
    concluded_at: Mapped[datetime | None]

    traject: Mapped[Traject] = relationship(back_populates="final_review")
