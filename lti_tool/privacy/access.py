"""Who may do what with a traject: the one place where access is decided.

Access follows participation in a traject, never the platform role alone: a teacher sees only
trajects they take part in, a coach only the trajects they coach, an administrator none unless
also a participant. This module knows roles and rules only (imports flow cycles -> privacy);
`lti_tool.cycles.access` looks up a person's roles and asks here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

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

# Parents and externals never see a traject's pages: they see only footage released to them
# by the filmed teacher, and only under the parents' consent (footage_decision below).
RESTRICTED = frozenset({P_PARENT, P_EXTERNAL})

# Consent scopes (recorded per child traject, for its pupil).
SCOPE_FILMING = "filming"
SCOPE_TEACHER = "teacher"
SCOPE_PARENTS = "parents"
SCOPE_TEAM = "team"
SCOPE_EXTERNAL = "external"
CONSENT_SCOPES = (SCOPE_FILMING, SCOPE_TEACHER, SCOPE_PARENTS, SCOPE_TEAM, SCOPE_EXTERNAL)

# Release audiences: the participant role each names, and the kinds of traject they exist in.
AUDIENCE_TEAM = "team"
AUDIENCE_MANAGEMENT = "management"
AUDIENCE_PARENTS = "parents"
AUDIENCE_EXTERNAL = "external"
AUDIENCE_ROLE = {
    AUDIENCE_TEAM: P_TEAM_MEMBER,
    AUDIENCE_MANAGEMENT: P_MANAGEMENT,
    AUDIENCE_PARENTS: P_PARENT,
    AUDIENCE_EXTERNAL: P_EXTERNAL,
}
AUDIENCES_BY_KIND = {
    KIND_TEACHER: (),  # a teacher traject has no one else to release to
    KIND_TEAM: (AUDIENCE_TEAM, AUDIENCE_MANAGEMENT),
    KIND_CHILD: (AUDIENCE_PARENTS, AUDIENCE_EXTERNAL),
}
# Child traject: the consent scope each viewer of the pupil's footage needs. The coach films
# (filming), the teacher sees it (teacher), parents and externals only what is released to
# them (parents, external).
SCOPE_FOR_ROLE = {
    P_COACH: SCOPE_FILMING,
    P_TEACHER: SCOPE_TEACHER,
    P_PARENT: SCOPE_PARENTS,
    P_EXTERNAL: SCOPE_EXTERNAL,
    P_TEAM_MEMBER: SCOPE_TEAM,
    P_MANAGEMENT: SCOPE_TEAM,
}
MAX_RELEASE_DAYS = 90

_ANY = "*"
# action -> {traject kind or "*": participant roles allowed}
RULES: dict[str, dict[str, frozenset[str]]] = {
    # The traject's page: steps, dates and texts (not footage).
    "view": {_ANY: frozenset({P_COACH, P_TEACHER, P_MANAGEMENT, P_TEAM_MEMBER})},
    # Footage by default: the filmed teacher and the coach. In a team traject nobody but the
    # coach: a team member sees the footage the coach names them filmed in, and anyone else
    # only fragments released to them (footage_decision below decides per item; those are
    # listed under "my data", not on the traject's page).
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
    # Consent (child traject), "niet filmen" checks and naming the filmed team member: the
    # coach records; the coach and the teacher read the consent on file.
    "manage_consent": {_ANY: frozenset({P_COACH})},
    "view_consent": {_ANY: frozenset({P_COACH, P_TEACHER})},
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


@dataclass(frozen=True)
class FootageFacts:
    """What the footage decision needs to know about one person and one recording or montage;
    gathered by lti_tool.cycles.footage, decided here."""

    kind: str  # the traject's kind
    roles: frozenset[str]  # the person's roles in the traject
    is_owner: bool  # the person is the filmed teacher of this item
    is_montage: bool
    cycle_shared: bool  # the coach shared the cycle with the teacher
    montage_shared: bool  # a montage is shared with its cycle (recordings: True)
    released_to: bool  # an active, unexpired release of this item names the person
    consent: frozenset[str]  # scopes in force (child traject; others: every scope)
    cleared: bool  # no "niet filmen" pupil recognisable (or none flagged in the course)


def footage_decision(f: FootageFacts) -> bool:
    """May this person see this recording or montage? Asked on every page, listing, still
    and byte-range request.

    - Nobody outside the traject; an administrator is nobody here.
    - Child traject: nobody at all without the filming consent; each viewer needs the consent
      scope for their role (withdrawal ends access at once).
    - The coach sees everything of their traject.
    - The filmed teacher sees their own footage once the coach has shared the cycle (montages:
      shared with it). In a team traject that is the team member the coach named as filmed.
    - Anyone else only what the filmed teacher released to them, unexpired and unrevoked, and
      only when no pupil flagged "niet filmen" is recognisable in it.
    """
    roles = f.roles
    if not roles:
        return False
    if f.kind == KIND_CHILD and SCOPE_FILMING not in f.consent:
        return False

    def consented(role: str) -> bool:
        return f.kind != KIND_CHILD or SCOPE_FOR_ROLE.get(role, "") in f.consent

    if P_COACH in roles:
        return True
    visible_to_teacher = f.cycle_shared and (f.montage_shared or not f.is_montage)
    owner_roles = roles & allowed_roles(f.kind, "view_footage") - {P_COACH}
    if f.kind == KIND_TEAM:
        owner_roles = roles & {P_TEAM_MEMBER} if f.is_owner else frozenset()
    if visible_to_teacher and any(consented(r) for r in owner_roles):
        return True
    if not (f.released_to and f.cleared and visible_to_teacher):
        return False
    audience_roles = roles & set(AUDIENCE_ROLE.values())
    return any(consented(r) for r in audience_roles)


def may_release_to(kind: str, audience: str) -> bool:
    return audience in AUDIENCES_BY_KIND.get(kind, ())


def scope_for_audience(audience: str) -> str:
    return SCOPE_FOR_ROLE[AUDIENCE_ROLE[audience]]
