"""Privacy records: consent, "niet filmen" objections, footage ownership and checks, releases,
the append-only audit log, per-school privacy policy (retention, downloads), legal holds,
deletion records, retention runs, data exports and the rate limiter's counters.

Footage and traject rows are referred to by id; audit events and deletion records carry no
foreign keys at all, so that they outlive what they describe (that is their purpose).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from lti_tool.db import Base, TimestampMixin, utcnow

# Who gave consent: the parents for a pupil under 16, the pupil from 16 (AVG art. 8, UAVG 5).
GIVEN_BY_PARENT = "parent"
GIVEN_BY_PUPIL = "pupil"
GIVERS = (GIVEN_BY_PARENT, GIVEN_BY_PUPIL)

# The coach's check of one recording or montage against the course's "niet filmen" flags.
CHECK_CLEAR = "clear"  # no flagged pupil is recognisable
CHECK_REDACT = "redact"  # a flagged pupil is recognisable: no sharing beyond teacher and coach
CHECKS = (CHECK_CLEAR, CHECK_REDACT)

EXPORT_QUEUED = "queued"
EXPORT_RUNNING = "running"
EXPORT_READY = "ready"
EXPORT_FAILED = "failed"


class Consent(TimestampMixin, Base):
    """Consent for the pupil of a child traject: who gave it, when, for which scopes, the
    evidence, and its withdrawal. Rows are never edited except to record a withdrawal."""

    __tablename__ = "consents"

    id: Mapped[int] = mapped_column(primary_key=True)
    traject_id: Mapped[int] = mapped_column(
        sa.ForeignKey("trajects.id", ondelete="CASCADE"), index=True
    )
    given_by: Mapped[str] = mapped_column(sa.String(16))  # parent | pupil
    given_by_name: Mapped[str] = mapped_column(sa.String(200), default="")
    pupil_is_16_or_older: Mapped[bool] = mapped_column(default=False)
    given_on: Mapped[date]
    # Subset of privacy.access.CONSENT_SCOPES.
    scopes: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    evidence_note: Mapped[str] = mapped_column(sa.Text, default="")
    evidence_key: Mapped[str | None] = mapped_column(sa.String(255))  # an uploaded form
    evidence_name: Mapped[str | None] = mapped_column(sa.String(255))
    recorded_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    withdrawn_at: Mapped[datetime | None]
    withdrawn_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    withdrawal_note: Mapped[str] = mapped_column(sa.Text, default="")


class Objection(TimestampMixin, Base):
    """A pupil flagged "niet filmen" in a course, by pseudonym or code (never required by name)."""

    __tablename__ = "objections"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(
        sa.ForeignKey("courses.id", ondelete="CASCADE"), index=True
    )
    pupil_code: Mapped[str] = mapped_column(sa.String(64))
    note: Mapped[str] = mapped_column(sa.Text, default="")
    flagged_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    flagged_at: Mapped[datetime] = mapped_column(default=utcnow)
    lifted_at: Mapped[datetime | None]
    lifted_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))


class FootagePrivacy(TimestampMixin, Base):
    """Per recording or montage: whose footage it is (a team traject's filmed member; in other
    trajects the traject's teacher) and the coach's check against "niet filmen" flags."""

    __tablename__ = "footage_privacy"
    __table_args__ = (sa.UniqueConstraint("item_kind", "item_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_kind: Mapped[str] = mapped_column(sa.String(16))  # recording | montage
    item_id: Mapped[int]
    filmed_user_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    check_status: Mapped[str | None] = mapped_column(sa.String(16))
    check_note: Mapped[str] = mapped_column(sa.Text, default="")
    checked_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    checked_at: Mapped[datetime | None]


class Release(TimestampMixin, Base):
    """The filmed teacher releases one recording or montage to a named audience, for a
    limited time, revocable."""

    __tablename__ = "releases"

    id: Mapped[int] = mapped_column(primary_key=True)
    traject_id: Mapped[int] = mapped_column(
        sa.ForeignKey("trajects.id", ondelete="CASCADE"), index=True
    )
    item_kind: Mapped[str] = mapped_column(sa.String(16))
    item_id: Mapped[int] = mapped_column(index=True)
    audience: Mapped[str] = mapped_column(sa.String(16))  # team | management | parents | external
    # One named person of that audience; None: everyone holding the audience's role.
    participant_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("participants.id", ondelete="CASCADE")
    )
    released_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    revoked_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    revoke_reason: Mapped[str | None] = mapped_column(sa.String(32))


class AuditEvent(Base):
    """Append-only (database triggers refuse UPDATE and DELETE): who did what to which item,
    when, from which launch. Ids only; no names, no footage, no tokens."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    event: Mapped[str] = mapped_column(sa.String(40), index=True)
    actor_id: Mapped[int | None] = mapped_column(index=True)  # no FK: outlives the person
    launch_id: Mapped[str | None] = mapped_column(sa.String(64))
    platform_id: Mapped[int | None] = mapped_column(index=True)
    traject_id: Mapped[int | None] = mapped_column(index=True)
    item_kind: Mapped[str | None] = mapped_column(sa.String(16))
    item_id: Mapped[int | None]
    # The filmed teacher whose footage this is: "who watched my footage" reads by it.
    owner_id: Mapped[int | None] = mapped_column(index=True)
    detail: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)


class PrivacyPolicy(TimestampMixin, Base):
    """A school's (platform's) privacy settings, set by its administrator. Days None: the rule
    is off. No row: the defaults (privacy.retention.DEFAULTS)."""

    __tablename__ = "privacy_policies"

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(
        sa.ForeignKey("platforms.id", ondelete="CASCADE"), unique=True
    )
    # Always written together by privacy.services.save_policy (None: the rule is off).
    raw_days_after_share: Mapped[int | None]
    footage_days_after_final: Mapped[int | None]
    coach_downloads: Mapped[bool] = mapped_column(default=False)
    updated_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    updated_at: Mapped[datetime | None]


class LegalHold(TimestampMixin, Base):
    """Nothing of a traject is deleted while a hold is in place (a complaint, a court case)."""

    __tablename__ = "legal_holds"

    id: Mapped[int] = mapped_column(primary_key=True)
    traject_id: Mapped[int] = mapped_column(
        sa.ForeignKey("trajects.id", ondelete="RESTRICT"), index=True
    )
    reason: Mapped[str] = mapped_column(sa.Text)
    placed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    lifted_at: Mapped[datetime | None]
    lifted_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))


class DeletionRecord(Base):
    """That an item was deleted, why and under which rule: ids and counts, never footage."""

    __tablename__ = "deletion_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    reason: Mapped[str] = mapped_column(sa.String(32))
    item_kind: Mapped[str] = mapped_column(sa.String(16))
    item_id: Mapped[int]
    traject_id: Mapped[int | None]
    platform_id: Mapped[int | None] = mapped_column(index=True)
    due_at: Mapped[datetime | None]
    files_deleted: Mapped[int] = mapped_column(default=0)
    run_id: Mapped[int | None]
    actor_id: Mapped[int | None]


class RetentionRun(Base):
    """One run of the retention job. `lock` is set while it runs (unique: one at a time)."""

    __tablename__ = "retention_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    lock: Mapped[str | None] = mapped_column(sa.String(16), unique=True)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(sa.String(16), default="running")
    planned: Mapped[int] = mapped_column(default=0)
    deleted: Mapped[int] = mapped_column(default=0)
    held: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(sa.Text)


class DataExport(TimestampMixin, Base):
    """A person's export of everything the tool holds about them: built by a task into one
    zip in storage, downloadable by that person only, deleted when it expires."""

    __tablename__ = "data_exports"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(sa.String(16), default=EXPORT_QUEUED)
    key: Mapped[str | None] = mapped_column(sa.String(255))
    size: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    files: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(sa.String(64))
    ready_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]


class RateLimitHit(Base):
    """The database-backed rate limiter's fixed-window counters (when the broker is not
    Redis). Rows of past windows are purged by the daily retention job."""

    __tablename__ = "rate_limit_hits"

    key: Mapped[str] = mapped_column(sa.String(160), primary_key=True)
    window: Mapped[int] = mapped_column(index=True)  # epoch minute
    count: Mapped[int] = mapped_column(default=0)
