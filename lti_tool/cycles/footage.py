"""A cycle's footage: who may see which recording or montage, where uploads may go, and the
coach's montage. The pipeline itself lives in lti_tool.media; this module joins it to the
traject (imports flow cycles -> media).

Visibility (decided by privacy.access.footage_decision; this module gathers the facts): the
coach of the traject sees every recording and montage of its cycles. The filmed teacher sees
them once the coach has shared the cycle: before that the coach is still analysing and editing.
Anyone else sees only what the filmed teacher released to them, for a limited time, and in a
child traject only under the parents' consent.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import g, has_request_context
from flask_babel import lazy_gettext as _l

from lti_tool.cycles.access import require, roles_in
from lti_tool.cycles.models import STATUS_CYCLES, Cycle, Participant, Traject
from lti_tool.cycles.services import StepRefused
from lti_tool.db import db, utcnow
from lti_tool.media import services as media
from lti_tool.media.models import (
    MONTAGE_READY,
    MONTAGE_RENDERING,
    REC_READY,
    Montage,
    Recording,
)
from lti_tool.people.models import Course
from lti_tool.privacy import audit
from lti_tool.privacy import services as privacy
from lti_tool.privacy.access import (
    AUDIENCE_ROLE,
    CONSENT_SCOPES,
    KIND_CHILD,
    KIND_TEAM,
    P_COACH,
    P_TEACHER,
    P_TEAM_MEMBER,
    SCOPE_FILMING,
    FootageFacts,
    Forbidden,
    footage_decision,
    may_release_to,
    scope_for_audience,
)

# Steps in which recordings may be added: until the cycle is shared with the teacher.
UPLOAD_STEPS = ("planned", "recorded", "analysed")
ITEM_KINDS = ("recording", "montage")
MAX_CLIPS = 40
MAX_MONTAGE_MS = 30 * 60 * 1000


def _cycle_of(traject: Traject, number: int) -> Cycle:
    cycle = next((c for c in traject.cycles if c.number == number), None)
    if cycle is None:
        raise StepRefused("not_found", _l("This cycle does not exist."))
    return cycle


def is_coach(user_id: int, traject: Traject) -> bool:
    return P_COACH in roles_in(traject.id, user_id)


def _consent(traject: Traject) -> frozenset[str]:
    if traject.kind != KIND_CHILD:
        return frozenset(CONSENT_SCOPES)
    return privacy.consent_scopes(traject.id)


def platform_of(traject: Traject) -> int | None:
    return db.session.scalar(sa.select(Course.platform_id).where(Course.id == traject.course_id))


def teacher_of(traject: Traject) -> int | None:
    return db.session.scalar(
        sa.select(Participant.user_id)
        .where(Participant.traject_id == traject.id, Participant.role == P_TEACHER)
        .limit(1)
    )


def owner_of(traject: Traject, kind: str, item: Recording | Montage) -> int | None:
    """The filmed teacher, who owns the footage: the traject's teacher; in a team traject the
    team member the coach named as filmed (a montage: the one filmed in all its clips)."""
    if traject.kind != KIND_TEAM:
        return teacher_of(traject)
    row = privacy.footage_privacy(kind, item.id)
    if row is not None and row.filmed_user_id is not None:
        return row.filmed_user_id
    if isinstance(item, Montage):
        owners = {
            privacy_row.filmed_user_id if privacy_row else None
            for privacy_row in (
                privacy.footage_privacy("recording", int(c.get("recording_id") or 0))
                for c in (item.clips or [])
            )
        }
        if len(owners) == 1:
            return owners.pop()
    return None


def _released_to(user_id: int, traject: Traject, kind: str, item_id: int, roles: set[str]) -> bool:
    mine = set(
        db.session.scalars(
            sa.select(Participant.id).where(
                Participant.traject_id == traject.id, Participant.user_id == user_id
            )
        )
    )
    for release in privacy.active_releases(traject.id):
        if release.item_kind != kind or release.item_id != item_id:
            continue
        if release.participant_id is not None:
            if release.participant_id in mine:
                return True
        elif AUDIENCE_ROLE[release.audience] in roles:
            return True
    return False


def _facts(
    user_id: int, traject: Traject, cycle: Cycle, item: Recording | Montage, roles: set[str]
) -> FootageFacts:
    kind = "montage" if isinstance(item, Montage) else "recording"
    is_coach_ = P_COACH in roles
    return FootageFacts(
        kind=traject.kind,
        roles=frozenset(roles),
        is_owner=owner_of(traject, kind, item) == user_id,
        is_montage=isinstance(item, Montage),
        cycle_shared=cycle.shared_at is not None,
        montage_shared=not isinstance(item, Montage) or item.shared_at is not None,
        released_to=False if is_coach_ else _released_to(user_id, traject, kind, item.id, roles),
        consent=_consent(traject),
        cleared=is_coach_ or privacy.is_cleared(traject.course_id, kind, item.id),
    )


def may_see(user_id: int, traject: Traject, cycle: Cycle, item: Recording | Montage) -> bool:
    """The footage decision (privacy.access.footage_decision) for one person and one item."""
    roles = roles_in(traject.id, user_id)
    if not roles:
        return False
    return footage_decision(_facts(user_id, traject, cycle, item, roles))


def may_see_cycle_footage(user_id: int, traject: Traject, cycle: Cycle) -> bool:
    """Whether the person sees any footage of the cycle at all (the footage listing)."""
    roles = roles_in(traject.id, user_id)
    if not roles:
        return False
    if traject.kind == KIND_CHILD and SCOPE_FILMING not in _consent(traject):
        return False
    if P_COACH in roles:
        return True
    items: list[Recording | Montage] = [
        *db.session.scalars(sa.select(Recording).where(Recording.cycle_id == cycle.id)),
        *db.session.scalars(sa.select(Montage).where(Montage.cycle_id == cycle.id)),
    ]
    return any(footage_decision(_facts(user_id, traject, cycle, i, roles)) for i in items)


def _item(kind: str, item_id: int) -> Recording | Montage | None:
    if kind == "recording":
        return db.session.get(Recording, item_id)
    if kind == "montage":
        return db.session.get(Montage, item_id)
    return None


def locate(kind: str, item_id: int) -> tuple[Traject, Cycle, Recording | Montage] | None:
    item = _item(kind, item_id)
    if item is None:
        return None
    cycle = db.session.get(Cycle, item.cycle_id)
    if cycle is None:
        return None
    traject = db.session.get(Traject, cycle.traject_id)
    if traject is None:
        return None
    return traject, cycle, item


def may_view(user_id: int, kind: str, item_id: int) -> bool:
    """Checked again on every byte-range request of a signed URL, so that access withdrawn a
    moment ago (a removed participant, a withdrawn consent, a revoked or expired release)
    ends at once. Personal-data exports are their owner's only."""
    if kind == "export":
        from lti_tool.privacy.models import DataExport

        export = db.session.get(DataExport, item_id)
        return (
            export is not None
            and export.user_id == user_id
            and export.expires_at is not None
            and export.expires_at > utcnow()
        )
    if kind == "consent":
        from lti_tool.privacy.models import Consent

        consent = db.session.get(Consent, item_id)
        traject = db.session.get(Traject, consent.traject_id) if consent else None
        return traject is not None and is_coach(user_id, traject)
    found = locate(kind, item_id)
    if found is None:
        return False
    traject, cycle, item = found
    return may_see(user_id, traject, cycle, item)


def require_footage(user_id: int, traject_id: int, number: int) -> tuple[Traject, Cycle]:
    """The traject and cycle when the person takes part in the traject (any role); what they
    may see in it is decided per item."""
    traject = db.session.get(Traject, traject_id)
    if traject is None or not roles_in(traject_id, user_id):
        raise Forbidden("view_footage")
    cycle = next((c for c in traject.cycles if c.number == number), None)
    if cycle is None:
        raise Forbidden("view_footage")
    return traject, cycle


def require_item(
    user_id: int, traject_id: int, number: int, kind: str, item_id: int
) -> tuple[Traject, Cycle, Recording | Montage]:
    traject, cycle = require_footage(user_id, traject_id, number)
    item = _item(kind, item_id)
    if item is None or item.cycle_id != cycle.id or not may_see(user_id, traject, cycle, item):
        raise Forbidden("view_footage")
    return traject, cycle, item


def may_download(user_id: int, traject: Traject, cycle: Cycle, item: Recording | Montage) -> bool:
    """Downloads are off unless the school allows them, and then for coaches only."""
    if not privacy.policy_for(platform_of(traject)).coach_downloads:
        return False
    return is_coach(user_id, traject) and may_see(user_id, traject, cycle, item)


def may_download_item(user_id: int, kind: str, item_id: int) -> bool:
    found = locate(kind, item_id)
    return found is not None and may_download(user_id, *found)


def consent_missing(traject: Traject) -> bool:
    """A child traject accepts no recording until the parents' consent for filming is on file."""
    return traject.kind == KIND_CHILD and SCOPE_FILMING not in _consent(traject)


def upload_target(user_id: int, traject_id: int, number: int) -> Cycle:
    """Where a new recording may go: the coach's own traject, a running cycle not yet shared."""
    traject = require(user_id, traject_id, "coach_step")
    if traject.status != STATUS_CYCLES:
        raise StepRefused("order", _l("The video cycles have not started, or are over."))
    cycle = _cycle_of(traject, number)
    if cycle.step not in UPLOAD_STEPS:
        raise StepRefused(
            "order", _l("Recordings are added before the footage is shared with the teacher.")
        )
    if consent_missing(traject):
        raise StepRefused(
            "consent",
            _l("Record the parents' consent for filming before adding recordings."),
        )
    return cycle


def recordings_of(user_id: int, traject: Traject, cycle: Cycle) -> list[Recording]:
    query = sa.select(Recording).where(Recording.cycle_id == cycle.id).order_by(Recording.id)
    if not is_coach(user_id, traject):
        query = query.where(Recording.status == REC_READY)
    return [r for r in db.session.scalars(query) if may_see(user_id, traject, cycle, r)]


def montages_of(user_id: int, traject: Traject, cycle: Cycle) -> list[Montage]:
    query = sa.select(Montage).where(Montage.cycle_id == cycle.id).order_by(Montage.id)
    if not is_coach(user_id, traject):
        query = query.where(Montage.shared_at.is_not(None), Montage.status == MONTAGE_READY)
    return [m for m in db.session.scalars(query) if may_see(user_id, traject, cycle, m)]


def coach_recording(user_id: int, traject_id: int, number: int, recording_id: int) -> Recording:
    traject = require(user_id, traject_id, "coach_step")
    cycle = _cycle_of(traject, number)
    recording = db.session.get(Recording, recording_id)
    if recording is None or recording.cycle_id != cycle.id:
        raise Forbidden("coach_step")
    return recording


def coach_montage(user_id: int, traject_id: int, number: int, montage_id: int) -> Montage:
    traject = require(user_id, traject_id, "coach_step")
    cycle = _cycle_of(traject, number)
    montage = db.session.get(Montage, montage_id)
    if montage is None or montage.cycle_id != cycle.id:
        raise Forbidden("coach_step")
    return montage


def _clips(cycle: Cycle, raw: Any) -> list[dict[str, Any]]:
    """Clips in order, each (recording of this cycle, in, out) within the recording."""
    if not isinstance(raw, list) or not raw:
        raise StepRefused("clips", _l("Add at least one clip."), "clips")
    if len(raw) > MAX_CLIPS:
        raise StepRefused("clips", _l("A montage has at most 40 clips."), "clips")
    recordings = {
        r.id: r
        for r in db.session.scalars(
            sa.select(Recording).where(
                Recording.cycle_id == cycle.id, Recording.status == REC_READY
            )
        )
    }
    clips: list[dict[str, Any]] = []
    total = 0
    for position, item in enumerate(raw):
        field = f"clips[{position}]"
        if not isinstance(item, dict):
            raise StepRefused("clips", _l("Add at least one clip."), field)
        recording = recordings.get(item.get("recording_id"))  # type: ignore[arg-type]
        if recording is None:
            raise StepRefused("media", _l("This recording is not available."), field)
        start, end = item.get("in_ms"), item.get("out_ms")
        if (
            not isinstance(start, int)
            or not isinstance(end, int)
            or isinstance(start, bool)
            or isinstance(end, bool)
            or start < 0
            or end <= start
            or end > (recording.duration_ms or 0)
        ):
            raise StepRefused(
                "time", _l("A clip starts before it ends, within its recording."), field
            )
        caption = item.get("caption") or ""
        if not isinstance(caption, str) or len(caption) > 300 or "\x00" in caption:
            raise StepRefused("too_long", _l("This text is too long."), field)
        total += end - start
        clips.append(
            {"recording_id": recording.id, "in_ms": start, "out_ms": end, "caption": caption}
        )
    if total > MAX_MONTAGE_MS:
        raise StepRefused("clips", _l("A montage lasts at most 30 minutes."), "clips")
    return clips


def save_montage(
    actor_id: int, traject_id: int, number: int, form: dict[str, Any], montage_id: int | None
) -> Montage:
    """Create or change the coach's montage of a cycle (a draft until rendered)."""
    traject = require(actor_id, traject_id, "coach_step")
    cycle = _cycle_of(traject, number)
    if cycle.step not in UPLOAD_STEPS:
        raise StepRefused(
            "order", _l("The montage is edited before the footage is shared with the teacher.")
        )
    clips = _clips(cycle, form.get("clips"))
    title = form.get("title") or ""
    if not isinstance(title, str) or len(title) > 200:
        raise StepRefused("too_long", _l("This text is too long."), "title")
    if montage_id is None:
        montage = Montage(cycle_id=cycle.id, created_by_id=actor_id)
        db.session.add(montage)
    else:
        montage = coach_montage(actor_id, traject_id, number, montage_id)
        if montage.status == MONTAGE_RENDERING:
            raise StepRefused("order", _l("Wait until the montage has been rendered."))
    montage.title = title.strip()
    montage.clips = clips
    montage.fade = bool(form.get("fade"))
    db.session.flush()
    return montage


def render_montage(actor_id: int, traject_id: int, number: int, montage_id: int) -> Montage:
    montage = coach_montage(actor_id, traject_id, number, montage_id)
    if montage.status == MONTAGE_RENDERING:
        return montage
    media.queue_montage(montage)
    db.session.flush()
    return montage


def share_footage(cycle: Cycle) -> None:
    """Sharing a cycle shares its rendered montages with the teacher (called by the share
    step), and the share is audited."""
    now = utcnow()
    launch = g.get("launch") if has_request_context() else None
    traject = db.session.get(Traject, cycle.traject_id)
    audit.record(
        audit.CYCLE_SHARE,
        actor_id=launch.user_id if launch is not None else None,
        launch_id=launch.id if launch is not None else None,
        platform_id=platform_of(traject) if traject is not None else None,
        traject_id=cycle.traject_id,
        item=("cycle", cycle.id),
        owner_id=teacher_of(traject) if traject is not None else None,
    )
    for montage in db.session.scalars(
        sa.select(Montage).where(
            Montage.cycle_id == cycle.id,
            Montage.status == MONTAGE_READY,
            Montage.shared_at.is_(None),
        )
    ):
        montage.shared_at = now


def media_exists_in_cycle(cycle: Cycle, kind: str | None, item_id: int | None) -> bool:
    """A marker may point at a recording or montage of its own cycle only."""
    if kind is None and item_id is None:
        return True
    if kind is None or item_id is None:
        return False
    item = _item(kind, item_id)
    return item is not None and item.cycle_id == cycle.id


# --- ownership, "niet filmen" checks and releases ---------------------------------------------


def _traject_item(
    traject_id: int, kind: str, item_id: int
) -> tuple[Traject, Cycle, Recording | Montage] | None:
    found = locate(kind, item_id)
    if found is None or found[0].id != traject_id:
        return None
    return found


def set_item_privacy(
    actor_id: int, traject_id: int, kind: str, item_id: int, form: dict[str, Any],
    launch_id: str | None = None,
) -> None:  # fmt: skip
    """The coach names the filmed team member (team traject) and/or records the check against
    the course's "niet filmen" flags."""
    traject = require(actor_id, traject_id, "manage_consent")
    found = _traject_item(traject_id, kind, item_id)
    if found is None:
        raise Forbidden("manage_consent")
    platform_id = platform_of(traject)
    if "filmed_user_id" in form:
        if traject.kind != KIND_TEAM:
            raise privacy.PrivacyRefused(
                "role", _l("Only in a team traject is the filmed person chosen."), "filmed_user_id"
            )
        filmed = form.get("filmed_user_id")
        if filmed in (None, ""):
            user_id = None
        else:
            user_id = int(filmed) if str(filmed).isdigit() else -1
            if P_TEAM_MEMBER not in roles_in(traject_id, user_id):
                raise privacy.PrivacyRefused(
                    "person", _l("Choose a team member of this traject."), "filmed_user_id"
                )
        row = privacy.footage_privacy(kind, item_id, create=True)
        assert row is not None
        if row.filmed_user_id != user_id:
            # Releases were the previous owner's to give: they end with the change.
            privacy.revoke_releases_of_item(kind, item_id, "owner_changed")
            row.filmed_user_id = user_id
            audit.record(
                audit.FOOTAGE_OWNER, actor_id=actor_id, launch_id=launch_id,
                platform_id=platform_id, traject_id=traject_id, item=(kind, item_id),
                owner_id=user_id,
            )  # fmt: skip
    if "check" in form:
        row = privacy.set_check(kind, item_id, actor_id, form.get("check"), form.get("note", ""))
        audit.record(
            audit.FOOTAGE_CHECK, actor_id=actor_id, launch_id=launch_id, platform_id=platform_id,
            traject_id=traject_id, item=(kind, item_id), detail={"status": row.check_status},
        )  # fmt: skip
    db.session.flush()


def may_release(user_id: int, traject: Traject, kind: str, item: Recording | Montage) -> bool:
    cycle = db.session.get(Cycle, item.cycle_id)
    return (
        cycle is not None
        and owner_of(traject, kind, item) == user_id
        and may_see(user_id, traject, cycle, item)
    )


def release_footage(
    actor_id: int, traject_id: int, form: dict[str, Any], launch_id: str | None = None
) -> Any:
    """The filmed teacher releases one item to a named audience for a number of days."""
    kind = form.get("item_kind")
    raw_id = str(form.get("item_id"))
    item_id = int(raw_id) if raw_id.isdigit() and int(raw_id) <= 2**31 - 1 else 0
    found = _traject_item(traject_id, str(kind), item_id) if kind in ITEM_KINDS else None
    if found is None:
        raise Forbidden("release")
    traject, _cycle, item = found
    if not may_release(actor_id, traject, str(kind), item):
        raise Forbidden("release")
    audience = form.get("audience")
    if not isinstance(audience, str) or not may_release_to(traject.kind, audience):
        raise privacy.PrivacyRefused("audience", _l("Choose who may see it."), "audience")
    participant_id: int | None = None
    raw_participant = form.get("participant_id")
    if raw_participant not in (None, ""):
        participant = db.session.get(
            Participant, int(raw_participant) if str(raw_participant).isdigit() else 0
        )
        if (
            participant is None
            or participant.traject_id != traject.id
            or participant.role != AUDIENCE_ROLE[audience]
        ):
            raise privacy.PrivacyRefused(
                "person", _l("Choose someone of that audience in this traject."), "participant_id"
            )
        participant_id = participant.id
    if traject.kind == KIND_CHILD and scope_for_audience(audience) not in _consent(traject):
        raise privacy.PrivacyRefused(
            "consent", _l("The parents' consent does not cover sharing with this audience.")
        )
    if not privacy.is_cleared(traject.course_id, str(kind), item.id):
        raise privacy.PrivacyRefused(
            "check",
            _l(
                "A pupil who may not be filmed could be recognisable: the coach checks this "
                "recording before it is shared beyond teacher and coach."
            ),
        )
    days = privacy.release_days(form.get("days"))
    release = privacy.new_release(
        traject.id, str(kind), item.id, audience, participant_id, actor_id, days
    )
    audit.record(
        audit.RELEASE_CREATE, actor_id=actor_id, launch_id=launch_id,
        platform_id=platform_of(traject), traject_id=traject.id, item=(str(kind), item.id),
        owner_id=actor_id,
        detail={"release_id": release.id, "audience": audience, "days": days,
                "participant_id": participant_id},
    )  # fmt: skip
    return release


def revoke_release(
    actor_id: int, traject_id: int, release_id: int, launch_id: str | None = None
) -> Any:
    """The filmed teacher (or the coach) ends a release at once."""
    from lti_tool.privacy.models import Release

    release = db.session.get(Release, release_id)
    traject = db.session.get(Traject, traject_id)
    if release is None or traject is None or release.traject_id != traject_id:
        raise Forbidden("release")
    found = _traject_item(traject_id, release.item_kind, release.item_id)
    owner = owner_of(traject, found[0].kind, found[2]) if found else release.released_by_id
    if actor_id not in (owner, release.released_by_id) and not is_coach(actor_id, traject):
        raise Forbidden("release")
    privacy.revoke(
        release, actor_id, "revoked", launch_id=launch_id, platform_id=platform_of(traject)
    )
    return release


def footage_shared_with(user_id: int) -> list[tuple[Traject, Cycle, Recording | Montage]]:
    """Footage released to this person that they may see now (parents, externals, team,
    management), and in team trajects the footage they were filmed in."""
    from lti_tool.privacy.models import FootagePrivacy, Release

    trajects = set(
        db.session.scalars(sa.select(Participant.traject_id).where(Participant.user_id == user_id))
    )
    found: list[tuple[Traject, Cycle, Recording | Montage]] = []
    seen: set[tuple[str, int]] = set()
    for release in db.session.scalars(
        sa.select(Release)
        .where(
            Release.traject_id.in_(trajects or {0}),
            Release.revoked_at.is_(None),
            Release.expires_at > utcnow(),
        )
        .order_by(Release.id)
    ):
        if (release.item_kind, release.item_id) in seen:
            continue
        item = locate(release.item_kind, release.item_id)
        if item is not None and may_see(user_id, *item):
            seen.add((release.item_kind, release.item_id))
            found.append(item)
    for row in db.session.scalars(
        sa.select(FootagePrivacy).where(FootagePrivacy.filmed_user_id == user_id)
    ):
        item = locate(row.item_kind, row.item_id)
        if (row.item_kind, row.item_id) not in seen and item and may_see(user_id, *item):
            seen.add((row.item_kind, row.item_id))
            found.append(item)
    return found
