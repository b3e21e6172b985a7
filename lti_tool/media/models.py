"""Uploads (tus), recordings with their renditions and segments, and montages."""

from __future__ import annotations

from datetime import datetime
from fractions import Fraction
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lti_tool.db import Base, TimestampMixin

# A recording's life: its original is stored, then processed; "rejected" means the file is
# not usable video (kept, so nothing the coach sent is lost, until they remove it).
REC_PROCESSING = "processing"
REC_READY = "ready"
REC_FAILED = "failed"  # processing failed: retryable
REC_REJECTED = "rejected"  # probing refused the file: not retryable

MONTAGE_DRAFT = "draft"
MONTAGE_RENDERING = "rendering"
MONTAGE_READY = "ready"
MONTAGE_FAILED = "failed"


class Upload(TimestampMixin, Base):
    """A resumable (tus) upload in progress: the bytes live in the staging folder under its
    id; the file's size there is the offset (it survives a server restart)."""

    __tablename__ = "uploads"

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    cycle_id: Mapped[int] = mapped_column(
        sa.ForeignKey("cycles.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    length: Mapped[int] = mapped_column(sa.BigInteger)
    filename: Mapped[str] = mapped_column(sa.String(255), default="")
    filetype: Mapped[str] = mapped_column(sa.String(100), default="")
    expires_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]
    recording_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("recordings.id", ondelete="SET NULL")
    )


class Recording(TimestampMixin, Base):
    """A classroom recording of one cycle. The original is never modified; the web rendition,
    its segments, poster and thumbnails are derived from it."""

    __tablename__ = "recordings"

    id: Mapped[int] = mapped_column(primary_key=True)
    cycle_id: Mapped[int] = mapped_column(
        sa.ForeignKey("cycles.id", ondelete="CASCADE"), index=True
    )
    uploaded_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    original_name: Mapped[str] = mapped_column(sa.String(255), default="")
    original_key: Mapped[str] = mapped_column(sa.String(255))
    size: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    status: Mapped[str] = mapped_column(sa.String(16), default=REC_PROCESSING)
    error_code: Mapped[str | None] = mapped_column(sa.String(32))
    probe: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    mode: Mapped[str | None] = mapped_column(sa.String(16))  # remux | reencode
    reasons: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    duration_ms: Mapped[int | None]
    fps_num: Mapped[int | None]
    fps_den: Mapped[int | None]
    frame_count: Mapped[int | None]
    width: Mapped[int | None]
    height: Mapped[int | None]
    has_audio: Mapped[bool] = mapped_column(default=False)
    rendition_key: Mapped[str | None] = mapped_column(sa.String(255))
    poster_key: Mapped[str | None] = mapped_column(sa.String(255))
    thumbs_vtt_key: Mapped[str | None] = mapped_column(sa.String(255))
    segment_count: Mapped[int] = mapped_column(default=0)
    job_id: Mapped[int | None] = mapped_column(sa.ForeignKey("jobs.id", ondelete="SET NULL"))
    ready_at: Mapped[datetime | None]

    segments: Mapped[list[Segment]] = relationship(
        back_populates="recording", order_by="Segment.index", cascade="all, delete-orphan"
    )

    @property
    def fps(self) -> Fraction | None:
        if not self.fps_num or not self.fps_den:
            return None
        return Fraction(self.fps_num, self.fps_den)


class Segment(Base):
    """One independently encoded piece of a re-encoded rendition: played (HLS) as soon as it
    is ready, encoded by whichever worker takes it, joined into the MP4 when all are ready."""

    __tablename__ = "recording_segments"
    __table_args__ = (sa.UniqueConstraint("recording_id", "index"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    recording_id: Mapped[int] = mapped_column(
        sa.ForeignKey("recordings.id", ondelete="CASCADE"), index=True
    )
    index: Mapped[int]
    start_ms: Mapped[int]
    duration_ms: Mapped[int]
    key: Mapped[str | None] = mapped_column(sa.String(255))
    ready_at: Mapped[datetime | None]
    # The task (Celery task id) encoding it: a duplicate message for the same segment skips
    # it, the same message redelivered after a killed worker takes it up again.
    claimed_by: Mapped[str | None] = mapped_column(sa.String(64))
    claimed_at: Mapped[datetime | None]

    recording: Mapped[Recording] = relationship(back_populates="segments")


class Montage(TimestampMixin, Base):
    """The coach's edit of one cycle: an ordered list of clips rendered into one video."""

    __tablename__ = "montages"

    id: Mapped[int] = mapped_column(primary_key=True)
    cycle_id: Mapped[int] = mapped_column(
        sa.ForeignKey("cycles.id", ondelete="CASCADE"), index=True
    )
    created_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    title: Mapped[str] = mapped_column(sa.String(200), default="")
    # [{"recording_id": 1, "in_ms": 0, "out_ms": 5000, "caption": "..."}]
    clips: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list)
    fade: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(sa.String(16), default=MONTAGE_DRAFT)
    error_code: Mapped[str | None] = mapped_column(sa.String(32))
    # What the current rendition was made from (clips may be edited after a render).
    rendered_clips: Mapped[list[dict[str, Any]] | None] = mapped_column(sa.JSON)
    render_version: Mapped[int] = mapped_column(default=0)
    rendition_key: Mapped[str | None] = mapped_column(sa.String(255))
    poster_key: Mapped[str | None] = mapped_column(sa.String(255))
    duration_ms: Mapped[int | None]
    fps_num: Mapped[int | None]
    fps_den: Mapped[int | None]
    frame_count: Mapped[int | None]
    width: Mapped[int | None]
    height: Mapped[int | None]
    job_id: Mapped[int | None] = mapped_column(sa.ForeignKey("jobs.id", ondelete="SET NULL"))
    shared_at: Mapped[datetime | None]

    @property
    def fps(self) -> Fraction | None:
        if not self.fps_num or not self.fps_den:
            return None
        return Fraction(self.fps_num, self.fps_den)
