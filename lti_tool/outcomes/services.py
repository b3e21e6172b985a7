"""Outcomes as services (flush, never commit): the POP contribution's life, what the platform
learns of a traject (AGS scores through an outbox), and the course roster (NRPS).

Who sees a POP contribution: the teacher whose it is, and the manager the teacher chose (approved
versions only). Coaches see only whether the platform received the traject's progress;
administrators see nothing by being administrators.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from lti_tool.cycles.access import roles_in
from lti_tool.cycles.models import (
    KIND_TEACHER,
    KIND_TEAM,
    P_COACH,
    P_TEACHER,
    P_TEAM_MEMBER,
    STATUS_COMPLETED,
    Traject,
)
from lti_tool.cycles.services import StepRefused
from lti_tool.db import db, insert_or_ignore, utcnow
from lti_tool.launch.claims import map_roles
from lti_tool.launch.models import Platform
from lti_tool.launch.services import (
    SCOPE_LINEITEM,
    SCOPE_SCORE,
    ServiceClient,
    ServiceError,
    service_claims,
)
from lti_tool.outcomes import pop, tasks
from lti_tool.outcomes.models import (
    SCORE_FAILED,
    SCORE_PENDING,
    SCORE_SENT,
    CourseRoster,
    LineItem,
    PopContribution,
    PopVersion,
    ResourceLink,
    RosterMember,
    ScoreSend,
)
from lti_tool.people.models import ROLE_ADMIN, Course, Membership, User
from lti_tool.privacy.access import Forbidden
from lti_tool.worker import enqueue_after_commit

log = logging.getLogger(__name__)

# A traject's progress as the platform sees it (AGS activityProgress / gradingProgress).
STARTED, IN_PROGRESS, COMPLETED = "Started", "InProgress", "Completed"
#: Seconds to wait before each retry of a transient failure; after the last, the row fails and
#: waits for the coach's "send again".
BACKOFF = (30, 120, 600, 3600, 6 * 3600)
LOCK_SECONDS = 120
# A score still pending this long after it was queued, with no retry planned, lost its task.
LOST_AFTER_SECONDS = 600
# A retry this long past its time has no task coming (its wait was left to the sweep, or the
# task was lost); before that, the countdown task queued for it may still be on its way.
SWEEP_GRACE_SECONDS = 120
ROSTER_STALE = timedelta(hours=12)
#: Line items the tool makes carry this resource id, so a retry finds them instead of making
#: another (and a line item made by deep linking is found the same way).
RESOURCE_ID = "beeldcoach-traject-{id}"
TAG = "beeldcoach"

#: Reason codes of failures, as the coach reads them.
ERROR_TEXTS = {
    "no_service": _l(
        "The learning platform has not offered its gradebook service for this course yet. "
        "It is used once someone opens Beeldcoach from the course."
    ),
    "unreachable": _l("The learning platform could not be reached."),
    "platform_error": _l("The learning platform reported an error."),
    "rate_limited": _l("The learning platform asked to wait a moment."),
    "not_allowed": _l("The learning platform did not allow this (check the tool's services)."),
    "token_refused": _l("The learning platform refused the tool's sign-in for its services."),
    "not_found": _l("The gradebook column no longer exists in the learning platform."),
    "refused": _l("The learning platform refused the result (is the teacher a student there?)."),
    "bad_answer": _l("The learning platform sent an answer the tool cannot read."),
    "bad_url": _l("The learning platform gave an invalid service address."),
    "conflict": _l("The learning platform already holds a newer result."),
    "no_user": _l("This person is not known in the learning platform."),
}


def error_text(code: str | None) -> object:
    return ERROR_TEXTS.get(code or "", _l("Something went wrong."))


# --- what a launch tells us ---------------------------------------------------------------------


def remember_launch(course_id: int, user_id: int, body: dict[str, Any]) -> None:
    """Keep the launch's service endpoints per course and resource link; attach a deep-linked
    traject's line item; mark the person present on the roster; queue what was waiting for the
    services. Called by sign-in (flushes)."""
    from lti_tool.launch.claims import CLAIM

    claims = service_claims(body)
    link = body.get(CLAIM + "resource_link")
    link = link if isinstance(link, dict) else {}
    link_id = str(link.get("id")) if link.get("id") is not None else ""
    custom = body.get(CLAIM + "custom")
    custom = custom if isinstance(custom, dict) else {}
    traject_id = _int(custom.get("beeldcoach_traject"))
    now = utcnow()
    if link_id or any(claims.values()):
        insert_or_ignore(
            ResourceLink,
            course_id=course_id,
            resource_link_id=link_id[:255],
            ags_scopes=[],
            last_launch_at=now,
            created_at=now,
        )
        row = db.session.scalars(
            sa.select(ResourceLink).where(
                ResourceLink.course_id == course_id,
                ResourceLink.resource_link_id == link_id[:255],
            )
        ).one()
        title = link.get("title")
        row.title = title[:255] if isinstance(title, str) else row.title
        row.lineitems_url = claims["lineitems_url"]
        row.lineitem_url = claims["lineitem_url"]
        row.ags_scopes = claims["ags_scopes"]
        row.memberships_url = claims["memberships_url"] or row.memberships_url
        row.last_launch_at = now
        traject = db.session.get(Traject, traject_id) if traject_id else None
        if traject is not None and traject.course_id == course_id:
            row.traject_id = traject.id
            if claims["lineitem_url"]:
                _adopt_line_item(traject.id, claims["lineitem_url"])
    # Someone launching from the course is in it, whatever the last roster said.
    db.session.execute(
        sa.update(RosterMember)
        .where(
            RosterMember.user_id == user_id,
            RosterMember.left_at.is_not(None),
            RosterMember.roster_id.in_(
                sa.select(CourseRoster.id).where(CourseRoster.course_id == course_id)
            ),
        )
        .values(left_at=None, seen_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.flush()
    if claims["memberships_url"] and roster_is_stale(course_id):
        request_roster_refresh(course_id)
    if claims["lineitems_url"] or claims["lineitem_url"]:
        _wake_waiting_scores(course_id)


def _adopt_line_item(traject_id: int, url: str) -> None:
    """The line item the platform made when the traject was placed by deep linking."""
    insert_or_ignore(LineItem, traject_id=traject_id, created_at=utcnow())
    item = db.session.scalars(sa.select(LineItem).where(LineItem.traject_id == traject_id)).one()
    if item.url is None:
        item.url = url
        item.source = "deep_link"


def _wake_waiting_scores(course_id: int) -> None:
    waiting = db.session.scalars(
        sa.select(ScoreSend.traject_id)
        .join(Traject, Traject.id == ScoreSend.traject_id)
        .where(
            Traject.course_id == course_id,
            ScoreSend.status == SCORE_PENDING,
            ScoreSend.error == "no_service",
        )
        .distinct()
    ).all()
    for traject_id in waiting:
        _enqueue_send(traject_id)


def _int(value: object) -> int | None:
    text = str(value) if isinstance(value, str | int) else ""
    if not text.isascii() or not text.isdigit() or len(text) > 9:
        return None
    return int(text)


# --- the traject progressed: scores for the platform --------------------------------------------


def gradable_participants(traject: Traject) -> list[int]:
    """Whose progress the platform receives: the coached teacher; in a team traject the team
    members. A child traject is never announced in a course, so it sends nothing."""
    from lti_tool.cycles.models import Participant

    role = {KIND_TEACHER: P_TEACHER, KIND_TEAM: P_TEAM_MEMBER}.get(traject.kind)
    if role is None:
        return []
    # A query, not traject.participants: loading the collection here would leave a stale copy
    # in the caller's session (objects are not expired between steps).
    ids = db.session.scalars(
        sa.select(Participant.user_id).where(
            Participant.traject_id == traject.id,
            Participant.role == role,
            Participant.user_id.is_not(None),
        )
    )
    return sorted({i for i in ids if i is not None})


def traject_progressed(traject: Traject, event: str) -> None:
    """The hook the traject's services call: `started`, `cycle-N` or `completed`. Writes the
    scores into the outbox (flush); a task sends them after commit."""
    if event == "started" and traject.kind == KIND_TEACHER:
        for teacher_id in gradable_participants(traject):
            ensure_contribution(traject, teacher_id)
    if event == "started":
        activity, grading = STARTED, "NotReady"
    elif event == "completed":
        # A teacher's result is graded when they approve their POP contribution.
        activity = COMPLETED
        grading = "Pending" if traject.kind == KIND_TEACHER else "NotReady"
    else:
        activity, grading = IN_PROGRESS, "NotReady"
    queued = False
    for user_id in gradable_participants(traject):
        queued = _queue_score(traject.id, user_id, event, activity, grading) or queued
    if queued:
        _enqueue_send(traject.id)


def _queue_score(
    traject_id: int,
    user_id: int,
    event: str,
    activity: str,
    grading: str,
    score: float | None = None,
    comment: str | None = None,
) -> bool:
    exists = db.session.scalar(
        sa.select(ScoreSend.id).where(
            ScoreSend.traject_id == traject_id,
            ScoreSend.user_id == user_id,
            ScoreSend.event == event,
        )
    )
    if exists is not None:
        return False  # nothing is queued twice
    now = utcnow().replace(microsecond=0)
    last = db.session.scalar(
        sa.select(sa.func.max(ScoreSend.timestamp)).where(
            ScoreSend.traject_id == traject_id, ScoreSend.user_id == user_id
        )
    )
    if last is not None:
        last = last.replace(tzinfo=UTC) if last.tzinfo is None else last
    # Moodle keeps a score only if its timestamp is later, to the second, than the stored one.
    timestamp = max(now, last + timedelta(seconds=1)) if last is not None else now
    db.session.add(
        ScoreSend(
            traject_id=traject_id,
            user_id=user_id,
            event=event[:32],
            activity_progress=activity,
            grading_progress=grading,
            score_given=score,
            score_maximum=1.0 if score is not None else None,
            comment=comment,
            timestamp=timestamp,
            status=SCORE_PENDING,
        )
    )
    db.session.flush()
    return True


def _enqueue_send(traject_id: int) -> None:
    enqueue_after_commit(tasks.send_scores, traject_id)


def score_payload(row: ScoreSend, user: User) -> dict[str, Any]:
    """The AGS score as Moodle requires it: userId, timestamp, activityProgress and
    gradingProgress always; scoreGiven only with scoreMaximum."""
    payload: dict[str, Any] = {
        "userId": user.sub,
        "timestamp": row.timestamp.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00"),
        "activityProgress": row.activity_progress,
        "gradingProgress": row.grading_progress,
    }
    if row.score_given is not None:
        payload["scoreGiven"] = row.score_given
        payload["scoreMaximum"] = row.score_maximum or 1.0
    if row.comment:
        payload["comment"] = row.comment
    return payload


# --- sending (outcomes.tasks.send_scores calls these and commits between steps) -------------


def lock_traject(traject_id: int, now: datetime | None = None) -> datetime | None:
    """Take the traject's send lock (one sender at a time keeps scores in order and makes the
    line item once); the lock's expiry doubles as its owner token. The caller commits right
    after, so other processes see it."""
    now = now or utcnow()
    if db.session.get(Traject, traject_id) is None:
        return None
    insert_or_ignore(LineItem, traject_id=traject_id, created_at=now)
    until = now + timedelta(seconds=LOCK_SECONDS)
    result = db.session.execute(
        sa.update(LineItem)
        .where(
            LineItem.traject_id == traject_id,
            sa.or_(LineItem.locked_until.is_(None), LineItem.locked_until < now),
        )
        .values(locked_until=until)
        .execution_options(synchronize_session=False)
    )
    return until if getattr(result, "rowcount", 0) == 1 else None


def extend_lock(traject_id: int, held: datetime) -> datetime | None:
    """Keep holding the lock for another LOCK_SECONDS; None when it was lost meanwhile."""
    until = utcnow() + timedelta(seconds=LOCK_SECONDS)
    result = db.session.execute(
        sa.update(LineItem)
        .where(LineItem.traject_id == traject_id, LineItem.locked_until == held)
        .values(locked_until=until)
        .execution_options(synchronize_session=False)
    )
    return until if getattr(result, "rowcount", 0) == 1 else None


def unlock_traject(traject_id: int, held: datetime | None = None) -> None:
    """Release the lock, but only our own (after an expiry someone else may hold it)."""
    query = sa.update(LineItem).where(LineItem.traject_id == traject_id)
    if held is not None:
        query = query.where(LineItem.locked_until == held)
    db.session.execute(query.values(locked_until=None).execution_options(synchronize_session=False))


def due_trajects(now: datetime | None = None) -> list[int]:
    """Trajects whose next score should be on its way and has no task for it: a retry whose
    time came a while ago (a wait too long for the broker, or its task was lost), or a score
    queued a while ago that was never tried. Only each traject's first pending score counts:
    the rest wait behind it. One waiting for the platform's gradebook service is left to the
    launch that brings it; a retry due just now still has its own task coming."""
    now = now or utcnow()
    late = now - timedelta(seconds=SWEEP_GRACE_SECONDS)
    lost = now - timedelta(seconds=LOST_AFTER_SECONDS)
    first: dict[int, ScoreSend] = {}
    for row in db.session.scalars(
        sa.select(ScoreSend)
        .where(ScoreSend.status == SCORE_PENDING)
        .order_by(ScoreSend.traject_id, ScoreSend.timestamp, ScoreSend.id)
    ):
        first.setdefault(row.traject_id, row)
    due = []
    for traject_id, row in first.items():
        if row.error == "no_service":
            continue
        if row.next_attempt_at is not None:
            if row.next_attempt_at <= late:
                due.append(traject_id)
        elif row.created_at < lost:
            due.append(traject_id)
    return due


def next_pending(traject_id: int) -> ScoreSend | None:
    """The oldest unsent score of the traject: scores leave in the order they happened."""
    return db.session.scalar(
        sa.select(ScoreSend)
        .where(ScoreSend.traject_id == traject_id, ScoreSend.status == SCORE_PENDING)
        .order_by(ScoreSend.timestamp, ScoreSend.id)
        .limit(1)
    )


@dataclass(frozen=True)
class SendOutcome:
    """What became of one score: sent, waiting (no service yet), retry (at `retry_at`), failed."""

    state: str
    retry_at: datetime | None = None


def send_one(row: ScoreSend, now: datetime | None = None) -> SendOutcome:
    """Send one outbox row (flushes). A 409 means the platform holds a score at least this
    new: the retry of a score it already stored, so it counts as sent."""
    now = now or utcnow()
    traject = db.session.get(Traject, row.traject_id)
    user = db.session.get(User, row.user_id)
    course = db.session.get(Course, traject.course_id) if traject is not None else None
    platform = db.session.get(Platform, course.platform_id) if course is not None else None
    if traject is None or user is None or platform is None:
        return _fail(row, ServiceError("no_user"))
    if user.issuer != platform.issuer:
        return _fail(row, ServiceError("no_user"))
    client = ServiceClient(platform)
    row.attempts += 1
    try:
        url = resolve_line_item(traject, client)
        status = client.post_score(url, score_payload(row, user))
    except ServiceError as exc:
        if exc.code == "no_service":
            row.attempts -= 1  # nothing was tried
            row.error = "no_service"
            db.session.flush()
            return SendOutcome("waiting")
        if exc.code == "not_found":
            # The column was deleted in the gradebook: find or make it again on "send again".
            item = db.session.scalar(sa.select(LineItem).where(LineItem.traject_id == traject.id))
            if item is not None and item.source != "deep_link":
                item.url = None
        if exc.transient and row.attempts <= len(BACKOFF):
            row.error = exc.code
            row.error_detail = exc.detail
            row.http_status = exc.status
            row.next_attempt_at = now + timedelta(seconds=BACKOFF[row.attempts - 1])
            db.session.flush()
            log.info("score %s: %s, retry at %s", row.id, exc.code, row.next_attempt_at)
            return SendOutcome("retry", row.next_attempt_at)
        return _fail(row, exc)
    row.status = SCORE_SENT
    row.sent_at = now
    row.http_status = status
    row.error = None
    row.error_detail = None
    row.next_attempt_at = None
    db.session.flush()
    return SendOutcome("sent")


def _fail(row: ScoreSend, exc: ServiceError) -> SendOutcome:
    row.status = SCORE_FAILED
    row.error = exc.code
    row.error_detail = exc.detail
    row.http_status = exc.status
    row.next_attempt_at = None
    db.session.flush()
    log.warning("score %s failed: %s %s", row.id, exc.code, exc.detail[:200])
    return SendOutcome("failed")


def resolve_line_item(traject: Traject, client: ServiceClient) -> str:
    """The traject's line item URL: the one deep linking made, else one found in the course's
    container by its resource id, else a new one (made once: the caller holds the lock)."""
    item = db.session.scalars(sa.select(LineItem).where(LineItem.traject_id == traject.id)).one()
    if item.url:
        return item.url
    placed = db.session.scalar(
        sa.select(ResourceLink)
        .where(
            ResourceLink.course_id == traject.course_id,
            ResourceLink.traject_id == traject.id,
            ResourceLink.lineitem_url.is_not(None),
        )
        .order_by(ResourceLink.last_launch_at.desc())
        .limit(1)
    )
    if placed is not None and placed.lineitem_url:
        item.url, item.source = placed.lineitem_url, "deep_link"
        db.session.flush()
        return item.url
    container = db.session.scalar(
        sa.select(ResourceLink)
        .where(
            ResourceLink.course_id == traject.course_id,
            ResourceLink.lineitems_url.is_not(None),
        )
        .order_by(ResourceLink.last_launch_at.desc())
        .limit(1)
    )
    if (
        container is None
        or not container.lineitems_url
        or SCOPE_LINEITEM not in (container.ags_scopes or [])
        or SCOPE_SCORE not in (container.ags_scopes or [])
    ):
        raise ServiceError("no_service")
    resource_id = RESOURCE_ID.format(id=traject.id)
    found = client.line_items(container.lineitems_url, resource_id=resource_id)
    if found:
        item.url, item.source = str(found[0]["id"]), "found"
    else:
        with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
            label = _("Beeldcoach: coaching traject")  # neutral: the course sees it
        created = client.create_line_item(
            container.lineitems_url,
            {"scoreMaximum": 1, "label": label, "resourceId": resource_id, "tag": TAG},
        )
        item.url, item.source = str(created["id"]), "created"
    db.session.flush()
    return item.url


def send_again(actor_id: int, traject_id: int) -> int:
    """The coach's "send again": failed scores of the traject go back into the outbox."""
    if P_COACH not in roles_in(traject_id, actor_id):
        raise Forbidden("send_again")
    rows = db.session.scalars(
        sa.select(ScoreSend).where(
            ScoreSend.traject_id == traject_id,
            sa.or_(
                ScoreSend.status == SCORE_FAILED,
                sa.and_(ScoreSend.status == SCORE_PENDING, ScoreSend.error.is_not(None)),
            ),
        )
    ).all()
    for row in rows:
        row.status = SCORE_PENDING
        row.attempts = 0
        row.next_attempt_at = None
        row.error = None
        row.error_detail = None
    db.session.flush()
    if rows:
        _enqueue_send(traject_id)
    return len(rows)


# --- the POP contribution ---------------------------------------------------------------------


def pop_allowed(traject: Traject, user_id: int) -> bool:
    """A POP contribution is the coached teacher's, from a teacher traject."""
    return traject.kind == KIND_TEACHER and P_TEACHER in roles_in(traject.id, user_id)


def ensure_contribution(traject: Traject, teacher_id: int) -> PopContribution:
    contribution = db.session.scalar(
        sa.select(PopContribution).where(
            PopContribution.traject_id == traject.id, PopContribution.teacher_id == teacher_id
        )
    )
    if contribution is None:
        contribution = PopContribution(
            traject_id=traject.id, teacher_id=teacher_id, title=traject.title[:200]
        )
        contribution.versions.append(PopVersion(number=1, edits={}))
        db.session.add(contribution)
        db.session.flush()
    return contribution


def start_contribution(actor_id: int, traject_id: int) -> PopContribution:
    traject = db.session.get(Traject, traject_id)
    if traject is None or not pop_allowed(traject, actor_id):
        raise Forbidden("view_pop")
    return ensure_contribution(traject, actor_id)


def own_contribution(actor_id: int, contribution_id: int) -> PopContribution:
    contribution = db.session.get(PopContribution, contribution_id)
    if contribution is None or contribution.teacher_id != actor_id:
        raise Forbidden("view_pop")
    return contribution


def readable_version(
    actor_id: int, contribution_id: int, number: int | None = None
) -> tuple[PopContribution, PopVersion]:
    """The version this person may read: the teacher any of theirs (the latest by default);
    the chosen manager only approved versions (the newest by default). Anyone else: Forbidden,
    also for ids that do not exist."""
    contribution = db.session.get(PopContribution, contribution_id)
    if contribution is None:
        raise Forbidden("view_pop")
    is_owner = contribution.teacher_id == actor_id
    is_manager = contribution.manager_id is not None and contribution.manager_id == actor_id
    if is_owner:
        versions = list(contribution.versions)
    elif is_manager:
        versions = [v for v in contribution.versions if v.approved_at is not None]
    else:
        raise Forbidden("view_pop")
    if number is not None:
        versions = [v for v in versions if v.number == number]
    if not versions:
        raise Forbidden("view_pop")
    return contribution, versions[-1]


def content_of(contribution: PopContribution, version: PopVersion) -> dict[str, Any]:
    """An approved version's frozen content, or a draft as the traject stands now."""
    if version.content is not None:
        return version.content
    traject = db.session.get(Traject, contribution.traject_id) if contribution.traject_id else None
    teacher = db.session.get(User, contribution.teacher_id)
    if traject is None or teacher is None:
        # The traject is gone: the draft keeps what was approved before, if anything.
        approved = contribution.approved
        return dict(approved.content or {}) if approved is not None else {}
    return pop.build_content(traject, teacher, version.edits or {})


def evidence_refs(contribution: PopContribution) -> set[str]:
    """The evidence items the traject offers (what a teacher's edit may name)."""
    traject = db.session.get(Traject, contribution.traject_id) if contribution.traject_id else None
    teacher = db.session.get(User, contribution.teacher_id)
    if traject is None or teacher is None:
        return set()
    full = pop.build_content(traject, teacher, {})
    evidence = full.get("evidence") or {}
    return {i["ref"] for i in evidence.get("strengths", []) + evidence.get("action_points", [])}


def _draft(actor_id: int, contribution_id: int) -> tuple[PopContribution, PopVersion]:
    contribution = own_contribution(actor_id, contribution_id)
    version = contribution.latest
    if version.approved_at is not None:
        raise StepRefused(
            "order", _l("This version is approved and stays as it is. Start a new version.")
        )
    return contribution, version


def save_draft(actor_id: int, contribution_id: int, form: dict[str, Any]) -> PopVersion:
    contribution, version = _draft(actor_id, contribution_id)
    refs = evidence_refs(contribution)
    version.edits = pop.clean_edits(form, refs)
    version.updated_at = utcnow()
    db.session.flush()
    return version


def approve(actor_id: int, contribution_id: int, pop_url: str) -> PopVersion:
    """The teacher approves: the content is frozen (timestamped), and the platform receives
    the completion with a comment linking back to the contribution."""
    contribution, version = _draft(actor_id, contribution_id)
    traject = db.session.get(Traject, contribution.traject_id) if contribution.traject_id else None
    if traject is None or traject.status != STATUS_COMPLETED:
        raise StepRefused(
            "order", _l("You can approve your POP contribution once the traject is completed.")
        )
    content = content_of(contribution, version)
    if not str(content.get("goal") or "").strip():
        raise StepRefused("required", _l("Write down your POP goal first."), "goal")
    now = utcnow()
    version.content = content
    version.approved_at = now
    version.approved_by_id = actor_id
    version.updated_at = now
    db.session.flush()
    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
        comment = _(
            "POP contribution approved by the teacher (version %(n)s): %(url)s",
            n=version.number,
            url=pop_url,
        )
    if _queue_score(
        traject.id, actor_id, f"pop-v{version.number}", COMPLETED, "FullyGraded", 1.0, comment
    ):
        _enqueue_send(traject.id)
    return version


def revise(actor_id: int, contribution_id: int) -> PopVersion:
    """A new draft version from the approved one; the approved one stays as it was."""
    contribution = own_contribution(actor_id, contribution_id)
    latest = contribution.latest
    if latest.approved_at is None:
        return latest
    version = PopVersion(number=latest.number + 1, edits=dict(latest.edits or {}))
    contribution.versions.append(version)
    db.session.flush()
    return version


def manager_choices(contribution: PopContribution) -> list[User]:
    """Who the teacher may let see the contribution: people of the traject's course."""
    from lti_tool.people.services import course_members

    traject = db.session.get(Traject, contribution.traject_id) if contribution.traject_id else None
    if traject is None:
        return []
    return [u for u in course_members(traject.course_id) if u.id != contribution.teacher_id]


def set_manager(actor_id: int, contribution_id: int, manager_id: int | None) -> PopContribution:
    contribution = own_contribution(actor_id, contribution_id)
    if manager_id is not None and manager_id not in {u.id for u in manager_choices(contribution)}:
        raise StepRefused("person", _l("Choose someone from this course."), "manager_id")
    contribution.manager_id = manager_id
    contribution.manager_changed_at = utcnow()
    db.session.flush()
    return contribution


def contributions_of(teacher_id: int) -> list[PopContribution]:
    """All of a teacher's contributions, over the years, newest first."""
    return list(
        db.session.scalars(
            sa.select(PopContribution)
            .where(PopContribution.teacher_id == teacher_id)
            .order_by(PopContribution.id.desc())
        )
    )


def shared_with(manager_id: int) -> list[PopContribution]:
    """Contributions a teacher let this person see, with an approved version."""
    rows = db.session.scalars(
        sa.select(PopContribution)
        .where(PopContribution.manager_id == manager_id)
        .order_by(PopContribution.id.desc())
    )
    return [c for c in rows if c.approved is not None]


def trajects_without_contribution(teacher_id: int) -> list[Traject]:
    from lti_tool.cycles.models import Participant

    return list(
        db.session.scalars(
            sa.select(Traject)
            .join(Participant, Participant.traject_id == Traject.id)
            .where(
                Participant.user_id == teacher_id,
                Participant.role == P_TEACHER,
                Traject.kind == KIND_TEACHER,
                ~Traject.id.in_(
                    sa.select(PopContribution.traject_id).where(
                        PopContribution.teacher_id == teacher_id,
                        PopContribution.traject_id.is_not(None),
                    )
                ),
            )
            .order_by(Traject.id.desc())
        )
    )


# --- the coach's view of what the platform received --------------------------------------------


def coached_trajects(coach_id: int, course_id: int | None) -> list[Traject]:
    from lti_tool.cycles.models import Participant

    query = (
        sa.select(Traject)
        .join(Participant, Participant.traject_id == Traject.id)
        .where(Participant.user_id == coach_id, Participant.role == P_COACH)
        .order_by(Traject.id.desc())
    )
    if course_id is not None:
        query = query.where(Traject.course_id == course_id)
    return list(db.session.scalars(query))


def sends_of(traject_id: int) -> list[ScoreSend]:
    return list(
        db.session.scalars(
            sa.select(ScoreSend)
            .where(ScoreSend.traject_id == traject_id)
            .order_by(ScoreSend.timestamp, ScoreSend.id)
        )
    )


def line_item_of(traject_id: int) -> LineItem | None:
    return db.session.scalar(sa.select(LineItem).where(LineItem.traject_id == traject_id))


# --- the roster (NRPS) ------------------------------------------------------------------------


def roster_of(course_id: int) -> CourseRoster | None:
    return db.session.scalar(sa.select(CourseRoster).where(CourseRoster.course_id == course_id))


def memberships_url(course_id: int) -> str | None:
    return db.session.scalar(
        sa.select(ResourceLink.memberships_url)
        .where(ResourceLink.course_id == course_id, ResourceLink.memberships_url.is_not(None))
        .order_by(ResourceLink.last_launch_at.desc())
        .limit(1)
    )


def roster_is_stale(course_id: int) -> bool:
    roster = roster_of(course_id)
    if roster is None:
        return True
    if roster.requested_at is not None and roster.requested_at > utcnow() - timedelta(minutes=10):
        # Asked for a moment ago (queued, running, or failed just now): launches do not pile
        # up requests; the coach can still refresh on demand.
        return False
    return roster.synced_at is None or roster.synced_at < utcnow() - ROSTER_STALE


def request_roster_refresh(course_id: int) -> CourseRoster:
    """Queue a roster refresh (after commit); the page shows the row's state."""
    insert_or_ignore(CourseRoster, course_id=course_id, status="queued", member_count=0,
                     created_at=utcnow())  # fmt: skip
    roster = db.session.scalars(
        sa.select(CourseRoster).where(CourseRoster.course_id == course_id)
    ).one()
    roster.status = "queued"
    roster.requested_at = utcnow()
    db.session.flush()
    enqueue_after_commit(tasks.sync_roster, course_id)
    return roster


def lock_roster(course_id: int) -> bool:
    now = utcnow()
    insert_or_ignore(CourseRoster, course_id=course_id, status="queued", member_count=0,
                     created_at=now)  # fmt: skip
    result = db.session.execute(
        sa.update(CourseRoster)
        .where(
            CourseRoster.course_id == course_id,
            sa.or_(CourseRoster.locked_until.is_(None), CourseRoster.locked_until < now),
        )
        .values(locked_until=now + timedelta(seconds=LOCK_SECONDS), status="running")
        .execution_options(synchronize_session=False)
    )
    return getattr(result, "rowcount", 0) == 1


def unlock_roster(course_id: int, failed: bool = False) -> None:
    values: dict[str, Any] = {"locked_until": None}
    if failed:
        values.update(status="failed", error="bad_answer")
    db.session.execute(
        sa.update(CourseRoster)
        .where(CourseRoster.course_id == course_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )


def sync_roster(course_id: int) -> CourseRoster:
    """Read the whole roster (every page) and bring people, memberships and the roster in
    line: new people are added, roles follow the platform, those gone or inactive are marked
    as having left. The caller holds the lock and commits."""
    roster = roster_of(course_id)
    course = db.session.get(Course, course_id)
    assert roster is not None
    platform = db.session.get(Platform, course.platform_id) if course is not None else None
    url = memberships_url(course_id)
    roster.locked_until = None
    if platform is None or course is None or not url:
        roster.status, roster.error = "failed", "no_service"
        db.session.flush()
        return roster
    try:
        members = list(ServiceClient(platform).memberships(url))
    except ServiceError as exc:
        roster.status, roster.error = "failed", exc.code
        db.session.flush()
        log.warning("roster of course %s: %s %s", course_id, exc.code, exc.detail[:200])
        return roster
    now = utcnow()
    existing = {m.user_id: m for m in roster.members}
    present: set[int] = set()
    for member in members:
        sub = member.get("user_id")
        if not isinstance(sub, str | int) or not str(sub) or len(str(sub)) > 255:
            continue
        user = _roster_user(platform.issuer, str(sub), member, now)
        raw_roles = member.get("roles")
        lti_roles = (
            [r for r in raw_roles if isinstance(r, str)] if isinstance(raw_roles, list) else []
        )
        active = str(member.get("status") or "Active").lower() == "active"
        entry = existing.get(user.id)
        if entry is None:
            entry = RosterMember(roster_id=roster.id, user_id=user.id)
            db.session.add(entry)
            existing[user.id] = entry
        entry.lti_roles = lti_roles[:20]
        entry.roles = map_roles(lti_roles)
        if active:
            present.add(user.id)
            entry.seen_at = now
            entry.left_at = None
            _roster_membership(user.id, course_id, entry.roles, now)
    for user_id, entry in existing.items():
        if user_id not in present and entry.left_at is None:
            entry.left_at = now
    roster.status, roster.error = "ready", None
    roster.synced_at = now
    roster.member_count = len(present)
    db.session.flush()
    return roster


def _roster_user(issuer: str, sub: str, member: dict[str, Any], now: datetime) -> User:
    insert_or_ignore(User, issuer=issuer, sub=sub, created_at=now)
    user = db.session.scalars(sa.select(User).where(User.issuer == issuer, User.sub == sub)).one()
    # Only what the platform shares; never blank out what a launch told us.
    for attr in ("name", "given_name", "family_name", "email"):
        value = member.get(attr)
        if isinstance(value, str) and value.strip():
            setattr(user, attr, value.strip()[:255])
    return user


def _roster_membership(user_id: int, course_id: int, roles: list[str], now: datetime) -> None:
    # last_launch_at cannot be empty; for someone the roster brought it is when they appeared.
    insert_or_ignore(
        Membership, user_id=user_id, course_id=course_id, roles=[], lti_roles=[],
        last_launch_at=now, created_at=now,
    )  # fmt: skip
    membership = db.session.scalars(
        sa.select(Membership).where(
            Membership.user_id == user_id, Membership.course_id == course_id
        )
    ).one()
    # The platform decides course roles; "admin" comes from launches only and is kept.
    kept = [ROLE_ADMIN] if ROLE_ADMIN in (membership.roles or []) else []
    # An NRPS role never makes anyone a school administrator here: that needs a launch.
    membership.roles = sorted((set(roles) - {ROLE_ADMIN}) | set(kept))


@dataclass(frozen=True)
class RosterEntry:
    user: User
    roles: tuple[str, ...]
    left_at: datetime | None
    from_roster: bool


def course_roster(course_id: int) -> list[RosterEntry]:
    """Everyone known in the course: from launches and from the roster; who left is marked."""
    members = db.session.execute(
        sa.select(User, Membership.roles)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.course_id == course_id)
        .order_by(User.name, User.id)
    ).all()
    roster = roster_of(course_id)
    entries = {m.user_id: m for m in roster.members} if roster is not None else {}
    result = []
    for user, roles in members:
        entry = entries.get(user.id)
        result.append(
            RosterEntry(
                user=user,
                roles=tuple(roles or ()),
                left_at=entry.left_at if entry is not None else None,
                from_roster=entry is not None,
            )
        )
    return result


# --- the teacher removes a contribution kept after its traject -------------------------------


def removable_contribution(actor_id: int, contribution_id: int) -> PopContribution:
    """The contribution if it is the actor's. The manager the teacher chose (who may know it
    exists) is told why not; anyone else gets the refusal that does not tell an unknown id
    from a forbidden one."""
    contribution = db.session.get(PopContribution, contribution_id)
    if contribution is not None and contribution.teacher_id == actor_id:
        return contribution
    if contribution is not None and contribution.manager_id == actor_id:
        raise StepRefused(
            "forbidden", _l("Only the teacher whose POP contribution this is can remove it.")
        )
    raise Forbidden("remove_pop")


def remove_contribution(
    actor_id: int, contribution_id: int, *, launch_id: str | None, platform_id: int | None
) -> int:
    """The teacher removes a contribution they kept when they removed its traject: it goes
    with every version (approved or draft), and one `pop.remove` event says who removed which
    contribution and how many versions, never text. A contribution that still belongs to a
    traject goes with the traject's removal instead (StepRefused "order"). Returns the number
    of versions removed."""
    from lti_tool.privacy import audit

    removable_contribution(actor_id, contribution_id)
    # Read afresh and locked: a second removal at the same moment waits for ours, then finds
    # nothing (Forbidden) instead of deleting a row that is gone.
    contribution = db.session.scalar(
        sa.select(PopContribution)
        .where(PopContribution.id == contribution_id, PopContribution.teacher_id == actor_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if contribution is None:
        raise Forbidden("remove_pop")
    if contribution.traject_id is not None:
        raise StepRefused(
            "order",
            _l(
                "This POP contribution still belongs to its traject: it goes with the traject "
                "when you remove that, unless you choose to keep it then. A contribution you "
                "kept can be removed on its own afterwards."
            ),
        )
    versions = len(contribution.versions)
    approved = sum(1 for v in contribution.versions if v.approved_at is not None)
    db.session.delete(contribution)  # its versions go by cascade
    db.session.flush()
    audit.record(
        audit.POP_REMOVE, actor_id=actor_id, launch_id=launch_id, platform_id=platform_id,
        item=("pop_contribution", contribution_id), owner_id=actor_id,
        detail={"versions": versions, "approved_versions": approved},
    )  # fmt: skip
    db.session.flush()
    return versions
