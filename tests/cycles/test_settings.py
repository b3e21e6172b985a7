"""Kijkwijzer templates per school and per traject, and the editable tag set."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from lti_tool.cycles import services as s
from lti_tool.cycles.tags import STARTER_TAGS, TagRefused, active_tags, save_tags
from lti_tool.cycles.viewing_guides import (
    STARTER_TEMPLATE,
    AnswerRefused,
    save_school_template,
    save_traject_template,
    school_template,
    template_for,
)
from lti_tool.people.models import Course, User
from lti_tool.people.services import course_members
from lti_tool.privacy.access import Forbidden


def test_school_then_traject_template(course: Course, create_user: Callable[..., User]) -> None:
    coach, teacher = create_user("C", "coach"), create_user("T")
    traject = s.create_traject(course.id, coach.id, "teacher", "T", teacher.id)
    assert template_for(traject) == STARTER_TEMPLATE
    school = [{"kind": "text", "label": "Wat valt je op?"}]
    save_school_template(course.platform_id, school)
    assert school_template(course.platform_id)[0]["label"] == "Wat valt je op?"
    assert template_for(traject)[0]["key"] == "q1"
    save_traject_template(
        coach.id, traject.id, [{"kind": "scale", "label": "Rust", "scale": [1, 3]}]
    )
    assert template_for(traject)[0]["kind"] == "scale"
    with pytest.raises(Forbidden):
        save_traject_template(teacher.id, traject.id, school)
    with pytest.raises(AnswerRefused):
        save_school_template(course.platform_id, [{"kind": "checklist", "label": "Kies"}])
    with pytest.raises(AnswerRefused):
        save_school_template(course.platform_id, [])


def test_tag_set(course: Course) -> None:
    assert active_tags(course.platform_id) == list(STARTER_TAGS)
    saved = save_tags(course.platform_id, ["Initiatief", " Humor ", "Initiatief", ""])
    assert saved == ["Initiatief", "Humor"]
    with pytest.raises(TagRefused):
        save_tags(course.platform_id, ["  "])


def test_course_members(course: Course, create_user: Callable[..., User]) -> None:
    coach, teacher = create_user("Coach", "coach"), create_user("Leerkracht")
    assert [u.id for u in course_members(course.id, "teacher")] == [teacher.id]
    assert {u.id for u in course_members(course.id)} == {coach.id, teacher.id}
