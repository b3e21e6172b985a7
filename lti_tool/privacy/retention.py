"""Retention: what footage goes when, deleting it from every storage backend, and the run.

Rules per school (privacy.services.Policy; defaults in brackets):
- raw recordings go N days [30] after the first montage of their cycle was shared;
- all footage (recordings and montages) goes N days [30] after the final conversation;
- in a child traject, all footage goes at once when the filming consent is withdrawn;
- text records stay until the teacher removes them (no rule here);
- a personal-data export goes when its download period ends.
Nothing of a traject under a legal hold is deleted. The plan (dry run) lists every item that
has a date, with that date; a run deletes exactly the plan's items that are due and not held.

This module coordinates domains (traject, media, privacy) like a task does: it reads cycle and
media rows, and the privacy records; the access policy itself stays in privacy.access.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError

from lti_tool.cycles.models import KIND_CHILD, Cycle, FinalReview, Traject
from lti_tool.db import db, utcnow
from lti_tool.media.models import Montage, Recording, Upload
from lti_tool.media.services import montage_prefix, recording_prefix, staged_path
from lti_tool.media.storage import LocalStorage, Storage, get_storage
from lti_tool.people.models import Course
from lti_tool.privacy import audit
from lti_tool.privacy import services as privacy
from lti_tool.privacy.models import (
    DataExport,
    DeletionRecord,
    FootagePrivacy,
    RateLimitHit,
    RetentionRun,
)

log = logging.getLogger(__name__)

REASON_REMOVED = "removed"  # the coach removed it
REASON_RAW = "retention_raw"
REASON_FINAL = "retention_final"
REASON_CONSENT = "consent_withdrawn"
REASON_ERASURE = "erasure"
REASON_EXPORT = "export_expired"
REASON_TRAJECT_REMOVED = "traject_removed"  # the teacher removed the traject about them
REASONS = (
    REASON_REMOVED, REASON_RAW, REASON_FINAL, REASON_CONSENT, REASON_ERASURE, REASON_EXPORT,
    REASON_TRAJECT_REMOVED,
)  # fmt: skip

_LOCK = "retention"
STALE_LOCK = timedelta(hours=6)


# --- deleting one item everywhere -----------------------------------------------------------


def backends() -> list[Storage]:
    """Every place footage may be: the configured storage, and the local media folder when the
    configured storage is another (files written before a move to object storage)."""
    settings = current_app.config["BEELDCOACH"]
    configured = get_storage(settings)
    found: list[Storage] = [configured]
    if not isinstance(configured, LocalStorage) and Path(settings.media_dir).is_dir():
        found.append(LocalStorage(settings.media_dir))
    return found


def delete_prefix_everywhere(prefix: str) -> int:
    return sum(storage.delete_prefix(prefix) for storage in backends())


def delete_footage(
    traject: Traject | None,
    kind: str,
    item: Recording | Montage,
    reason: str,
    *,
    actor_id: int | None = None,
    launch_id: str | None = None,
    run_id: int | None = None,
    due_at: datetime | None = None,
) -> DeletionRecord:
    """The original, rendition, segments, poster, thumbnails, stills (every file under the
    item's prefix, in every backend), a staged upload left behind, the releases, the privacy
    row and the item's row; then a deletion record and an audit event, neither with footage."""
    prefix = recording_prefix(item.id) if kind == "recording" else montage_prefix(item.id)
    files = delete_prefix_everywhere(prefix)
    if isinstance(item, Recording):
        for upload_id in db.session.scalars(
            sa.select(Upload.id).where(Upload.recording_id == item.id)
        ):
            staged = staged_path(upload_id)
            if staged.exists():
                staged.unlink(missing_ok=True)
                files += 1
    privacy.revoke_releases_of_item(kind, item.id, "deleted")
    db.session.execute(
        sa.delete(FootagePrivacy).where(
            FootagePrivacy.item_kind == kind, FootagePrivacy.item_id == item.id
        )
    )
    platform_id = (
        db.session.scalar(sa.select(Course.platform_id).where(Course.id == traject.course_id))
        if traject is not None
        else None
    )
    record = DeletionRecord(
        at=utcnow(),
        reason=reason,
        item_kind=kind,
        item_id=item.id,
        traject_id=traject.id if traject else None,
        platform_id=platform_id,
        due_at=due_at,
        files_deleted=files,
        run_id=run_id,
        actor_id=actor_id,
    )
    db.session.add(record)
    audit.record(
        audit.FOOTAGE_DELETE, actor_id=actor_id, launch_id=launch_id, platform_id=platform_id,
        traject_id=record.traject_id, item=(kind, item.id),
        detail={"reason": reason, "files": files},
    )  # fmt: skip
    db.session.delete(item)
    db.session.flush()
    return record


def footage_of(traject_id: int) -> list[tuple[str, Recording | Montage]]:
    """Every recording and montage of a traject's cycles."""
    items: list[tuple[str, Recording | Montage]] = [
        ("recording", r)
        for r in db.session.scalars(
            sa.select(Recording)
            .join(Cycle, Cycle.id == Recording.cycle_id)
            .where(Cycle.traject_id == traject_id)
            .order_by(Recording.id)
        )
    ]
    items += [
        ("montage", m)
        for m in db.session.scalars(
            sa.select(Montage)
            .join(Cycle, Cycle.id == Montage.cycle_id)
            .where(Cycle.traject_id == traject_id)
            .order_by(Montage.id)
        )
    ]
    return items


def delete_export(export: DataExport, reason: str, run_id: int | None = None) -> DeletionRecord:
    files = delete_prefix_everywhere(export_prefix(export.id))
    record = DeletionRecord(
        at=utcnow(), reason=reason, item_kind="export", item_id=export.id, files_deleted=files,
        run_id=run_id, due_at=export.expires_at,
    )  # fmt: skip
    db.session.add(record)
    db.session.delete(export)
    db.session.flush()
    return record


def export_prefix(export_id: int) -> str:
    return f"exports/{export_id}/"


# --- the plan ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Planned:
    """One item with a deletion date: what, why, when, and whether a legal hold keeps it."""

    item_kind: str
    item_id: int
    traject_id: int | None
    platform_id: int | None
    reason: str
    due_at: datetime
    held: bool

    def is_due(self, now: datetime) -> bool:
        return self.due_at <= now and not self.held

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["due_at"] = self.due_at.isoformat()
        return data


def _earliest(candidates: list[tuple[datetime | None, str]]) -> tuple[datetime, str] | None:
    dated = [(at, reason) for at, reason in candidates if at is not None]
    return min(dated, key=lambda c: c[0]) if dated else None


def _plus(at: datetime | None, days: int | None) -> datetime | None:
    if at is None or days is None:
        return None
    return at + timedelta(days=days)


def plan(*, traject_id: int | None = None, platform_id: int | None = None) -> list[Planned]:
    """Every footage item (and export) that has a deletion date, soonest first."""
    policies = privacy.policies()
    held = privacy.held_traject_ids()
    trajects = sa.select(Traject.id, Traject.kind, Course.platform_id).join(
        Course, Course.id == Traject.course_id
    )
    if traject_id is not None:
        trajects = trajects.where(Traject.id == traject_id)
    if platform_id is not None:
        trajects = trajects.where(Course.platform_id == platform_id)
    info = {tid: (kind, pid) for tid, kind, pid in db.session.execute(trajects)}
    if not info:
        return _export_plan() if traject_id is None and platform_id is None else []
    finals = dict(
        db.session.execute(
            sa.select(FinalReview.traject_id, FinalReview.concluded_at).where(
                FinalReview.traject_id.in_(info), FinalReview.concluded_at.is_not(None)
            )
        ).all()
    )
    withdrawn = {
        tid: privacy.filming_withdrawn_at(tid) for tid, (kind, _) in info.items()
        if kind == KIND_CHILD
    }  # fmt: skip
    shared_montage = dict(
        db.session.execute(
            sa.select(Montage.cycle_id, sa.func.min(Montage.shared_at))
            .join(Cycle, Cycle.id == Montage.cycle_id)
            .where(Cycle.traject_id.in_(info), Montage.shared_at.is_not(None))
            .group_by(Montage.cycle_id)
        ).all()
    )
    planned: list[Planned] = []
    for model, kind in ((Recording, "recording"), (Montage, "montage")):
        rows = db.session.execute(
            sa.select(model.id, model.cycle_id, Cycle.traject_id)
            .join(Cycle, Cycle.id == model.cycle_id)
            .where(Cycle.traject_id.in_(info))
        )
        for item_id, cycle_id, tid in rows:
            pid = info[tid][1]
            policy = policies.get(pid, privacy.DEFAULT_POLICY)
            candidates = [
                (_plus(finals.get(tid), policy.footage_days_after_final), REASON_FINAL),
                (withdrawn.get(tid), REASON_CONSENT),
            ]
            if kind == "recording":
                candidates.append(
                    (_plus(shared_montage.get(cycle_id), policy.raw_days_after_share), REASON_RAW)
                )
            first = _earliest(candidates)
            if first is not None:
                planned.append(Planned(kind, item_id, tid, pid, first[1], first[0], tid in held))
    if traject_id is None and platform_id is None:
        planned.extend(_export_plan())
    return sorted(planned, key=lambda p: (p.due_at, p.item_kind, p.item_id))


def _export_plan() -> list[Planned]:
    return [
        Planned("export", e.id, None, None, REASON_EXPORT, e.expires_at, False)
        for e in db.session.scalars(sa.select(DataExport).where(DataExport.expires_at.is_not(None)))
        if e.expires_at is not None
    ]


def due(now: datetime | None = None, **scope: Any) -> list[Planned]:
    now = now or utcnow()
    return [p for p in plan(**scope) if p.is_due(now)]


# --- the run ----------------------------------------------------------------------------------


def _acquire(now: datetime) -> RetentionRun | None:
    """One run at a time (a unique lock column); a lock left by a killed run expires."""
    stale = db.session.scalar(sa.select(RetentionRun).where(RetentionRun.lock == _LOCK))
    if stale is not None and stale.started_at < now - STALE_LOCK:
        stale.lock = None
        stale.status = "abandoned"
        db.session.commit()
    run = RetentionRun(lock=_LOCK, started_at=now, status="running")
    db.session.add(run)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return None
    return run


def run(now: datetime | None = None, *, traject_id: int | None = None) -> RetentionRun | None:
    """Delete what is due; None when another run holds the lock. Commits per item, so a
    failure part-way keeps what was done (the next run picks up the rest)."""
    now = now or utcnow()
    current = _acquire(now)
    if current is None:
        return None
    run_id = current.id
    planned = plan(traject_id=traject_id)
    deleted = 0
    try:
        for item in planned:
            if not item.is_due(now):
                continue
            _delete_planned(item, run_id)
            db.session.commit()
            deleted += 1
        if traject_id is None:
            purge_rate_limits(now)
    except Exception as exc:
        db.session.rollback()
        current = db.session.get(RetentionRun, run_id) or current
        current.status = "failed"
        current.error = type(exc).__name__
        current.lock = None
        current.finished_at = utcnow()
        db.session.commit()
        raise
    current = db.session.get(RetentionRun, run_id) or current
    current.planned = sum(1 for p in planned if p.due_at <= now)
    current.deleted = deleted
    current.held = sum(1 for p in planned if p.due_at <= now and p.held)
    current.status = "done"
    current.lock = None
    current.finished_at = utcnow()
    audit.record(
        audit.RETENTION_RUN, actor_id=None, item=("retention_run", run_id),
        detail={"deleted": deleted, "held": current.held, "traject_id": traject_id},
    )  # fmt: skip
    db.session.commit()
    return current


def _delete_planned(item: Planned, run_id: int) -> None:
    if item.item_kind == "export":
        export = db.session.get(DataExport, item.item_id)
        if export is not None:
            delete_export(export, item.reason, run_id)
        return
    row: Recording | Montage | None = (
        db.session.get(Recording, item.item_id)
        if item.item_kind == "recording"
        else db.session.get(Montage, item.item_id)
    )
    if row is None:
        return
    traject = db.session.get(Traject, item.traject_id) if item.traject_id else None
    delete_footage(traject, item.item_kind, row, item.reason, run_id=run_id, due_at=item.due_at)


def purge_rate_limits(now: datetime) -> None:
    minute = int(now.timestamp() // 60)
    db.session.execute(sa.delete(RateLimitHit).where(RateLimitHit.window < minute - 60))
    db.session.commit()
