"""A course on the test platform with its services (AGS, NRPS, OAuth2 tokens) and its people.

Everyone launches for real, with the AGS and NRPS claims Moodle sends; the platform answers the
tool's service calls over HTTP. Tasks are called directly (a worker adds nothing here), after the
commit that a request or a step would make.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from flask import Flask
from flask_babel import force_locale, gettext

from lti_tool.db import db
from lti_tool.people.models import Course, Membership, User
from tests.lti_platform import INSTRUCTOR, LEARNER, Person, TestPlatform, browser


@dataclass
class Someone:
    user_id: int
    sub: str
    session: requests.Session  # carries the session cookie, as a browser would
    token: str  # the launch token the person's pages put in their forms

    @property
    def user(self) -> User:
        user = db.session.get(User, self.user_id)
        assert user is not None
        return user


def member(sub: str, roles: list[str], name: str, status: str = "Active") -> dict[str, Any]:
    """A roster entry as NRPS sends it."""
    given, _, family = name.partition(" ")
    return {
        "user_id": sub,
        "roles": roles,
        "status": status,
        "name": name,
        "given_name": given,
        "family_name": family,
    }


def launch(
    platform: TestPlatform,
    sub: str,
    roles: list[str],
    name: str,
    mutate: Callable[[dict[str, Any]], None] | None = None,
    services: bool = True,
) -> Someone:
    """A real launch carrying the course's service claims, then the start page."""

    def with_services(body: dict[str, Any]) -> None:
        if services:
            body.update(platform.service_claims())
        if mutate is not None:
            mutate(body)

    result = platform.launch(Person(sub=sub, roles=roles, name=name), mutate=with_services)
    assert result.status == 303, result.response.text[:400]
    session = browser()
    start = session.get(result.response.headers["Location"], timeout=10)
    assert start.status_code == 200, start.text[:400]
    token = re.search(r'(?:data-api-token|name="launch_token" value)="([^"]+)"', start.text)
    db.session.rollback()  # see the server's commit
    user_id = db.session.scalar(
        sa.select(User.id).where(User.issuer == platform.issuer, User.sub == sub)
    )
    assert user_id is not None and token is not None
    return Someone(user_id, sub, session, token.group(1))


@dataclass
class School:
    platform: TestPlatform
    coach: Someone
    teacher: Someone
    course_id: int
    app: Flask

    @property
    def course(self) -> Course:
        course = db.session.get(Course, self.course_id)
        assert course is not None
        return course


@pytest.fixture
def school(platform: TestPlatform, app_ctx: Flask) -> School:
    """A coach and a teacher of one course, both on the platform's roster, both launched."""
    platform.members["course-1"] = [
        member("coach-1", [INSTRUCTOR], "Sanne de Vries"),
        member("teacher-1", [LEARNER], "Jeroen Bakker"),
    ]
    coach = launch(platform, "coach-1", [INSTRUCTOR], "Sanne de Vries")
    teacher = launch(platform, "teacher-1", [LEARNER], "Jeroen Bakker")
    course_id = db.session.scalar(
        sa.select(Membership.course_id).where(Membership.user_id == coach.user_id)
    )
    assert course_id is not None
    return School(platform, coach, teacher, course_id, app_ctx)


def nl(app: Flask, msgid: str, **values: Any) -> str:
    """The Dutch the tool shows for an English source string (whatever the catalogue holds)."""
    with app.test_request_context(), force_locale("nl"):
        return gettext(msgid, **values)


def form_token(page: requests.Response) -> str:
    match = re.search(r'name="launch_token" value="([^"]+)"', page.text)
    assert match is not None, page.text[:1000]
    return match.group(1)
