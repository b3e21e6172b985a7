"""Who may do what with a traject: the one place where access is decided.

Access follows participation in a traject, never the platform role alone: a teacher sees only
trajects they take part in, a coach only the trajects they coach, an administrator none unless
also a participant. This module knows roles and rules only (imports flow cycles -> privacy);
`lti_tool.cycles.access` looks up a person's roles and asks here.
"""

from __future__ import annotations

from collections.abc import Iterable

# Traject kinds.
KIND_TEACHER = "teacher"
KIND_TEAM = "team"
KIND_CHILD = "child"
KINDS = (KIND_TEACHER, KIND_TEAM, KIND_CHILD)

# Roles of a participant within one traject.
P_COACH = "coach"
P_TEACHER = "teacher"  # the coached (filmed) teacher; in a child traject, the pupil's teacher
P_MANAGEMENT = "management"  # school management in a team traject: outcomes, not footage
P_TEAM_MEMBER = "team_member"
P_PARENT = "parent"  # child traject; rights come with consent (privacy issue)
P_EXTERNAL = "external"  # child traject; nothing until the parents consented (privacy issue)
PARTICIPANT_ROLES = (P_COACH, P_TEACHER, P_MANAGEMENT, P_TEAM_MEMBER, P_PARENT, P_EXTERNAL)

# Parents and externals are participants with no rights yet: the consent and release rules of
# the privacy issue grant them specific views. Until then they are refused everything.
RESTRICTED = frozenset({P_PARENT, P_EXTERNAL})

_ANY = "*"
# action -> {traject kind or "*": participant roles allowed}
RULES: dict[str, dict[str, frozenset[str]]] = {
    # The traject's page: steps, dates and texts (not footage).
    "view": {_ANY: frozenset({P_COACH, P_TEACHER, P_MANAGEMENT, P_TEAM_MEMBER})},
    # Footage: the filmed teacher and the coach. In a team traject nobody but the coach until
    # the filmed teacher releases a fragment (release rules: privacy issue).
    "view_footage": {_ANY: frozenset({P_COACH, P_TEACHER}), KIND_TEAM: frozenset({P_COACH})},
    "edit_intake": {
        _ANY: frozenset({P_COACH, P_TEACHER}),
        KIND_TEAM: frozenset({P_COACH, P_MANAGEMENT}),
    },
    # The teacher leads: they write or approve their development question. In a team traject
    # school management states the help question with the team.
    "approve_question": {_ANY: frozenset({P_TEACHER}), KIND_TEAM: frozenset({P_MANAGEMENT})},
    "manage_participants": {_ANY: frozenset({P_COACH})},
    # Recording, analysis, sharing, closing a cycle, adding one, closing early.
    "coach_step": {_ANY: frozenset({P_COACH})},
    "fill_viewing_guide": {_ANY: frozenset({P_TEACHER}), KIND_TEAM: frozenset({P_TEAM_MEMBER})},
    # The coaching conversation: notes, markers, action points.
    "conversation": {
        _ANY: frozenset({P_COACH, P_TEACHER}),
        KIND_TEAM: frozenset({P_COACH, P_TEAM_MEMBER}),
    },
    "prepare_final": {
        _ANY: frozenset({P_COACH, P_TEACHER}),
        KIND_TEAM: frozenset({P_COACH, P_MANAGEMENT}),
    },
    "conclude_final": {_ANY: frozenset({P_COACH})},
    "view_report": {_ANY: frozenset({P_COACH, P_TEACHER, P_MANAGEMENT})},
}
ACTIONS = tuple(RULES)


class Forbidden(Exception):
    """The person may not do this (pages answer 403, the API a JSON 403)."""

    def __init__(self, action: str) -> None:
        super().__init__(action)
        self.action = action


def allowed_roles(kind: str, action: str) -> frozenset[str]:
    rule = RULES[action]
    return rule.get(kind, rule[_ANY])


def is_allowed(roles: Iterable[str], kind: str, action: str) -> bool:
    """The decision: may someone holding these roles in a traject of this kind do this?"""
    return bool((set(roles) - RESTRICTED) & allowed_roles(kind, action))


def viewing_roles() -> frozenset[str]:
    return RULES["view"][_ANY] - RESTRICTED
