"""Data subject rights: export everything the tool holds about a person, and erase a person.

Export: one zip with `person.json` (every row that names the person through a reference to
their account, the audit events of their own actions and of views of their footage) and their
own footage where they are the filmed teacher. Built by a task, downloadable by that person
only, for `export_ttl_hours`, then deleted by the retention job.

Erasure (an administrator acting on a request), explicitly:
- goes: name, e-mail, locale and platform identity (the account becomes "#id"); memberships,
  launches, exports, unfinished uploads; footage in which they are the filmed teacher; teacher
  trajects in which they are the coached teacher (the whole traject is about them); their
  participation as teacher, team member, management, parent or external in other trajects;
  their POP contributions, also those kept after they removed the traject; their place as
  someone's chosen manager (that POP goes back to being seen by its teacher only);
- stays, because it is other people's record: a coach's participation (the coached teachers'
  trajects depend on it), texts they wrote in other people's trajects (markers, action points,
  kijkwijzers of a team traject), consents they recorded (the school's evidence), the audit
  log and deletion records (ids only; the ids now point at an erased account).
A traject under a legal hold stops the erasure: nothing is changed and the holds are named.
"""

from __future__ import annotations

import json
import tempfile
import uuid
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import Any

import sqlalchemy as sa
from flask import current_app

from lti_tool.cycles.models import (
    KIND_TEACHER,
    P_COACH,
    P_TEACHER,
    Participant,
    Traject,
)
from lti_tool.db import db, utcnow
from lti_tool.launch.models import Launch
from lti_tool.media.models import Montage, Recording, Upload
from lti_tool.media.storage import get_storage
from lti_tool.people.models import Membership, User
from lti_tool.privacy import audit
from lti_tool.privacy import services as privacy
from lti_tool.privacy.models import (
    EXPORT_FAILED,
    EXPORT_QUEUED,
    EXPORT_READY,
    EXPORT_RUNNING,
    AuditEvent,
    DataExport,
    FootagePrivacy,
    LegalHold,
)
from lti_tool.privacy.retention import (
    REASON_ERASURE,
    delete_export,
    delete_footage,
    delete_prefix_everywhere,
    export_prefix,
    footage_of,
)

# Columns never exported: keys and secrets, not personal data.
_SECRET_COLUMNS = {"private_pem", "storage_secret", "access_token", "token", "secret", "jwks"}
EXPORT_NAME = "beeldcoach-export.zip"


def _value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _user_references() -> list[tuple[sa.Table, list[sa.Column[Any]]]]:
    found = []
    for table in db.metadata.sorted_tables:
        if table.name == "users":
            continue
        columns = [
            c
            for c in table.columns
            if any(fk.column.table.name == "users" for fk in c.foreign_keys)
        ]
        if columns:
            found.append((table, columns))
    return found


def owned_footage(user_id: int) -> list[tuple[Traject, str, Recording | Montage]]:
    """Recordings and montages in which the person is the filmed teacher."""
    from lti_tool.cycles.footage import owner_of

    trajects = db.session.scalars(
        sa.select(Traject).where(
            Traject.id.in_(
                sa.select(Participant.traject_id).where(
                    Participant.user_id == user_id,
                    Participant.role.in_((P_TEACHER, "team_member")),
                )
            )
        )
    )
    owned: list[tuple[Traject, str, Recording | Montage]] = []
    for traject in trajects:
        for kind, item in footage_of(traject.id):
            if owner_of(traject, kind, item) == user_id:
                owned.append((traject, kind, item))
    return owned


def person_data(user_id: int) -> dict[str, Any]:
    """Everything the tool holds about the person, as JSON-ready data."""
    user = db.session.get(User, user_id)
    if user is None:
        raise LookupError(user_id)
    records: dict[str, list[dict[str, Any]]] = {}
    for table, columns in _user_references():
        rows = db.session.execute(
            sa.select(table).where(sa.or_(*[c == user_id for c in columns]))
        ).mappings()
        out = []
        for row in rows:
            item = {k: _value(v) for k, v in row.items() if k not in _SECRET_COLUMNS}
            # A row about someone else that merely names this person as its author keeps
            # that other person's name out.
            if "user_id" in item and item["user_id"] != user_id:
                item.pop("display_name", None)
            out.append(item)
        if out:
            records[table.name] = out
    own = audit.events_for(actor_id=user_id, limit=10_000)
    watched = audit.events_for(owner_id=user_id, events=audit.VIEW_EVENTS, limit=10_000)
    viewers = {
        u.id: u.display_name
        for u in db.session.scalars(
            sa.select(User).where(User.id.in_({e.actor_id for e in watched if e.actor_id} or {0}))
        )
    }
    return {
        "generated_at": utcnow().isoformat(),
        "tool": "Beeldcoach",
        "person": {
            "id": user.id,
            "issuer": user.issuer,
            "sub": user.sub,
            "name": user.name,
            "given_name": user.given_name,
            "family_name": user.family_name,
            "email": user.email,
            "locale": user.locale,
            "created_at": _value(user.created_at),
            "last_launch_at": _value(user.last_launch_at),
        },
        "records": records,
        "audit": {
            "my_actions": [audit.as_json(e) for e in own],
            "views_of_my_footage": [
                {**audit.as_json(e), "viewer": viewers.get(e.actor_id or 0)} for e in watched
            ],
        },
        "footage": [
            {"kind": kind, "id": item.id, "traject_id": traject.id}
            for traject, kind, item in owned_footage(user_id)
        ],
    }


# --- export -----------------------------------------------------------------------------------


def request_export(user_id: int, *, launch_id: str | None, platform_id: int | None) -> DataExport:
    export = DataExport(user_id=user_id, status=EXPORT_QUEUED)
    db.session.add(export)
    db.session.flush()
    audit.record(
        audit.EXPORT_REQUEST, actor_id=user_id, launch_id=launch_id, platform_id=platform_id,
        item=("export", export.id), owner_id=user_id,
    )  # fmt: skip
    from lti_tool.privacy import tasks
    from lti_tool.worker import enqueue_after_commit

    enqueue_after_commit(tasks.build_export, export.id)
    return export


def build_export(export_id: int) -> DataExport | None:
    """The zip: person.json and the person's own footage (stored, not recompressed)."""
    export = db.session.get(DataExport, export_id)
    if export is None or export.status == EXPORT_READY:
        return export
    export.status = EXPORT_RUNNING
    db.session.commit()
    storage = get_storage()
    try:
        data = person_data(export.user_id)
        files = 0
        with tempfile.TemporaryDirectory(prefix="beeldcoach-export-") as tmp:
            out = Path(tmp) / EXPORT_NAME
            with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
                archive.writestr("person.json", json.dumps(data, indent=2, ensure_ascii=False))
                for traject, kind, item in owned_footage(export.user_id):
                    key = item.rendition_key or (
                        item.original_key if isinstance(item, Recording) else None
                    )
                    if not key or not storage.exists(key):
                        continue
                    name = (
                        f"footage/traject-{traject.id}/{kind}-{item.id}{PurePosixPath(key).suffix}"
                    )
                    with storage.local_path(key) as path:
                        archive.write(path, name, compress_type=zipfile.ZIP_STORED)
                    files += 1
            key = export_prefix(export.id) + EXPORT_NAME
            size = out.stat().st_size
            storage.put_file(key, out, move=True)
    except Exception:
        db.session.rollback()
        export = db.session.get(DataExport, export_id)
        if export is not None:
            export.status = EXPORT_FAILED
            export.error = "build_failed"
            db.session.commit()
        raise
    export.key = key
    export.size = size
    export.files = files
    export.status = EXPORT_READY
    export.ready_at = utcnow()
    export.expires_at = export.ready_at + timedelta(
        hours=int(current_app.config["BEELDCOACH"].export_ttl_hours)
    )
    db.session.commit()
    return export


def exports_of(user_id: int) -> list[DataExport]:
    return list(
        db.session.scalars(
            sa.select(DataExport)
            .where(DataExport.user_id == user_id)
            .order_by(DataExport.id.desc())
        )
    )


# --- erasure ----------------------------------------------------------------------------------


class ErasureRefused(Exception):
    def __init__(self, code: str, detail: dict[str, Any]) -> None:
        super().__init__(code)
        self.code = code
        self.detail = detail


@dataclass
class Erasure:
    """What an erasure removed and what it kept, in counts (the audit event holds the same)."""

    user_id: int
    removed: dict[str, int] = field(default_factory=dict)
    kept: dict[str, int] = field(default_factory=dict)

    def count(self, bucket: dict[str, int], name: str, n: int = 1) -> None:
        if n:
            bucket[name] = bucket.get(name, 0) + n


def erasure_preview(user_id: int) -> dict[str, Any]:
    """What erasing would remove and keep (the page shows it before the administrator confirms)."""
    participations = list(
        db.session.scalars(sa.select(Participant).where(Participant.user_id == user_id))
    )
    teacher_trajects = _teacher_trajects(user_id)
    return {
        "footage": len(owned_footage(user_id)),
        "teacher_trajects": len(teacher_trajects),
        "participations_removed": sum(1 for p in participations if p.role != P_COACH),
        "coach_participations_kept": sum(1 for p in participations if p.role == P_COACH),
        "pop_contributions": _pop_count(user_id),
        "holds": sorted(_holds_blocking(user_id)),
    }


def _pop_count(user_id: int) -> int:
    from lti_tool.outcomes.models import PopContribution

    return int(
        db.session.scalar(
            sa.select(sa.func.count(PopContribution.id)).where(
                PopContribution.teacher_id == user_id
            )
        )
        or 0
    )


def _teacher_trajects(user_id: int) -> list[Traject]:
    return list(
        db.session.scalars(
            sa.select(Traject).where(
                Traject.kind == KIND_TEACHER,
                Traject.id.in_(
                    sa.select(Participant.traject_id).where(
                        Participant.user_id == user_id, Participant.role == P_TEACHER
                    )
                ),
            )
        )
    )


def _holds_blocking(user_id: int) -> set[int]:
    held = privacy.held_traject_ids()
    touched = {t.id for t, _, _ in owned_footage(user_id)} | {
        t.id for t in _teacher_trajects(user_id)
    }
    return touched & held


def drop_traject_leftovers(traject_id: int) -> int:
    """Before a whole traject is deleted: its signed consent forms from storage (the rows go
    by cascade) and its lifted legal holds (the audit log keeps their placing and lifting; the
    caller has refused while one is active). Returns the number of lifted holds removed."""
    for consent in privacy.consents_of(traject_id):
        if consent.evidence_key:
            delete_prefix_everywhere(f"consents/{consent.id}/")
    lifted = db.session.execute(
        sa.delete(LegalHold).where(
            LegalHold.traject_id == traject_id, LegalHold.lifted_at.is_not(None)
        )
    )
    return int(getattr(lifted, "rowcount", 0) or 0)


def erase_person(
    user_id: int, actor_id: int, *, launch_id: str | None, platform_id: int | None
) -> Erasure:
    user = db.session.get(User, user_id)
    if user is None:
        raise ErasureRefused("not_found", {})
    blocking = _holds_blocking(user_id)
    if blocking:
        raise ErasureRefused("legal_hold", {"trajects": sorted(blocking)})
    result = Erasure(user_id)
    # Footage of which they are the filmed teacher, everywhere it is stored.
    for traject, kind, item in owned_footage(user_id):
        delete_footage(traject, kind, item, REASON_ERASURE, actor_id=actor_id, launch_id=launch_id)
        result.count(result.removed, "footage")
    # Teacher trajects about them: the whole traject (texts of both, footage already gone).
    for traject in _teacher_trajects(user_id):
        for kind, item in footage_of(traject.id):
            delete_footage(traject, kind, item, REASON_ERASURE, actor_id=actor_id)
            result.count(result.removed, "footage")
        drop_traject_leftovers(traject.id)  # an active hold stopped the erasure above
        db.session.delete(traject)
        result.count(result.removed, "teacher_trajects")
    db.session.flush()
    for participant in db.session.scalars(
        sa.select(Participant).where(Participant.user_id == user_id)
    ):
        if participant.role == P_COACH:
            result.count(result.kept, "coach_participations")
            continue
        db.session.delete(participant)
        result.count(result.removed, "participations")
    db.session.execute(
        sa.update(FootagePrivacy)
        .where(FootagePrivacy.filmed_user_id == user_id)
        .values(filmed_user_id=None)
    )
    from lti_tool.outcomes.models import PopContribution

    # Their POP: what the teacher trajects left behind (SET NULL) and any they chose to keep
    # when they removed a traject. The versions go with it (cascade).
    for contribution in db.session.scalars(
        sa.select(PopContribution).where(PopContribution.teacher_id == user_id)
    ):
        db.session.delete(contribution)
        result.count(result.removed, "pop_contributions")
    managed = db.session.execute(
        sa.update(PopContribution)
        .where(PopContribution.manager_id == user_id)
        .values(manager_id=None)
        .execution_options(synchronize_session=False)
    )
    result.count(result.removed, "pop_manager_choices", int(getattr(managed, "rowcount", 0) or 0))
    for export in exports_of(user_id):
        delete_export(export, REASON_ERASURE)
        result.count(result.removed, "exports")
    from lti_tool.media.services import staged_path

    for upload_id in db.session.scalars(sa.select(Upload.id).where(Upload.user_id == user_id)):
        staged_path(upload_id).unlink(missing_ok=True)
    for statement, name in (
        (sa.delete(Membership).where(Membership.user_id == user_id), "memberships"),
        (sa.delete(Launch).where(Launch.user_id == user_id), "launches"),
        (sa.delete(Upload).where(Upload.user_id == user_id), "uploads"),
    ):
        rows = db.session.execute(statement)
        result.count(result.removed, name, int(getattr(rows, "rowcount", 0) or 0))
    user.name = user.given_name = user.family_name = user.email = user.locale = None
    user.sub = f"erased-{uuid.uuid4().hex}"
    user.last_launch_at = None
    result.count(result.removed, "identity")
    result.count(
        result.kept,
        "audit_events",
        int(
            db.session.scalar(
                sa.select(sa.func.count(AuditEvent.id)).where(AuditEvent.actor_id == user_id)
            )
            or 0
        ),
    )
    audit.record(
        audit.PERSON_ERASE, actor_id=actor_id, launch_id=launch_id, platform_id=platform_id,
        item=("user", user_id), detail={"removed": result.removed, "kept": result.kept},
    )  # fmt: skip
    db.session.flush()
    return result
