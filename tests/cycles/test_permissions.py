"""The permission matrix: participant role x traject kind x action, plus outsiders guessing ids.

The expected policy is written out here on its own, not derived from the rules it checks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from lti_tool.cycles import access
from lti_tool.cycles.models import Traject
from lti_tool.cycles.services import add_participant, create_traject
from lti_tool.db import db
from lti_tool.people.models import Course, User
from lti_tool.privacy.access import ACTIONS, Forbidden
from lti_tool.privacy.services import record_consent

COACH, TEACHER, MGMT, MEMBER = "coach", "teacher", "management", "team_member"
PARENT, EXTERNAL = "parent", "external"
# People who take no part: another teacher and another coach of the same course, and a
# school administrator.
OUTSIDERS = ("other_teacher", "other_coach", "admin")

TEAM = "team"
EXPECTED: dict[str, dict[str, set[str]]] = {
    "view": {"*": {COACH, TEACHER, MGMT, MEMBER}},
    # Who may be shown footage at all; per item: tests/privacy/test_footage_matrix.py.
    "view_footage": {"*": {COACH, TEACHER}, TEAM: {COACH}},
    "edit_intake": {"*": {COACH, TEACHER}, TEAM: {COACH, MGMT}},
    "approve_question": {"*": {TEACHER}, TEAM: {MGMT}},
    "manage_participants": {"*": {COACH}},
    "coach_step": {"*": {COACH}},
    "fill_viewing_guide": {"*": {TEACHER}, TEAM: {MEMBER}},
    "conversation": {"*": {COACH, TEACHER}, TEAM: {COACH, MEMBER}},
    "prepare_final": {"*": {COACH, TEACHER}, TEAM: {COACH, MGMT}},
    "conclude_final": {"*": {COACH}},
    "view_report": {"*": {COACH, TEACHER, MGMT}},
    "manage_consent": {"*": {COACH}},
    "view_consent": {"*": {COACH, TEACHER}},
}
ROLES_BY_KIND = {
    "teacher": (COACH, TEACHER),
    "team": (COACH, MGMT, MEMBER),
    "child": (COACH, TEACHER, PARENT, EXTERNAL),
}


def test_matrix_covers_every_action() -> None:
    assert set(EXPECTED) == set(ACTIONS)


@pytest.fixture
def cast(course: Course, create_user: Callable[..., User]) -> Callable[[str], dict[str, Any]]:
    """A traject of the given kind with one person per role, and the outsiders."""

    def build(kind: str) -> dict[str, Any]:
        coach = create_user("Coach", "coach")
        teacher = create_user("Leerkracht")
        traject = create_traject(
            course.id,
            coach.id,
            kind,
            f"{kind} traject",
            teacher_id=None if kind == TEAM else teacher.id,
            pupil_code="L-07" if kind == "child" else None,
        )
        # In a team traject the teacher takes no part (team members do): an outsider there.
        people: dict[str, User] = {COACH: coach, TEACHER: teacher}
        if kind == "child":  # externals join only under the parents' consent
            record_consent(traject.id, coach.id, {
                "given_by": "parent", "given_by_name": "Ouder", "given_on": "2026-01-05",
                "scopes": ["filming", "teacher", "external"],
            })  # fmt: skip
        for role in ROLES_BY_KIND[kind]:
            if role not in people:
                person = create_user(role)
                add_participant(coach.id, traject.id, role, person.id)
                people[role] = person
        people["other_teacher"] = create_user("Andere leerkracht")
        people["other_coach"] = create_user("Andere coach", "coach")
        people["admin"] = create_user("Beheerder", "admin")
        return {"traject": traject, "people": people}

    return build


@pytest.mark.parametrize("kind", ["teacher", "team", "child"])
def test_permission_matrix(cast: Callable[[str], dict[str, Any]], kind: str) -> None:
    built = cast(kind)
    traject: Traject = built["traject"]
    checked = 0
    for who, person in built["people"].items():
        for action, rule in EXPECTED.items():
            allowed_roles = rule.get(kind, rule["*"])
            # Allowed only for someone who holds that role in this traject.
            expected = who in allowed_roles and who in ROLES_BY_KIND[kind]
            actual = access.can(person.id, traject, action)
            assert actual == expected, f"{kind}: {who} {action}: expected {expected}"
            if not expected:
                with pytest.raises(Forbidden):
                    access.require(person.id, traject.id, action)
            checked += 1
    assert checked == len(built["people"]) * len(EXPECTED)


def test_guessing_another_trajects_id(cast: Callable[[str], dict[str, Any]]) -> None:
    first, second = cast("teacher"), cast("teacher")
    intruder = first["people"][TEACHER]
    with pytest.raises(Forbidden):
        access.require(intruder.id, second["traject"].id, "view")
    with pytest.raises(Forbidden):  # a traject that does not exist looks the same
        access.require(intruder.id, 10_000_000, "view")


def test_overviews_list_only_own_trajects(
    cast: Callable[[str], dict[str, Any]], create_user: Callable[..., User]
) -> None:
    mine, other = cast("teacher"), cast("child")
    teacher = mine["people"][TEACHER]
    listed = db.session.scalars(access.visible_trajects(teacher.id)).all()
    assert [t.id for t in listed] == [mine["traject"].id]
    admin = mine["people"]["admin"]
    assert db.session.scalars(access.visible_trajects(admin.id)).all() == []
    parent = other["people"][PARENT]
    assert db.session.scalars(access.visible_trajects(parent.id)).all() == []
