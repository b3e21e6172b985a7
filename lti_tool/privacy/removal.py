"""The teacher's own removal of a teacher traject about them, once it has ended.

Text records are kept "until the teacher removes them" (docs/privacy.md, Retention): this is
how. Only the coached teacher of a teacher traject may remove it (not the coach, not another
teacher, not an administrator: administrators have person erasure), only once it has ended
(status completed; a traject closed early still ends with its final conversation), and not
while a legal hold is in place.

It goes as a whole, as in an erasure (the traject is about the teacher): the texts of teacher
and coach alike (intake, every wording of the development question, cycles and their notes,
kijkwijzer answers, markers, action points, the final conversation), every recording and
montage everywhere it is stored (with a deletion record and a `footage.delete` event each, as
retention writes them), staged uploads, consents and their signed forms, releases,
participants and lifted holds. The teacher's POP contribution is theirs and holds no footage:
the teacher chooses to keep its approved versions (a frozen copy; the contribution's traject
becomes empty, its draft versions go because a draft is built from the traject) or to remove
it too. A contribution without an approved version has nothing to keep and always goes. The
audit log and the deletion records stay (ids and counts only), and one `traject.remove` event
says who removed which traject, with counts and never text.

Like retention, this module coordinates domains (traject, media, outcomes, privacy); the
view checks who asks and commits once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from lti_tool.cycles.models import (
    KIND_TEACHER,
    P_TEACHER,
    STATUS_COMPLETED,
    ActionPoint,
    Cycle,
    DevelopmentQuestion,
    FinalReview,
    Intake,
    Marker,
    Participant,
    Traject,
    ViewingGuide,
)
from lti_tool.db import db
from lti_tool.media.models import Montage, Recording, Upload
from lti_tool.media.services import staged_path
from lti_tool.outcomes.models import PopContribution
from lti_tool.people.models import Course
from lti_tool.privacy import audit
from lti_tool.privacy import services as privacy
from lti_tool.privacy.models import AuditEvent, Consent, DeletionRecord, LegalHold, Release
from lti_tool.privacy.retention import (
    REASON_TRAJECT_REMOVED,
    delete_footage,
    footage_of,
)

#: The states in which a traject has ended. There is no cancelled or stopped state: a coach
#: who ends the cycles early still leads to the final conversation, which completes it.
ENDED = (STATUS_COMPLETED,)


class RemovalRefused(Exception):
    """`running`: not ended yet; `legal_hold`: a hold is in place; `busy`: its scores are being
    sent to the platform right now (try again in a minute); `gone`: no such traject
    of this teacher (any more)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def is_coached_teacher(traject: Traject, user_id: int) -> bool:
    """The teacher a teacher traject is about (its one participant with the teacher role)."""
    if traject.kind != KIND_TEACHER:
        return False
    return (
        db.session.scalar(
            sa.select(Participant.id).where(
                Participant.traject_id == traject.id,
                Participant.user_id == user_id,
                Participant.role == P_TEACHER,
            )
        )
        is not None
    )


def is_ended(traject: Traject) -> bool:
    return traject.status in ENDED


def refusal(traject: Traject) -> str | None:
    """Why the traject cannot be removed now (`running`, `legal_hold`), or None."""
    if not is_ended(traject):
        return "running"
    if traject.id in privacy.held_traject_ids():
        return "legal_hold"
    return None


def teacher_trajects(user_id: int) -> list[Traject]:
    """The teacher trajects about this person, newest first."""
    return list(
        db.session.scalars(
            sa.select(Traject)
            .where(
                Traject.kind == KIND_TEACHER,
                Traject.id.in_(
                    sa.select(Participant.traject_id).where(
                        Participant.user_id == user_id, Participant.role == P_TEACHER
                    )
                ),
            )
            .order_by(Traject.id.desc())
        )
    )


def _count(statement: sa.Select[Any]) -> int:
    return int(db.session.scalar(statement) or 0)


def record_counts(traject_id: int) -> dict[str, int]:
    """How many records of each kind the traject holds (those above zero)."""
    cycles = sa.select(Cycle.id).where(Cycle.traject_id == traject_id)
    n = sa.func.count()
    counts = {
        "intake": _count(sa.select(n).select_from(Intake).where(Intake.traject_id == traject_id)),
        "development_questions": _count(
            sa.select(n)
            .select_from(DevelopmentQuestion)
            .where(DevelopmentQuestion.traject_id == traject_id)
        ),
        "cycles": _count(sa.select(n).select_from(Cycle).where(Cycle.traject_id == traject_id)),
        "viewing_guides": _count(
            sa.select(n).select_from(ViewingGuide).where(ViewingGuide.cycle_id.in_(cycles))
        ),
        "markers": _count(sa.select(n).select_from(Marker).where(Marker.cycle_id.in_(cycles))),
        "action_points": _count(
            sa.select(n).select_from(ActionPoint).where(ActionPoint.traject_id == traject_id)
        ),
        "final_review": _count(
            sa.select(n).select_from(FinalReview).where(FinalReview.traject_id == traject_id)
        ),
        "recordings": _count(
            sa.select(n).select_from(Recording).where(Recording.cycle_id.in_(cycles))
        ),
        "montages": _count(sa.select(n).select_from(Montage).where(Montage.cycle_id.in_(cycles))),
        "uploads": _count(
            sa.select(n)
            .select_from(Upload)
            .where(Upload.cycle_id.in_(cycles), Upload.completed_at.is_(None))
        ),
        "consents": _count(
            sa.select(n).select_from(Consent).where(Consent.traject_id == traject_id)
        ),
        "releases": _count(
            sa.select(n).select_from(Release).where(Release.traject_id == traject_id)
        ),
        "participants": _count(
            sa.select(n).select_from(Participant).where(Participant.traject_id == traject_id)
        ),
        "lifted_holds": _count(
            sa.select(n)
            .select_from(LegalHold)
            .where(LegalHold.traject_id == traject_id, LegalHold.lifted_at.is_not(None))
        ),
    }
    return {k: v for k, v in counts.items() if v}


def _contributions(traject_id: int) -> list[PopContribution]:
    """The coached teacher's POP contributions of this traject (a teacher traject has one
    teacher; the filter keeps anyone else's out whatever the data says)."""
    teachers = sa.select(Participant.user_id).where(
        Participant.traject_id == traject_id, Participant.role == P_TEACHER
    )
    return list(
        db.session.scalars(
            sa.select(PopContribution)
            .where(
                PopContribution.traject_id == traject_id, PopContribution.teacher_id.in_(teachers)
            )
            .order_by(PopContribution.id)
        )
    )


# Logged rows of this traject: since it was made, because SQLite (without AUTOINCREMENT) may
# give a new traject the id of a removed one, whose rows the log and the records keep.
def _audit_count(traject: Traject) -> int:
    return _count(
        sa.select(sa.func.count(AuditEvent.id)).where(
            AuditEvent.traject_id == traject.id, AuditEvent.at >= traject.created_at
        )
    )


def _deletion_count(traject: Traject) -> int:
    return _count(
        sa.select(sa.func.count(DeletionRecord.id)).where(
            DeletionRecord.traject_id == traject.id, DeletionRecord.at >= traject.created_at
        )
    )


@dataclass(frozen=True)
class RemovalPreview:
    """What removing would do: the page shows it before the teacher confirms."""

    traject_id: int
    ended: bool
    held: bool
    removes: dict[str, int]
    # Contributions with an approved version, as (id, newest approved version number): they
    # can stay. Contributions without one: they go.
    pop_approved: list[tuple[int, int]]
    pop_unapproved: list[int]
    audit_events: int

    @property
    def removable(self) -> bool:
        return self.ended and not self.held

    def as_json(self) -> dict[str, Any]:
        return {
            "traject_id": self.traject_id,
            "ended": self.ended,
            "held": self.held,
            "removable": self.removable,
            "removes": dict(self.removes),
            "keeps": {"audit_events": self.audit_events},
            "pop": {
                "approved": [{"id": c, "version": v} for c, v in self.pop_approved],
                "unapproved": list(self.pop_unapproved),
            },
        }


def preview(traject: Traject) -> RemovalPreview:
    contributions = _contributions(traject.id)
    return RemovalPreview(
        traject_id=traject.id,
        ended=is_ended(traject),
        held=traject.id in privacy.held_traject_ids(),
        removes=record_counts(traject.id),
        pop_approved=[(c.id, c.approved.number) for c in contributions if c.approved is not None],
        pop_unapproved=[c.id for c in contributions if c.approved is None],
        audit_events=_audit_count(traject),
    )


@dataclass
class Removal:
    """What a removal removed and what it kept, in counts (the audit event holds the same)."""

    traject_id: int
    keep_pop: bool
    removed: dict[str, int] = field(default_factory=dict)
    kept: dict[str, int] = field(default_factory=dict)

    def count(self, bucket: dict[str, int], name: str, n: int = 1) -> None:
        if n:
            bucket[name] = bucket.get(name, 0) + n

    def as_json(self) -> dict[str, Any]:
        return {
            "traject_id": self.traject_id,
            "keep_pop": self.keep_pop,
            "removed": dict(self.removed),
            "kept": dict(self.kept),
        }


def _locked(traject_id: int) -> Traject | None:
    """The traject, read afresh and locked for this unit of work: on PostgreSQL a legal hold
    being placed at the same moment (its row refers to this one) waits for our commit, or we
    wait for its commit and then see it. SQLite writes one transaction at a time anyway."""
    return db.session.scalar(
        sa.select(Traject)
        .where(Traject.id == traject_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def _handle_pop(traject: Traject, keep: bool, result: Removal) -> None:
    for contribution in _contributions(traject.id):
        if keep and contribution.approved is not None:
            # The approved versions are frozen copies and stay; a draft is the traject as it
            # stands with the teacher's edits, and could never be approved again.
            for version in list(contribution.versions):
                if version.approved_at is None:
                    contribution.versions.remove(version)
                    result.count(result.removed, "pop_drafts")
            # The foreign key empties it too (ON DELETE SET NULL); said here so that the
            # session's copy agrees.
            contribution.traject_id = None
            result.count(result.kept, "pop_contributions")
        else:
            db.session.delete(contribution)
            result.count(result.removed, "pop_contributions")


def remove_traject(
    traject_id: int, teacher_id: int, *, keep_pop: bool, launch_id: str | None
) -> Removal:
    """Remove the teacher's ended traject, or refuse (RemovalRefused) and change nothing."""
    traject = _locked(traject_id)
    if traject is None or not is_coached_teacher(traject, teacher_id):
        raise RemovalRefused("gone")
    code = refusal(traject)
    if code is not None:
        raise RemovalRefused(code)
    # The gradebook sender of this traject must not be halfway (it would post a score for a
    # removed traject, or trip over its rows): take its lock, which goes with the traject.
    from lti_tool.outcomes.services import lock_traject

    if lock_traject(traject.id) is None:
        raise RemovalRefused("busy")
    platform_id = db.session.scalar(
        sa.select(Course.platform_id).where(Course.id == traject.course_id)
    )
    result = Removal(traject.id, keep_pop)
    for name, n in record_counts(traject.id).items():
        result.count(result.removed, name, n)
    # Footage, everywhere it is stored: a deletion record and an audit event per item.
    for kind, item in footage_of(traject.id):
        delete_footage(
            traject, kind, item, REASON_TRAJECT_REMOVED, actor_id=teacher_id, launch_id=launch_id
        )
    # Uploads never finished: their bytes in the staging folder (the rows go by cascade).
    for upload_id in db.session.scalars(
        sa.select(Upload.id).where(
            Upload.cycle_id.in_(sa.select(Cycle.id).where(Cycle.traject_id == traject.id))
        )
    ):
        staged_path(upload_id).unlink(missing_ok=True)
    # Signed consent forms and lifted holds (an active hold refused the removal above).
    from lti_tool.privacy.subject import drop_traject_leftovers

    drop_traject_leftovers(traject.id)
    _handle_pop(traject, keep_pop, result)
    result.count(result.kept, "audit_events", _audit_count(traject))
    result.count(result.kept, "deletion_records", _deletion_count(traject))
    db.session.delete(traject)
    db.session.flush()
    audit.record(
        audit.TRAJECT_REMOVE, actor_id=teacher_id, launch_id=launch_id, platform_id=platform_id,
        traject_id=traject_id, item=("traject", traject_id), owner_id=teacher_id,
        detail={"removed": result.removed, "kept": result.kept, "keep_pop": keep_pop},
    )  # fmt: skip
    db.session.flush()
    return result
