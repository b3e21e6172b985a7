"""The audit log: every view of footage, share, release, export, consent change and deletion.

Rows are appended, never changed (the migration adds triggers that refuse UPDATE and DELETE).
They carry ids, the launch and small details; never names, texts, tokens or footage.

Views are written where a signed URL is issued to a person for an item (the player page, the
footage listing, a still, a download), not on each byte-range request that follows: one row
per person, item and launch per `audit_view_window` seconds (10 minutes by default), so a
player polling the listing or a coach stepping through stills does not flood the log.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app, has_app_context

from lti_tool.db import db, utcnow
from lti_tool.privacy.models import AuditEvent

# Every event the tool writes (docs/privacy.md lists them too; a test checks they match).
FOOTAGE_VIEW = "footage.view"
FOOTAGE_DOWNLOAD = "footage.download"
FOOTAGE_DELETE = "footage.delete"
FOOTAGE_OWNER = "footage.owner"
FOOTAGE_CHECK = "footage.check"
CYCLE_SHARE = "cycle.share"
RELEASE_CREATE = "release.create"
RELEASE_REVOKE = "release.revoke"
CONSENT_RECORD = "consent.record"
CONSENT_WITHDRAW = "consent.withdraw"
CONSENT_EVIDENCE_VIEW = "consent.evidence_view"
OBJECTION_FLAG = "objection.flag"
OBJECTION_LIFT = "objection.lift"
EXPORT_REQUEST = "export.request"
EXPORT_DOWNLOAD = "export.download"
PERSON_ERASE = "person.erase"
TRAJECT_REMOVE = "traject.remove"
POP_REMOVE = "pop.remove"
POLICY_CHANGE = "policy.change"
HOLD_PLACE = "hold.place"
HOLD_LIFT = "hold.lift"
RETENTION_RUN = "retention.run"
EVENTS = (
    FOOTAGE_VIEW,
    FOOTAGE_DOWNLOAD,
    FOOTAGE_DELETE,
    FOOTAGE_OWNER,
    FOOTAGE_CHECK,
    CYCLE_SHARE,
    RELEASE_CREATE,
    RELEASE_REVOKE,
    CONSENT_RECORD,
    CONSENT_WITHDRAW,
    CONSENT_EVIDENCE_VIEW,
    OBJECTION_FLAG,
    OBJECTION_LIFT,
    EXPORT_REQUEST,
    EXPORT_DOWNLOAD,
    PERSON_ERASE,
    TRAJECT_REMOVE,
    POP_REMOVE,
    POLICY_CHANGE,
    HOLD_PLACE,
    HOLD_LIFT,
    RETENTION_RUN,
)
VIEW_EVENTS = (FOOTAGE_VIEW, FOOTAGE_DOWNLOAD)


def record(
    event: str,
    *,
    actor_id: int | None,
    launch_id: str | None = None,
    platform_id: int | None = None,
    traject_id: int | None = None,
    item: tuple[str, int] | None = None,
    owner_id: int | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event (flushed with the unit of work that caused it: it commits with it)."""
    if event not in EVENTS:
        raise ValueError(f"unknown audit event {event!r}")
    row = AuditEvent(
        event=event,
        actor_id=actor_id,
        launch_id=launch_id,
        platform_id=platform_id,
        traject_id=traject_id,
        item_kind=item[0] if item else None,
        item_id=item[1] if item else None,
        owner_id=owner_id,
        detail=detail or {},
        at=utcnow(),
    )
    db.session.add(row)
    return row


def _window() -> int:
    if has_app_context():
        return int(current_app.config["BEELDCOACH"].audit_view_window)
    return 600


def record_view(
    *,
    actor_id: int,
    launch_id: str | None,
    platform_id: int | None,
    traject_id: int,
    item: tuple[str, int],
    owner_id: int | None,
    via: str,
    event: str = FOOTAGE_VIEW,
) -> bool:
    """A view at issuance of a signed URL; False when the same person viewed the same item
    from the same launch within the window (then nothing is written)."""
    since = utcnow() - timedelta(seconds=_window())
    recent = db.session.scalar(
        sa.select(AuditEvent.id)
        .where(
            AuditEvent.event == event,
            AuditEvent.actor_id == actor_id,
            AuditEvent.item_kind == item[0],
            AuditEvent.item_id == item[1],
            AuditEvent.launch_id.is_(None)
            if launch_id is None
            else AuditEvent.launch_id == launch_id,
            AuditEvent.at >= since,
        )
        .limit(1)
    )
    if recent is not None:
        return False
    record(
        event,
        actor_id=actor_id,
        launch_id=launch_id,
        platform_id=platform_id,
        traject_id=traject_id,
        item=item,
        owner_id=owner_id,
        detail={"via": via},
    )
    return True


def events_for(
    *,
    platform_id: int | None = None,
    owner_id: int | None = None,
    actor_id: int | None = None,
    events: tuple[str, ...] | None = None,
    limit: int = 200,
    before_id: int | None = None,
) -> list[AuditEvent]:
    query = sa.select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
    if platform_id is not None:
        query = query.where(AuditEvent.platform_id == platform_id)
    if owner_id is not None:
        query = query.where(AuditEvent.owner_id == owner_id)
    if actor_id is not None:
        query = query.where(AuditEvent.actor_id == actor_id)
    if events:
        query = query.where(AuditEvent.event.in_(events))
    if before_id is not None:
        query = query.where(AuditEvent.id < before_id)
    return list(db.session.scalars(query))


def as_json(row: AuditEvent) -> dict[str, Any]:
    return {
        "id": row.id,
        "at": row.at.isoformat(),
        "event": row.event,
        "actor_id": row.actor_id,
        "launch_id": row.launch_id,
        "traject_id": row.traject_id,
        "item_kind": row.item_kind,
        "item_id": row.item_id,
        "owner_id": row.owner_id,
        "detail": row.detail or {},
    }
