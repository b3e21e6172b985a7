"""Background job rows: a job's state lives in the database (queued, running, ready, failed)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from lti_tool.db import Base, TimestampMixin


class Job(TimestampMixin, Base):
    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(64), index=True)
    # What the job works on ("recording", 12): the page shows its progress, "retry" requeues it.
    subject_kind: Mapped[str | None] = mapped_column(sa.String(32))
    subject_id: Mapped[int | None]
    status: Mapped[str] = mapped_column(sa.String(16), default="queued")
    percent: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(sa.Text)  # a reason code, translated on the page
    attempts: Mapped[int] = mapped_column(default=0)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
