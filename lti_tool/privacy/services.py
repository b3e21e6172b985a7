"""Consent, "niet filmen" objections, releases, legal holds and the school's privacy policy.

This module knows privacy records only (imports flow cycles -> privacy): who may call these
is decided by the callers through lti_tool.cycles.access / lti_tool.cycles.footage. Services
flush, never commit; the request or task that calls them commits once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from lti_tool.db import db, utcnow
from lti_tool.privacy import audit
from lti_tool.privacy.access import (
    CONSENT_SCOPES,
    MAX_RELEASE_DAYS,
    SCOPE_FILMING,
    scope_for_audience,
)
from lti_tool.privacy.models import (
    CHECKS,
    GIVEN_BY_PARENT,
    GIVEN_BY_PUPIL,
    Consent,
    FootagePrivacy,
    LegalHold,
    Objection,
    PrivacyPolicy,
    Release,
)


class PrivacyRefused(Exception):
    """A privacy step that cannot be taken as asked (422, or 409 for "order")."""

    def __init__(self, code: str, message: object, field: str | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.message = message
        self.field = field


def _text(value: object, field: str, limit: int, required: bool = False) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str) or "\x00" in value:
        raise PrivacyRefused("invalid", _l("This text is not valid."), field)
    value = value.strip()
    if required and not value:
        raise PrivacyRefused("required", _l("This field is required."), field)
    if len(value) > limit:
        raise PrivacyRefused("too_long", _l("This text is too long."), field)
    return value


# --- consent ----------------------------------------------------------------------------------


def consents_of(traject_id: int) -> list[Consent]:
    return list(
        db.session.scalars(
            sa.select(Consent).where(Consent.traject_id == traject_id).order_by(Consent.id)
        )
    )


def consent_scopes(traject_id: int) -> frozenset[str]:
    """The scopes in force: the union of every consent not withdrawn."""
    rows = db.session.scalars(
        sa.select(Consent.scopes).where(
            Consent.traject_id == traject_id, Consent.withdrawn_at.is_(None)
        )
    )
    return frozenset(s for scopes in rows for s in (scopes or []) if s in CONSENT_SCOPES)


def filming_withdrawn_at(traject_id: int) -> datetime | None:
    """When filming consent ended, if it was once given and is no longer in force."""
    if SCOPE_FILMING in consent_scopes(traject_id):
        return None
    withdrawn = [
        c.withdrawn_at
        for c in consents_of(traject_id)
        if SCOPE_FILMING in (c.scopes or []) and c.withdrawn_at is not None
    ]
    return max(withdrawn) if withdrawn else None


def record_consent(
    traject_id: int, actor_id: int, form: dict[str, Any], *, launch_id: str | None = None,
    platform_id: int | None = None,
) -> Consent:  # fmt: skip
    """Record consent as given (on paper, by mail, in a meeting): who, when, for what."""
    given_by = form.get("given_by")
    if given_by not in (GIVEN_BY_PARENT, GIVEN_BY_PUPIL):
        raise PrivacyRefused("given_by", _l("Say who gave consent."), "given_by")
    sixteen = form.get("pupil_is_16_or_older") in (True, "1", "on", "true", "yes")
    # Parents decide for a pupil under 16, the pupil from 16 (AVG art. 8, UAVG art. 5).
    if sixteen and given_by != GIVEN_BY_PUPIL:
        raise PrivacyRefused(
            "given_by", _l("A pupil of 16 or older gives consent themselves."), "given_by"
        )
    if not sixteen and given_by != GIVEN_BY_PARENT:
        raise PrivacyRefused(
            "given_by", _l("For a pupil under 16 the parents give consent."), "given_by"
        )
    raw_scopes = form.get("scopes")
    if isinstance(raw_scopes, str):
        raw_scopes = [raw_scopes]
    if not isinstance(raw_scopes, list) or not raw_scopes:
        raise PrivacyRefused("scopes", _l("Choose what the consent covers."), "scopes")
    scopes = [s for s in CONSENT_SCOPES if s in raw_scopes]
    if len(scopes) != len(set(raw_scopes)):
        raise PrivacyRefused("scopes", _l("Choose what the consent covers."), "scopes")
    raw_date = form.get("given_on")
    try:
        given_on = date.fromisoformat(str(raw_date).strip()) if raw_date else None
    except ValueError:
        given_on = None
    if given_on is None or given_on > utcnow().date():
        raise PrivacyRefused("date", _l("Give the date consent was given."), "given_on")
    note = _text(form.get("evidence_note"), "evidence_note", 4000)
    consent = Consent(
        traject_id=traject_id,
        given_by=given_by,
        given_by_name=_text(form.get("given_by_name"), "given_by_name", 200, required=True),
        pupil_is_16_or_older=sixteen,
        given_on=given_on,
        scopes=scopes,
        evidence_note=note,
        recorded_by_id=actor_id,
    )
    db.session.add(consent)
    db.session.flush()
    audit.record(
        audit.CONSENT_RECORD, actor_id=actor_id, launch_id=launch_id, platform_id=platform_id,
        traject_id=traject_id, item=("consent", consent.id), detail={"scopes": scopes},
    )  # fmt: skip
    return consent


def withdraw_consent(
    traject_id: int, consent_id: int, actor_id: int, note: object = "", *,
    launch_id: str | None = None, platform_id: int | None = None,
) -> tuple[Consent, frozenset[str]]:  # fmt: skip
    """Withdraw one consent; returns it and the scopes no longer in force. Releases that relied
    on a lost scope are revoked in the same unit of work (access ends with this commit)."""
    consent = db.session.get(Consent, consent_id)
    if consent is None or consent.traject_id != traject_id:
        raise PrivacyRefused("not_found", _l("This consent does not exist."))
    if consent.withdrawn_at is not None:
        raise PrivacyRefused("order", _l("This consent has already been withdrawn."))
    before = consent_scopes(traject_id)
    consent.withdrawn_at = utcnow()
    consent.withdrawn_by_id = actor_id
    consent.withdrawal_note = _text(note, "withdrawal_note", 4000)
    db.session.flush()
    lost = before - consent_scopes(traject_id)
    audit.record(
        audit.CONSENT_WITHDRAW, actor_id=actor_id, launch_id=launch_id, platform_id=platform_id,
        traject_id=traject_id, item=("consent", consent.id), detail={"lost": sorted(lost)},
    )  # fmt: skip
    for release in active_releases(traject_id):
        if SCOPE_FILMING in lost or scope_for_audience(release.audience) in lost:
            revoke(release, actor_id, "consent_withdrawn", launch_id=launch_id,
                   platform_id=platform_id)  # fmt: skip
    return consent, lost


def attach_evidence(consent: Consent, key: str, name: str) -> None:
    consent.evidence_key = key
    consent.evidence_name = name[:255]


# --- "niet filmen" ----------------------------------------------------------------------------


def active_objections(course_id: int) -> list[Objection]:
    return list(
        db.session.scalars(
            sa.select(Objection)
            .where(Objection.course_id == course_id, Objection.lifted_at.is_(None))
            .order_by(Objection.id)
        )
    )


def flag_objection(
    course_id: int, actor_id: int, pupil_code: object, note: object = "", *,
    launch_id: str | None = None, platform_id: int | None = None,
) -> Objection:  # fmt: skip
    code = _text(pupil_code, "pupil_code", 64, required=True)
    objection = Objection(
        course_id=course_id,
        pupil_code=code,
        note=_text(note, "note", 2000),
        flagged_by_id=actor_id,
        flagged_at=utcnow(),
    )
    db.session.add(objection)
    db.session.flush()
    audit.record(
        audit.OBJECTION_FLAG, actor_id=actor_id, launch_id=launch_id, platform_id=platform_id,
        item=("objection", objection.id), detail={"course_id": course_id},
    )  # fmt: skip
    return objection


def lift_objection(
    course_id: int, objection_id: int, actor_id: int, *, launch_id: str | None = None,
    platform_id: int | None = None,
) -> Objection:  # fmt: skip
    objection = db.session.get(Objection, objection_id)
    if objection is None or objection.course_id != course_id:
        raise PrivacyRefused("not_found", _l("This objection does not exist."))
    if objection.lifted_at is None:
        objection.lifted_at = utcnow()
        objection.lifted_by_id = actor_id
        audit.record(
            audit.OBJECTION_LIFT, actor_id=actor_id, launch_id=launch_id,
            platform_id=platform_id, item=("objection", objection.id),
            detail={"course_id": course_id},
        )  # fmt: skip
    db.session.flush()
    return objection


def footage_privacy(kind: str, item_id: int, create: bool = False) -> FootagePrivacy | None:
    row = db.session.scalar(
        sa.select(FootagePrivacy).where(
            FootagePrivacy.item_kind == kind, FootagePrivacy.item_id == item_id
        )
    )
    if row is None and create:
        row = FootagePrivacy(item_kind=kind, item_id=item_id)
        db.session.add(row)
        db.session.flush()
    return row


def is_cleared(course_id: int, kind: str, item_id: int) -> bool:
    """No pupil flagged "niet filmen" in the course is recognisable: either none is flagged,
    or the coach confirmed this item "clear" after the latest flag."""
    latest = db.session.scalar(
        sa.select(sa.func.max(Objection.flagged_at)).where(
            Objection.course_id == course_id, Objection.lifted_at.is_(None)
        )
    )
    if latest is None:
        return True
    row = footage_privacy(kind, item_id)
    if row is None or row.check_status != CHECKS[0] or row.checked_at is None:
        return False
    return bool(row.checked_at >= latest)


def set_check(
    kind: str, item_id: int, actor_id: int, status: object, note: object = ""
) -> FootagePrivacy:
    if status not in CHECKS:
        raise PrivacyRefused("status", _l("Choose the outcome of the check."), "status")
    row = footage_privacy(kind, item_id, create=True)
    assert row is not None
    row.check_status = str(status)
    row.check_note = _text(note, "note", 2000)
    row.checked_by_id = actor_id
    row.checked_at = utcnow()
    db.session.flush()
    return row


# --- releases ---------------------------------------------------------------------------------


def active_releases(traject_id: int, now: datetime | None = None) -> list[Release]:
    now = now or utcnow()
    return list(
        db.session.scalars(
            sa.select(Release)
            .where(
                Release.traject_id == traject_id,
                Release.revoked_at.is_(None),
                Release.expires_at > now,
            )
            .order_by(Release.id)
        )
    )


def releases_of(traject_id: int) -> list[Release]:
    return list(
        db.session.scalars(
            sa.select(Release).where(Release.traject_id == traject_id).order_by(Release.id)
        )
    )


def release_days(value: object) -> int:
    try:
        days = int(str(value))
    except (TypeError, ValueError):
        days = 0
    if not 1 <= days <= MAX_RELEASE_DAYS:
        raise PrivacyRefused("days", _l("A release lasts from 1 to 90 days."), "days")
    return days


def new_release(
    traject_id: int, kind: str, item_id: int, audience: str, participant_id: int | None,
    actor_id: int, days: int,
) -> Release:  # fmt: skip
    release = Release(
        traject_id=traject_id,
        item_kind=kind,
        item_id=item_id,
        audience=audience,
        participant_id=participant_id,
        released_by_id=actor_id,
        expires_at=utcnow() + timedelta(days=days),
    )
    db.session.add(release)
    db.session.flush()
    return release


def revoke(
    release: Release, actor_id: int | None, reason: str, *, launch_id: str | None = None,
    platform_id: int | None = None,
) -> None:  # fmt: skip
    if release.revoked_at is not None:
        return
    release.revoked_at = utcnow()
    release.revoked_by_id = actor_id
    release.revoke_reason = reason
    db.session.flush()
    audit.record(
        audit.RELEASE_REVOKE, actor_id=actor_id, launch_id=launch_id, platform_id=platform_id,
        traject_id=release.traject_id, item=(release.item_kind, release.item_id),
        owner_id=release.released_by_id,
        detail={"release_id": release.id, "audience": release.audience, "reason": reason},
    )  # fmt: skip


def revoke_releases_of_item(kind: str, item_id: int, reason: str) -> None:
    for release in db.session.scalars(
        sa.select(Release).where(
            Release.item_kind == kind, Release.item_id == item_id, Release.revoked_at.is_(None)
        )
    ):
        revoke(release, None, reason)


# --- legal holds ------------------------------------------------------------------------------


def held_traject_ids() -> set[int]:
    return set(
        db.session.scalars(sa.select(LegalHold.traject_id).where(LegalHold.lifted_at.is_(None)))
    )


def holds_of(traject_ids: list[int]) -> list[LegalHold]:
    return list(
        db.session.scalars(
            sa.select(LegalHold)
            .where(LegalHold.traject_id.in_(traject_ids or [0]))
            .order_by(LegalHold.id.desc())
        )
    )


def place_hold(
    traject_id: int, actor_id: int, reason: object, *, platform_id: int | None,
    launch_id: str | None = None,
) -> LegalHold:  # fmt: skip
    hold = LegalHold(
        traject_id=traject_id,
        reason=_text(reason, "reason", 2000, required=True),
        placed_by_id=actor_id,
    )
    db.session.add(hold)
    db.session.flush()
    audit.record(
        audit.HOLD_PLACE, actor_id=actor_id, launch_id=launch_id, platform_id=platform_id,
        traject_id=traject_id, item=("hold", hold.id),
    )  # fmt: skip
    return hold


def lift_hold(
    hold: LegalHold, actor_id: int, *, platform_id: int | None, launch_id: str | None = None
) -> None:
    if hold.lifted_at is not None:
        return
    hold.lifted_at = utcnow()
    hold.lifted_by_id = actor_id
    db.session.flush()
    audit.record(
        audit.HOLD_LIFT, actor_id=actor_id, launch_id=launch_id, platform_id=platform_id,
        traject_id=hold.traject_id, item=("hold", hold.id),
    )  # fmt: skip


# --- the school's policy ----------------------------------------------------------------------


@dataclass(frozen=True)
class Policy:
    raw_days_after_share: int | None = 30
    footage_days_after_final: int | None = 30
    coach_downloads: bool = False


DEFAULT_POLICY = Policy()
MAX_DAYS = 3650


def policy_for(platform_id: int | None) -> Policy:
    if platform_id is None:
        return DEFAULT_POLICY
    row = db.session.scalar(
        sa.select(PrivacyPolicy).where(PrivacyPolicy.platform_id == platform_id)
    )
    if row is None:
        return DEFAULT_POLICY
    return Policy(row.raw_days_after_share, row.footage_days_after_final, row.coach_downloads)


def policies() -> dict[int, Policy]:
    return {
        row.platform_id: Policy(
            row.raw_days_after_share, row.footage_days_after_final, row.coach_downloads
        )
        for row in db.session.scalars(sa.select(PrivacyPolicy))
    }


def _days(value: object, field: str) -> int | None:
    if value is None or value == "":
        return None  # the rule is off
    text = str(value).strip()
    if not text.isdigit() or not 0 <= int(text) <= MAX_DAYS:
        raise PrivacyRefused("days", _l("Give a number of days from 0 to 3650."), field)
    return int(text)


def save_policy(
    platform_id: int, actor_id: int, form: dict[str, Any], *, launch_id: str | None = None
) -> Policy:
    row = db.session.scalar(
        sa.select(PrivacyPolicy).where(PrivacyPolicy.platform_id == platform_id)
    )
    if row is None:
        row = PrivacyPolicy(platform_id=platform_id)
        db.session.add(row)
    row.raw_days_after_share = _days(form.get("raw_days_after_share"), "raw_days_after_share")
    row.footage_days_after_final = _days(
        form.get("footage_days_after_final"), "footage_days_after_final"
    )
    row.coach_downloads = form.get("coach_downloads") in (True, "1", "on", "true", "yes")
    row.updated_by_id = actor_id
    row.updated_at = utcnow()
    db.session.flush()
    policy = policy_for(platform_id)
    audit.record(
        audit.POLICY_CHANGE, actor_id=actor_id, launch_id=launch_id, platform_id=platform_id,
        detail={
            "raw_days_after_share": policy.raw_days_after_share,
            "footage_days_after_final": policy.footage_days_after_final,
            "coach_downloads": policy.coach_downloads,
        },
    )  # fmt: skip
    return policy
