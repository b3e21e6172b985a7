"""A launch's claims as a small frozen object, and the LTI -> Beeldcoach role mapping."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lti_tool.people.models import ROLE_ADMIN, ROLE_COACH, ROLE_TEACHER

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
DL_CLAIM = "https://purl.imsglobal.org/spec/lti-dl/claim/"

_MEMBERSHIP = "http://purl.imsglobal.org/vocab/lis/v2/membership#"
_COACH_ROLES = {_MEMBERSHIP + "Instructor", _MEMBERSHIP + "TeachingAssistant"}
# Sub-roles that teach (Canvas sends membership/Instructor#TeachingAssistant); graders, guest
# and external instructors do not coach.
_INSTRUCTOR_SUB = "http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#"
_COACH_SUBROLES = {
    _INSTRUCTOR_SUB + name
    for name in ("TeachingAssistant", "PrimaryInstructor", "SecondaryInstructor", "Lecturer")
}
_TEACHER_ROLES = {_MEMBERSHIP + "Learner"}
_TEACHER_SUBROLES = {"http://purl.imsglobal.org/vocab/lis/v2/membership/Learner#Learner"}
_ADMIN_ROLES = {
    "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Administrator",
    "http://purl.imsglobal.org/vocab/lis/v2/system/person#Administrator",
}
# LTI 1.1-style short names some platforms still send in the 1.3 roles claim.
_SHORT = {"Instructor": ROLE_COACH, "TeachingAssistant": ROLE_COACH, "Learner": ROLE_TEACHER}


def map_roles(lti_roles: list[str]) -> list[str]:
    """Beeldcoach roles for the LTI roles of a launch; course roles decide coach vs teacher.

    Canvas sends institution roles even to students, so only Administrator institution/system
    roles count, and only for the admin role.
    """
    result: set[str] = set()
    for role in lti_roles:
        if role in _COACH_ROLES or role in _COACH_SUBROLES:
            result.add(ROLE_COACH)
        elif role in _TEACHER_ROLES or role in _TEACHER_SUBROLES:
            result.add(ROLE_TEACHER)
        elif role in _ADMIN_ROLES:
            result.add(ROLE_ADMIN)
        elif role in _SHORT:
            result.add(_SHORT[role])
    if ROLE_COACH in result:
        # Someone who can manage the activity coaches; they are not also a coached teacher.
        result.discard(ROLE_TEACHER)
    return sorted(result)


@dataclass(frozen=True)
class LaunchClaims:
    issuer: str
    client_id: str
    deployment_id: str
    sub: str
    message_type: str
    lti_roles: tuple[str, ...]
    roles: tuple[str, ...]
    name: str | None
    given_name: str | None
    family_name: str | None
    email: str | None
    locale: str | None
    context_id: str | None
    context_title: str | None
    context_label: str | None
    resource_link_id: str | None
    target_link_uri: str | None
    custom: dict[str, Any]

    @property
    def is_deep_linking(self) -> bool:
        return self.message_type == "LtiDeepLinkingRequest"

    @classmethod
    def from_body(cls, body: dict[str, Any], client_id: str) -> LaunchClaims:
        context = body.get(CLAIM + "context")
        context = context if isinstance(context, dict) else {}
        link = body.get(CLAIM + "resource_link")
        link = link if isinstance(link, dict) else {}
        raw_roles = body.get(CLAIM + "roles")
        lti_roles = (
            [r for r in raw_roles if isinstance(r, str)] if isinstance(raw_roles, list) else []
        )
        custom = body.get(CLAIM + "custom") or {}
        presentation = body.get(CLAIM + "launch_presentation")
        presentation = presentation if isinstance(presentation, dict) else {}
        return cls(
            issuer=body["iss"],
            client_id=client_id,
            deployment_id=body[CLAIM + "deployment_id"],
            sub=str(body["sub"]),
            message_type=body.get(CLAIM + "message_type", ""),
            lti_roles=tuple(lti_roles),
            roles=tuple(map_roles(lti_roles)),
            name=_text(body.get("name")),
            given_name=_text(body.get("given_name")),
            family_name=_text(body.get("family_name")),
            email=_text(body.get("email")),
            locale=_text(body.get("locale")) or _text(presentation.get("locale")),
            context_id=str(context["id"]) if context.get("id") is not None else None,
            context_title=_text(context.get("title")),
            context_label=_text(context.get("label")),
            resource_link_id=str(link["id"]) if link.get("id") is not None else None,
            target_link_uri=body.get(CLAIM + "target_link_uri"),
            custom=custom if isinstance(custom, dict) else {},
        )


def _text(value: object) -> str | None:
    """A claim that should be a string: anything else is treated as absent."""
    return value if isinstance(value, str) and value else None
